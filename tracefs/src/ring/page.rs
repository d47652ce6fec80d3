//! One ring-buffer sub-buffer ("page"), as read from
//! `per_cpu/cpuN/trace_pipe_raw` or stored in a trace.dat file.
//!
//! A sub-buffer is the kernel's `struct buffer_data_page` (see
//! kernel/trace/ring_buffer.c): a u64 `time_stamp`, a `local_t commit` (a
//! kernel `long`, 4 or 8 bytes) holding the number of bytes of event data plus
//! two "missed events" flags, then the event data. Each record starts with a
//! 32-bit header `{ type_len:5, time_delta:27 }`; see [`Events`] for how each
//! `type_len` is decoded. The userspace reference is libtraceevent's
//! `src/kbuffer-parse.c`; this decoder follows it, but checks every length
//! against `commit` and reports what it does not understand as a
//! [`PageError`] instead of reading past the data.
//!
//! Decoding is zero-copy: [`Page`] and [`RawEvent`] borrow the caller's bytes,
//! and walking a page allocates nothing. See [`Page`] for an example.

mod events;

pub use events::{Events, RawEvent};

use super::PageLayout;
use crate::endian::Endian;

/// Bits of `commit` that hold the data length. libtraceevent's `COMMIT_MASK`;
/// the kernel strips only its flag bits (`RB_MISSED_MASK`, bits 30 and 31),
/// but no sub-buffer can hold 128 MiB, so bits 27..29 are never set.
const COMMIT_MASK: u64 = (1 << 27) - 1;

/// `RB_MISSED_EVENTS`: events were lost between the previous sub-buffer of
/// this CPU and this one. The kernel adds `(1 << 31)`, an `int`, to the
/// `long` commit, so on 64-bit kernels the flag arrives sign-extended
/// (`0xffff_ffff_8000_0000`); only bit 31 is looked at, whatever `long` is.
const MISSED_EVENTS: u64 = 1 << 31;

/// `RB_MISSED_STORED`: the number of lost events is stored as a kernel
/// `long` right after the event data (set only with [`MISSED_EVENTS`], and
/// only when the kernel had room for it; see `ring_buffer_read_page`).
const MISSED_STORED: u64 = 1 << 30;

/// Events lost just before a sub-buffer, from the flags in its `commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// No events were lost before this sub-buffer.
    None,
    /// Events were lost, but the kernel had no room to store how many
    /// (libtraceevent's `kbuffer_missed_events()` returns -1).
    Unknown,
    /// This many events were lost (overwritten or dropped) before this
    /// sub-buffer.
    Count(u64),
}

/// Why a sub-buffer or one of its records could not be decoded.
///
/// Offsets are in bytes from the start of the sub-buffer (not of its data),
/// so they can be matched against a hex dump of the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The [`PageLayout`] itself cannot describe a sub-buffer.
    #[error("invalid sub-buffer layout: {0}")]
    BadLayout(&'static str),
    /// The bytes end before the sub-buffer header does.
    #[error("sub-buffer of {len} bytes is too short for its {need}-byte header")]
    ShortHeader {
        /// Bytes given.
        len: usize,
        /// Bytes the header needs (the layout's `data_offset`).
        need: usize,
    },
    /// `commit` claims more event data than the bytes (or the sub-buffer
    /// size) hold.
    #[error(
        "commit at offset {commit_offset} claims {data_len} bytes of events \
         starting at offset {data_offset}, but only {available} are there"
    )]
    CommitPastEnd {
        /// Offset of the `commit` field.
        commit_offset: usize,
        /// Data length taken from `commit`, flags stripped.
        data_len: usize,
        /// Offset where event data starts.
        data_offset: usize,
        /// Bytes of event data actually available.
        available: usize,
    },
    /// `commit` says the number of missed events is stored after the data,
    /// but the bytes end before it.
    #[error("missed-events count at offset {offset} ({size} bytes) runs past the end ({len} bytes)")]
    MissedCountPastEnd {
        /// Offset where the count should be.
        offset: usize,
        /// Its size (the kernel's `long`).
        size: usize,
        /// Bytes available in the sub-buffer.
        len: usize,
    },
    /// Fewer than 4 bytes of committed data are left, too few for a record
    /// header.
    #[error("record header at offset {offset} runs past the committed data, which ends at offset {end}")]
    HeaderPastCommit {
        /// Offset of the partial header.
        offset: usize,
        /// Offset just past the committed data.
        end: usize,
    },
    /// A record (its length word or payload) runs past the end of the
    /// committed data.
    #[error(
        "record with type_len {type_len} at offset {offset} needs {need} bytes, \
         but the committed data ends at offset {end}"
    )]
    RecordPastCommit {
        /// Offset of the record header.
        offset: usize,
        /// The record's `type_len` (0..=31).
        type_len: u8,
        /// Bytes the record needs, header included.
        need: u64,
        /// Offset just past the committed data.
        end: usize,
    },
    /// A length word (`array[0]` of a `type_len == 0` data record or of a
    /// discarded-event padding) is smaller than the word itself.
    #[error("record with type_len {type_len} at offset {offset} has impossible length word {length}")]
    BadLength {
        /// Offset of the record header.
        offset: usize,
        /// The record's `type_len` (0 or 29).
        type_len: u8,
        /// The length word as read.
        length: u32,
    },
}

