//! Walking the records of one sub-buffer: [`Events`] and [`RawEvent`].

use super::PageError;
use crate::endian::Endian;

/// `RINGBUF_TYPE_DATA_TYPE_LEN_MAX`: `type_len` 1..=28 is a data record of
/// `type_len * 4` bytes.
const TYPE_LEN_DATA_MAX: u8 = 28;
/// `RINGBUF_TYPE_PADDING`: a discarded event, or filler to the end of the page.
const TYPE_PADDING: u8 = 29;
/// `RINGBUF_TYPE_TIME_EXTEND`: a delta too large for 27 bits.
const TYPE_TIME_EXTEND: u8 = 30;
// 31, `RINGBUF_TYPE_TIME_STAMP`, is an absolute time stamp (4.17+); it is
// the only value left after the others.

/// Width of `time_delta`; `array[0]` of time records holds the bits above it.
const TS_SHIFT: u32 = 27;

/// Absolute time stamps carry only 59 bits; the 5 MSBs (set by 64-bit clocks
/// such as TAI) come from the running time stamp. libtraceevent `TS_MSB`,
/// commit 244b121 "kbuffer: Handle 64 bit timestamp event".
const TS_MSB: u64 = 0xf8 << 56;

/// Size of the record header and of `array[0]`.
const WORD: usize = 4;

/// One data record of a sub-buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// Absolute timestamp: the page's `time_stamp` plus all deltas so far (or
    /// the last absolute time stamp plus the deltas after it), in the units of
    /// the instance's `trace_clock`.
    pub ts: u64,
    /// The event record, starting at `common_type`. Its length is rounded up
    /// to 4 bytes by the ring buffer, so it may end with padding; decode
    /// fields by their offsets in the event's format file.
    pub payload: &'a [u8],
}

impl RawEvent<'_> {
    /// The event's `common_type` (its ID in `events/SYS/NAME/id`): the u16 at
    /// the start of every payload. `None` if the payload is shorter than 2
    /// bytes.
    #[inline]
    pub fn common_type(&self, endian: Endian) -> Option<u16> {
        endian.u16(self.payload, 0)
    }
}

/// Iterator over the data records of a [`super::Page`], made by
/// [`super::Page::events`].
///
/// Decodes each record header the way `kbuffer-parse.c` does
/// (`translate_data`):
///
/// | `type_len` | record | size |
/// |---|---|---|
/// | 1..=28 | data, payload at `array[0]` | `4 + type_len * 4` |
/// | 0 | data, `array[0]` = payload length + 4, payload at `array[1]` | `4 + array[0]` (payload rounded up to 4) |
/// | 29, delta 0 | filler up to the end of the page: iteration stops | — |
/// | 29, delta ≠ 0 | discarded event, skipped | `4 + array[0]` (`rb_event_length`) |
/// | 30 | time extend: adds `array[0] << 27 \| delta` | 8 |
/// | 31 | absolute time stamp: sets ts to `array[0] << 27 \| delta`, 5 MSBs from the running ts | 8 |
///
/// Every delta, including a discarded event's, is added to the running
/// timestamp: the writer measured the next delta from it (libtraceevent
/// does the same; the kernel's own reader skips it, off by at most the
/// discarded event's delta).
///
/// Yields `Err` once for the first record that runs past the committed data
/// or has an impossible length, then stops. Every record advances at least 4
/// bytes, so the iteration always ends.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    data: &'a [u8],
    /// Offset in `data` of the next record; `data.len()` once finished.
    pos: usize,
    /// Offset of `data` in the sub-buffer, for error messages.
    base: usize,
    ts: u64,
    endian: Endian,
}

