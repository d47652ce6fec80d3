//! Writing sub-buffers: the inverse of [`Page`](super::Page) decoding, for
//! tools that rewrite recorded data (`ftr split`). Records are laid out as
//! the kernel's ring buffer lays them out (`rb_update_event`): a 4-byte
//! header `{ type_len:5, time_delta:27 }`, the payload padded to 4 bytes,
//! `type_len` 0 with a length word for payloads over 112 bytes, and a
//! time-extend record before any delta that does not fit 27 bits.

use super::{Missed, PageLayout};
use crate::Endian;

const WORD: usize = 4;
const TS_BITS: u32 = 27;
const TYPE_LEN_DATA_MAX: usize = 28;
const TYPE_TIME_EXTEND: u32 = 30;

/// Packs `(timestamp, payload)` records into whole sub-buffers.
#[derive(Debug)]
pub struct PageEncoder {
    layout: PageLayout,
    out: Vec<u8>,
    /// The page being filled: its data bytes.
    data: Vec<u8>,
    page_ts: u64,
    last_ts: u64,
    missed: Missed,
    pages: usize,
}

impl PageEncoder {
    /// An encoder for sub-buffers of `layout`.
    pub fn new(layout: &PageLayout) -> PageEncoder {
        PageEncoder {
            layout: *layout,
            out: Vec::new(),
            data: Vec::new(),
            page_ts: 0,
            last_ts: 0,
            missed: Missed::None,
            pages: 0,
        }
    }

    fn capacity(&self) -> usize {
        // Room for a stored missed-events count after the data.
        self.layout
            .page_size
            .saturating_sub(self.layout.data_offset + self.layout.commit_size)
    }

    fn put_u32(&mut self, v: u32) {
        let b = match self.layout.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.data.extend_from_slice(&b);
    }

    fn header(&self, type_len: u32, delta: u32) -> u32 {
        match self.layout.endian {
            Endian::Little => type_len | (delta << 5),
            Endian::Big => (type_len << TS_BITS) | delta,
        }
    }

    /// Marks events as lost before the next record: it starts a new page
    /// whose commit carries the missed flags (and the count, when known).
    pub fn lost(&mut self, missed: Missed) {
        if missed == Missed::None {
            return;
        }
        self.flush_page();
        self.missed = missed;
    }

    /// Appends one record. A payload too large for an empty page is
    /// dropped (it could not have been recorded in this layout).
    pub fn push(&mut self, ts: u64, payload: &[u8]) {
        let len = payload.len().div_ceil(WORD) * WORD;
        let body = if (1..=TYPE_LEN_DATA_MAX * WORD).contains(&len) {
            WORD + len
        } else {
            2 * WORD + len
        };
        if body > self.capacity() {
            return;
        }
        let mut delta = ts.saturating_sub(self.last_ts);
        if !self.data.is_empty() && self.data.len() + body + 2 * WORD > self.capacity() {
            self.flush_page();
        }
        if self.data.is_empty() {
            self.page_ts = ts;
            delta = 0;
        }
        if delta >= 1 << TS_BITS {
            let low = (delta & ((1 << TS_BITS) - 1)) as u32;
            self.put_u32(self.header(TYPE_TIME_EXTEND, low));
            self.put_u32((delta >> TS_BITS) as u32);
            delta = 0;
        }
        if len == body - WORD && len > 0 {
            self.put_u32(self.header((len / WORD) as u32, delta as u32));
        } else {
            self.put_u32(self.header(0, delta as u32));
            self.put_u32((len + WORD) as u32);
        }
        self.data.extend_from_slice(payload);
        self.data.resize(self.data.len() + (len - payload.len()), 0);
        self.last_ts = ts;
    }

    fn flush_page(&mut self) {
        if self.data.is_empty() && self.missed == Missed::None {
            return;
        }
        let l = self.layout;
        let start = self.out.len();
        self.out.resize(start + l.page_size, 0);
        let page = &mut self.out[start..];
        let put = |page: &mut [u8], off: usize, size: usize, v: u64| {
            let b = match l.endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            };
            let b = if l.endian == Endian::Big {
                &b[8 - size..]
            } else {
                &b[..size]
            };
            if let Some(dst) = page.get_mut(off..off + size) {
                dst.copy_from_slice(b);
            }
        };
        put(page, l.timestamp_offset, 8, self.page_ts);
        let mut commit = self.data.len() as u64;
        match self.missed {
            Missed::None => {}
            Missed::Unknown => commit |= 1 << 31,
            Missed::Count(n) => {
                commit |= (1 << 31) | (1 << 30);
                put(page, l.data_offset + self.data.len(), l.commit_size, n);
            }
        }
        put(page, l.commit_offset, l.commit_size, commit);
        page[l.data_offset..l.data_offset + self.data.len()].copy_from_slice(&self.data);
        self.data.clear();
        self.missed = Missed::None;
        self.pages += 1;
    }

    /// Pages written so far (the one being filled not included).
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Every page, the last one closed, concatenated.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush_page();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Pages;
    use proptest::prelude::*;

    fn decode(bytes: &[u8], layout: &PageLayout) -> Vec<(u64, Vec<u8>, Missed)> {
        let mut v = Vec::new();
        for p in Pages::new(bytes, layout) {
            let p = p.unwrap();
            let mut missed = p.missed();
            for e in p.events() {
                let e = e.unwrap();
                v.push((e.ts, e.payload.to_vec(), missed));
                missed = Missed::None;
            }
        }
        v
    }

    proptest! {
        #[test]
        fn decodes_to_what_was_encoded(
            recs in proptest::collection::vec((0u64..1 << 40, proptest::collection::vec(any::<u8>(), 1..300), 0u8..20), 0..200),
            big in any::<bool>(),
        ) {
            let endian = if big { Endian::Big } else { Endian::Little };
            let layout = PageLayout::default_64(endian);
            let mut enc = PageEncoder::new(&layout);
            let mut ts = 0u64;
            let mut want = Vec::new();
            for (dt, payload, lost) in &recs {
                ts += dt;
                let missed = if *lost == 0 { Missed::Count(u64::from(*dt as u8)) } else { Missed::None };
                enc.lost(missed);
                enc.push(ts, payload);
                let mut padded = payload.clone();
                padded.resize(payload.len().div_ceil(4) * 4, 0);
                want.push((ts, padded, missed));
            }
            let got = decode(&enc.finish(), &layout);
            prop_assert_eq!(got, want);
        }
    }
}