/// One sub-buffer whose header has been checked; borrow its events with
/// [`Page::events`].
///
/// # Example
///
/// ```
/// use ftr_tracefs::ring::{Missed, Page, PageLayout};
/// use ftr_tracefs::Endian;
///
/// // A little-endian 64-bit page: time_stamp 1000, commit 12 (one event),
/// // then a record with type_len 2 (8 bytes of payload) and time_delta 5.
/// let mut bytes = vec![0u8; 4096];
/// bytes[0..8].copy_from_slice(&1000u64.to_le_bytes());
/// bytes[8..16].copy_from_slice(&12u64.to_le_bytes());
/// bytes[16..20].copy_from_slice(&(2u32 | 5 << 5).to_le_bytes());
/// bytes[20..28].copy_from_slice(&[7, 0, 1, 2, 3, 4, 5, 6]);
///
/// let layout = PageLayout::default_64(Endian::Little);
/// let page = Page::parse(&bytes, &layout)?;
/// assert_eq!(page.timestamp(), 1000);
/// assert_eq!(page.missed(), Missed::None);
/// let events: Vec<_> = page.events().collect::<Result<_, _>>()?;
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].ts, 1005);
/// assert_eq!(events[0].common_type(Endian::Little), Some(7));
/// # Ok::<(), ftr_tracefs::ring::PageError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// Committed event data: `bytes[data_offset..data_offset + data_len]`.
    data: &'a [u8],
    data_offset: usize,
    timestamp: u64,
    missed: Missed,
    endian: Endian,
}