impl<'a> Events<'a> {
    pub(super) fn new(data: &'a [u8], base: usize, ts: u64, endian: Endian) -> Events<'a> {
        Events {
            data,
            pos: 0,
            base,
            ts,
            endian,
        }
    }

    /// Offset from the start of the sub-buffer of the next record to decode
    /// (just past the committed data once the iteration has ended).
    pub fn position(&self) -> usize {
        self.base + self.pos
    }

    /// The running timestamp: that of the last record decoded, or the page's
    /// `time_stamp` before the first.
    pub fn timestamp(&self) -> u64 {
        self.ts
    }

    /// Ends the iteration and builds the error for a record at `self.pos`.
    #[cold]
    fn past_commit(&mut self, type_len: u8, need: u64) -> PageError {
        let err = PageError::RecordPastCommit {
            offset: self.base + self.pos,
            type_len,
            need,
            end: self.base + self.data.len(),
        };
        self.pos = self.data.len();
        err
    }

    #[cold]
    fn bad_length(&mut self, type_len: u8, length: u32) -> PageError {
        let err = PageError::BadLength {
            offset: self.base + self.pos,
            type_len,
            length,
        };
        self.pos = self.data.len();
        err
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<RawEvent<'a>, PageError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // `pos` never exceeds `data.len()`; `get` returns None otherwise.
            let rest = self.data.get(self.pos..)?;
            if rest.is_empty() {
                return None;
            }
            let Some(word) = self.endian.u32(rest, 0) else {
                let err = PageError::HeaderPastCommit {
                    offset: self.base + self.pos,
                    end: self.base + self.data.len(),
                };
                self.pos = self.data.len();
                return Some(Err(err));
            };
            // The header is a C bitfield { type_len:5, time_delta:27 }, so
            // which end type_len sits at follows the byte order (kbuffer
            // `type_len4host` / `ts4host`).
            let (type_len, delta) = match self.endian {
                Endian::Little => ((word & 0x1f) as u8, word >> 5),
                Endian::Big => ((word >> 27) as u8, word & ((1 << TS_SHIFT) - 1)),
            };
            let delta = u64::from(delta);
            match type_len {
                1..=TYPE_LEN_DATA_MAX => {
                    let size = WORD + usize::from(type_len) * 4;
                    let Some(payload) = rest.get(WORD..size) else {
                        return Some(Err(self.past_commit(type_len, size as u64)));
                    };
                    self.pos += size;
                    self.ts = self.ts.wrapping_add(delta);
                    return Some(Ok(RawEvent { ts: self.ts, payload }));
                }
                0 => {
                    let Some(length) = self.endian.u32(rest, WORD) else {
                        return Some(Err(self.past_commit(0, 2 * WORD as u64)));
                    };
                    if (length as usize) < WORD {
                        return Some(Err(self.bad_length(0, length)));
                    }
                    // kbuffer rounds the payload up to whole words.
                    let payload_len = (u64::from(length) - WORD as u64 + 3) & !3;
                    let size = 2 * WORD as u64 + payload_len;
                    let payload = usize::try_from(size)
                        .ok()
                        .and_then(|size| rest.get(2 * WORD..size));
                    let Some(payload) = payload else {
                        return Some(Err(self.past_commit(0, size)));
                    };
                    self.pos += 2 * WORD + payload.len();
                    self.ts = self.ts.wrapping_add(delta);
                    return Some(Ok(RawEvent { ts: self.ts, payload }));
                }
                TYPE_PADDING => {
                    if delta == 0 {
                        // rb_null_event: nothing more on this page.
                        self.pos = self.data.len();
                        return None;
                    }
                    let Some(length) = self.endian.u32(rest, WORD) else {
                        return Some(Err(self.past_commit(type_len, 2 * WORD as u64)));
                    };
                    // rb_event_discard stores the record size minus the
                    // header, which is at least the length word itself.
                    if (length as usize) < WORD {
                        return Some(Err(self.bad_length(type_len, length)));
                    }
                    let size = WORD as u64 + u64::from(length);
                    match usize::try_from(size) {
                        Ok(size) if size <= rest.len() => self.pos += size,
                        _ => return Some(Err(self.past_commit(type_len, size))),
                    }
                    self.ts = self.ts.wrapping_add(delta);
                }
                // TYPE_TIME_EXTEND, or 31 (absolute time stamp): type_len
                // has only 5 bits.
                _ => {
                    let Some(high) = self.endian.u32(rest, WORD) else {
                        return Some(Err(self.past_commit(type_len, 2 * WORD as u64)));
                    };
                    let value = (u64::from(high) << TS_SHIFT) | delta;
                    self.pos += 2 * WORD;
                    self.ts = if type_len == TYPE_TIME_EXTEND {
                        self.ts.wrapping_add(value)
                    } else {
                        value | (self.ts & TS_MSB)
                    };
                }
            }
        }
    }
}

impl std::iter::FusedIterator for Events<'_> {}
