//! A bounds-checked cursor over the bytes of a trace.dat file.

use super::error::{Result, TraceDatError};
use crate::Endian;

/// Reads integers in the file's byte order and NUL-terminated strings,
/// reporting the absolute file offset of anything that runs past the end.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// File offset of `buf[0]` (non-zero for decompressed blocks).
    base: u64,
    pub(crate) endian: Endian,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], endian: Endian) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            base: 0,
            endian,
        }
    }

    pub(crate) fn with_base(buf: &'a [u8], endian: Endian, base: u64) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            base,
            endian,
        }
    }

    /// Absolute file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn seek(&mut self, pos: u64, what: &'static str) -> Result<()> {
        match usize::try_from(pos) {
            Ok(p) if p <= self.buf.len() => {
                self.pos = p;
                Ok(())
            }
            _ => Err(TraceDatError::Invalid {
                what: format!(
                    "{what} at offset {pos} lies past the end ({} bytes)",
                    self.buf.len()
                ),
                offset: self.offset(),
            }),
        }
    }

    pub(crate) fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        let short = || TraceDatError::Truncated {
            what,
            offset: self.offset(),
            need: n,
        };
        let n = usize::try_from(n).map_err(|_| short())?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(short)?;
        let b = &self.buf[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(self.endian.u16(b, 0).unwrap_or(0))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(self.endian.u32(b, 0).unwrap_or(0))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        let b = self.bytes(8, what)?;
        Ok(self.endian.u64(b, 0).unwrap_or(0))
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<&'a str> {
        let rest = &self.buf[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == 0) else {
            return Err(TraceDatError::Truncated {
                what,
                offset: self.offset(),
                need: rest.len() as u64 + 1,
            });
        };
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| TraceDatError::Invalid {
            what: format!("{what} is not UTF-8"),
            offset: self.offset(),
        })?;
        self.pos += n + 1;
        Ok(s)
    }

    /// `size` bytes of text, lossily UTF-8.
    pub(crate) fn text(&mut self, size: u64, what: &'static str) -> Result<String> {
        let b = self.bytes(size, what)?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    pub(crate) fn expect(&mut self, lit: &[u8], what: &'static str) -> Result<()> {
        let at = self.offset();
        let b = self.bytes(lit.len() as u64, what)?;
        if b != lit {
            return Err(TraceDatError::Invalid {
                what: format!("expected {what} {:?}, found {:?}", lossy(lit), lossy(b)),
                offset: at,
            });
        }
        Ok(())
    }
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