impl<'a> Page<'a> {
    /// Checks the header of the sub-buffer in `bytes`, laid out as `layout`
    /// says, and returns a view of it.
    ///
    /// `bytes` may be shorter than `layout.page_size` (a short read) but must
    /// hold the whole header; bytes past `page_size` are ignored.
    ///
    /// # Errors
    ///
    /// - [`PageError::BadLayout`] if `layout.commit_size` is not 4 or 8, or the
    ///   header fields do not fit before `data_offset`/`page_size`;
    /// - [`PageError::ShortHeader`] if `bytes` ends inside the header;
    /// - [`PageError::CommitPastEnd`] if `commit` counts more data than `bytes`
    ///   holds;
    /// - [`PageError::MissedCountPastEnd`] if the stored missed-events count
    ///   lies beyond `bytes`.
    ///
    /// Records are only checked while iterating [`Page::events`].
    pub fn parse(bytes: &'a [u8], layout: &PageLayout) -> Result<Page<'a>, PageError> {
        check_layout(layout)?;
        let endian = layout.endian;
        let bytes = bytes.get(..layout.page_size).unwrap_or(bytes);
        if bytes.len() < layout.data_offset {
            return Err(PageError::ShortHeader {
                len: bytes.len(),
                need: layout.data_offset,
            });
        }
        // check_layout guarantees both fields lie before data_offset.
        let short = || PageError::ShortHeader {
            len: bytes.len(),
            need: layout.data_offset,
        };
        let timestamp = endian.u64(bytes, layout.timestamp_offset).ok_or_else(short)?;
        let commit = endian
            .uint(bytes, layout.commit_offset, layout.commit_size)
            .ok_or_else(short)?;

        let data_len = (commit & COMMIT_MASK) as usize;
        let available = bytes.len() - layout.data_offset;
        if data_len > available {
            return Err(PageError::CommitPastEnd {
                commit_offset: layout.commit_offset,
                data_len,
                data_offset: layout.data_offset,
                available,
            });
        }
        let data_end = layout.data_offset + data_len;
        let missed = if commit & MISSED_EVENTS == 0 {
            Missed::None
        } else if commit & MISSED_STORED == 0 {
            Missed::Unknown
        } else {
            let count =
                endian
                    .uint(bytes, data_end, layout.commit_size)
                    .ok_or(PageError::MissedCountPastEnd {
                        offset: data_end,
                        size: layout.commit_size,
                        len: bytes.len(),
                    })?;
            Missed::Count(count)
        };
        Ok(Page {
            data: &bytes[layout.data_offset..data_end],
            data_offset: layout.data_offset,
            timestamp,
            missed,
            endian,
        })
    }

    /// The sub-buffer's `time_stamp`: the time base the first record's delta
    /// is added to, in the units of the instance's `trace_clock`.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Bytes of committed event data (`commit` without its flag bits).
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The committed event data, records and all, starting at the first
    /// record header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Whether, and how many, events were lost between the previous sub-buffer
    /// of this CPU and this one.
    pub fn missed(&self) -> Missed {
        self.missed
    }

    /// The byte order the page is decoded with.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Iterates over the data records of the page, with absolute timestamps.
    ///
    /// Time extends, absolute time stamps and padding are consumed, not
    /// returned. The iterator yields at most one `Err` and then stops.
    pub fn events(&self) -> Events<'a> {
        Events::new(self.data, self.data_offset, self.timestamp, self.endian)
    }
}

/// Refuses layouts whose header cannot be read safely.
fn check_layout(layout: &PageLayout) -> Result<(), PageError> {
    if layout.commit_size != 4 && layout.commit_size != 8 {
        return Err(PageError::BadLayout("commit size is neither 4 nor 8"));
    }
    let ends = |off: usize, size: usize| off.checked_add(size).filter(|&e| e <= layout.data_offset);
    if ends(layout.timestamp_offset, 8).is_none() {
        return Err(PageError::BadLayout("timestamp does not end before the data"));
    }
    if ends(layout.commit_offset, layout.commit_size).is_none() {
        return Err(PageError::BadLayout("commit does not end before the data"));
    }
    if layout.data_offset > layout.page_size {
        return Err(PageError::BadLayout("data starts past the end of the page"));
    }
    Ok(())
}

/// Splits a run of whole sub-buffers (a `trace_pipe_raw` dump, or a CPU's
/// data in a trace.dat file) into [`Page`]s of `layout.page_size` bytes.
///
/// The last chunk may be short. Each item is the result of [`Page::parse`]
/// on one chunk, so error offsets are relative to that chunk; use
/// [`Iterator::enumerate`] to know which one. A bad page does not stop the
/// iteration, since the next one starts at a known offset.
#[derive(Debug, Clone)]
pub struct Pages<'a> {
    rest: &'a [u8],
    layout: PageLayout,
}

impl<'a> Pages<'a> {
    /// Iterates over the sub-buffers in `bytes`.
    ///
    /// A `layout.page_size` of 0 yields nothing rather than looping forever.
    pub fn new(bytes: &'a [u8], layout: &PageLayout) -> Pages<'a> {
        let rest = if layout.page_size == 0 { &[][..] } else { bytes };
        Pages {
            rest,
            layout: *layout,
        }
    }
}

impl<'a> Iterator for Pages<'a> {
    type Item = Result<Page<'a>, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (page, rest) = self.rest.split_at(self.layout.page_size.min(self.rest.len()));
        self.rest = rest;
        Some(Page::parse(page, &self.layout))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len().div_ceil(self.layout.page_size.max(1));
        (n, Some(n))
    }
}

impl ExactSizeIterator for Pages<'_> {}
impl std::iter::FusedIterator for Pages<'_> {}

#[cfg(test)]
mod tests;
