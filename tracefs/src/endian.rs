//! Byte order of recorded kernel data, and bounds-checked integer reads.
//!
//! Live data is in the host's order, but fixtures and trace.dat files from
//! other machines (32-bit ARM, big-endian hosts) are not, so every decoder
//! takes an [`Endian`] instead of assuming the host's.

/// Byte order of the kernel that wrote the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Least significant byte first (x86, most ARM).
    Little,
    /// Most significant byte first (s390x, some PowerPC and MIPS).
    Big,
}

impl Endian {
    /// The byte order of the machine ftr runs on.
    pub const fn host() -> Endian {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// Reads a u16 at `off`, or `None` when it would run past the end.
    #[inline]
    pub fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    /// Reads a u32 at `off`, or `None` when it would run past the end.
    #[inline]
    pub fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    /// Reads a u64 at `off`, or `None` when it would run past the end.
    #[inline]
    pub fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }

    /// Reads an unsigned integer of `size` bytes (1, 2, 4 or 8) at `off`,
    /// zero-extended; `None` for other sizes or when out of bounds.
    #[inline]
    pub fn uint(self, b: &[u8], off: usize, size: usize) -> Option<u64> {
        match size {
            1 => b.get(off).map(|&v| u64::from(v)),
            2 => self.u16(b, off).map(u64::from),
            4 => self.u32(b, off).map(u64::from),
            8 => self.u64(b, off),
            _ => None,
        }
    }

    /// Reads a signed integer of `size` bytes (1, 2, 4 or 8) at `off`,
    /// sign-extended; `None` for other sizes or when out of bounds.
    #[inline]
    pub fn int(self, b: &[u8], off: usize, size: usize) -> Option<i64> {
        let v = self.uint(b, off, size)?;
        Some(match size {
            1 => i64::from(v as u8 as i8),
            2 => i64::from(v as u16 as i16),
            4 => i64::from(v as u32 as i32),
            _ => v as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_orders_and_refuses_out_of_bounds() {
        let b = [0x01, 0x02, 0x03, 0x04, 0xff];
        assert_eq!(Endian::Little.u32(&b, 0), Some(0x0403_0201));
        assert_eq!(Endian::Big.u32(&b, 0), Some(0x0102_0304));
        assert_eq!(Endian::Little.u32(&b, 2), None);
        assert_eq!(Endian::Little.int(&b, 4, 1), Some(-1));
        assert_eq!(Endian::Little.uint(&b, 4, 1), Some(255));
        assert_eq!(Endian::Little.uint(&b, 0, 3), None);
        assert_eq!(Endian::Little.u64(&b, usize::MAX), None);
    }
}
