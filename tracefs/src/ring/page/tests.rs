//! Byte-built sub-buffers for every record form, in both byte orders and both
//! kernel `long` sizes, plus a property test on arbitrary bytes.

use super::*;
use proptest::prelude::*;

/// The four layouts every test runs on: {little, big} x {64-bit, 32-bit}.
fn layouts() -> [PageLayout; 4] {
    [
        PageLayout::default_64(Endian::Little),
        PageLayout::default_64(Endian::Big),
        PageLayout::default_32(Endian::Little),
        PageLayout::default_32(Endian::Big),
    ]
}

fn u32_bytes(e: Endian, v: u32) -> [u8; 4] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn long_bytes(l: &PageLayout, v: u64) -> Vec<u8> {
    match (l.endian, l.commit_size) {
        (Endian::Little, 8) => v.to_le_bytes().to_vec(),
        (Endian::Big, 8) => v.to_be_bytes().to_vec(),
        (Endian::Little, _) => (v as u32).to_le_bytes().to_vec(),
        (Endian::Big, _) => (v as u32).to_be_bytes().to_vec(),
    }
}

/// The 32-bit record header, laid out as the kernel's bitfield would be.
fn header(e: Endian, type_len: u32, delta: u32) -> [u8; 4] {
    assert!(type_len < 32 && delta < 1 << 27);
    match e {
        Endian::Little => u32_bytes(e, type_len | delta << 5),
        Endian::Big => u32_bytes(e, type_len << 27 | delta),
    }
}

/// Builds one sub-buffer record by record, like the kernel's writer.
struct Builder {
    layout: PageLayout,
    ts: u64,
    data: Vec<u8>,
    /// Flag bits added to `commit`, as `ring_buffer_read_page` adds them.
    flags: u64,
    /// Written right after the data when set (the RB_MISSED_STORED count).
    missed_count: Option<u64>,
}

impl Builder {
    fn new(layout: PageLayout, ts: u64) -> Builder {
        Builder {
            layout,
            ts,
            data: Vec::new(),
            flags: 0,
            missed_count: None,
        }
    }

    fn e(&self) -> Endian {
        self.layout.endian
    }

    /// A payload whose first u16 is `id` (common_type), `len` bytes long.
    fn payload(&self, id: u16, len: usize) -> Vec<u8> {
        let mut p: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
        let id = match self.e() {
            Endian::Little => id.to_le_bytes(),
            Endian::Big => id.to_be_bytes(),
        };
        p[..2].copy_from_slice(&id);
        p
    }

    /// A data record with type_len = len / 4 (1..=28).
    fn small(mut self, delta: u32, payload: &[u8]) -> Builder {
        assert!(payload.len() & 3 == 0 && (4..=112).contains(&payload.len()));
        self.data
            .extend(header(self.e(), payload.len() as u32 / 4, delta));
        self.data.extend(payload);
        self
    }

    /// A type_len 0 record: array[0] = `length_word`, then `payload`.
    fn big(mut self, delta: u32, length_word: u32, payload: &[u8]) -> Builder {
        self.data.extend(header(self.e(), 0, delta));
        self.data.extend(u32_bytes(self.e(), length_word));
        self.data.extend(payload);
        self
    }

    /// A discarded event (padding with delta != 0) covering `size` bytes.
    fn discarded(mut self, delta: u32, size: usize) -> Builder {
        assert!(delta != 0 && size >= 8);
        self.data.extend(header(self.e(), 29, delta));
        self.data.extend(u32_bytes(self.e(), size as u32 - 4));
        self.data.extend(vec![0xee; size - 8]);
        self
    }

    /// A null padding event (delta 0): filler to the end of the page.
    fn filler(mut self) -> Builder {
        self.data.extend(header(self.e(), 29, 0));
        self
    }

    fn extend(mut self, delta: u64) -> Builder {
        self.data
            .extend(header(self.e(), 30, (delta & 0x7ff_ffff) as u32));
        self.data.extend(u32_bytes(self.e(), (delta >> 27) as u32));
        self
    }

    fn absolute(mut self, ts: u64) -> Builder {
        self.data.extend(header(self.e(), 31, (ts & 0x7ff_ffff) as u32));
        self.data.extend(u32_bytes(self.e(), (ts >> 27) as u32));
        self
    }

    fn raw(mut self, bytes: &[u8]) -> Builder {
        self.data.extend(bytes);
        self
    }

    /// Missed events with the count stored after the data. The flags are
    /// added as the kernel does: `local_add((1 << 30), ..)` then
    /// `local_add((1 << 31), ..)`, with `1 << 31` an int, sign-extended into
    /// a 64-bit `long`.
    fn missed(mut self, count: Option<u64>) -> Builder {
        let events = if self.layout.commit_size == 8 {
            (i64::from(i32::MIN)) as u64
        } else {
            1 << 31
        };
        self.flags = events.wrapping_add(if count.is_some() { 1 << 30 } else { 0 });
        self.missed_count = count;
        self
    }

    /// The whole page, `page_size` bytes, zero-filled after the data.
    fn build(&self) -> Vec<u8> {
        self.build_with_commit(self.data.len() as u64 + self.flags)
    }

    fn build_with_commit(&self, commit: u64) -> Vec<u8> {
        let l = &self.layout;
        let mut page = vec![0u8; l.page_size];
        let ts = match l.endian {
            Endian::Little => self.ts.to_le_bytes(),
            Endian::Big => self.ts.to_be_bytes(),
        };
        page[l.timestamp_offset..][..8].copy_from_slice(&ts);
        page[l.commit_offset..][..l.commit_size].copy_from_slice(&long_bytes(l, commit));
        page[l.data_offset..][..self.data.len()].copy_from_slice(&self.data);
        if let Some(count) = self.missed_count {
            let at = l.data_offset + self.data.len();
            page[at..][..l.commit_size].copy_from_slice(&long_bytes(l, count));
        }
        page
    }
}

/// Decodes all events of `bytes`, panicking on any error.
fn decode(bytes: &[u8], layout: &PageLayout) -> Vec<(u64, Vec<u8>)> {
    Page::parse(bytes, layout)
        .unwrap()
        .events()
        .map(|e| {
            let e = e.unwrap();
            (e.ts, e.payload.to_vec())
        })
        .collect()
}

/// The first error met while decoding, parse errors included.
fn first_error(bytes: &[u8], layout: &PageLayout) -> PageError {
    let page = match Page::parse(bytes, layout) {
        Ok(page) => page,
        Err(e) => return e,
    };
    let mut events = page.events();
    let err = events.by_ref().find_map(Result::err).expect("expected an error");
    assert!(events.next().is_none(), "iteration must stop after an error");
    err
}

#[test]
fn header_bit_layout_matches_the_kernel_bitfield() {
    // type_len 2, delta 5: LE word 0x000000a2, BE word 0x10000005.
    assert_eq!(header(Endian::Little, 2, 5), [0xa2, 0, 0, 0]);
    assert_eq!(header(Endian::Big, 2, 5), [0x10, 0, 0, 5]);
    let mut le = vec![0u8; 64];
    le[8] = 12; // commit
    le[16..28].copy_from_slice(&[0xa2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let l = PageLayout::default_64(Endian::Little);
    assert_eq!(decode(&le, &l), vec![(5, vec![1, 2, 3, 4, 5, 6, 7, 8])]);
    let mut be = vec![0u8; 64];
    be[15] = 12;
    be[16..28].copy_from_slice(&[0x10, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8]);
    let l = PageLayout::default_64(Endian::Big);
    assert_eq!(decode(&be, &l), vec![(5, vec![1, 2, 3, 4, 5, 6, 7, 8])]);
}

#[test]
fn every_small_data_type_len() {
    for l in layouts() {
        let mut b = Builder::new(l, 1_000);
        for type_len in 1..=28u16 {
            let p = b.payload(type_len, usize::from(type_len) * 4);
            b = b.small(u32::from(type_len), &p);
        }
        let bytes = b.build();
        let page = Page::parse(&bytes, &l).unwrap().events().collect::<Vec<_>>();
        let mut ts = 1_000;
        assert_eq!(page.len(), 28);
        for (i, e) in page.into_iter().enumerate() {
            let e = e.unwrap();
            let type_len = i as u16 + 1;
            ts += u64::from(type_len);
            assert_eq!(e.ts, ts, "{l:?}");
            assert_eq!(e.payload.len(), usize::from(type_len) * 4);
            assert_eq!(e.common_type(l.endian), Some(type_len));
        }
    }
}

#[test]
fn type_len_zero_reads_the_length_word() {
    for l in layouts() {
        let b = Builder::new(l, 7);
        let p = b.payload(42, 200);
        // array[0] = payload + 4; then one whose length is not word-aligned:
        // kbuffer rounds the payload up to whole words.
        let q = b.payload(43, 120);
        let b = b.big(3, 204, &p).big(0, 4 + 117, &q).small(1, &[0; 4]);
        let ev = decode(&b.build(), &l);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0], (10, p));
        assert_eq!(ev[1], (10, q));
        assert_eq!(ev[2].0, 11);
        // A zero-length payload is odd but not out of bounds.
        let b = Builder::new(l, 0).big(1, 4, &[]);
        assert_eq!(decode(&b.build(), &l), vec![(1, vec![])]);
    }
}

#[test]
fn discarded_events_are_skipped_but_their_delta_counts() {
    for l in layouts() {
        let b = Builder::new(l, 100);
        let p = b.payload(1, 8);
        let b = b.small(1, &p).discarded(10, 72).discarded(1, 8).small(2, &p);
        let ev = decode(&b.build(), &l);
        assert_eq!(ev.iter().map(|e| e.0).collect::<Vec<_>>(), [101, 114]);
    }
}

#[test]
fn null_padding_ends_the_page() {
    for l in layouts() {
        let b = Builder::new(l, 100);
        let p = b.payload(1, 8);
        // Garbage after the filler must not be decoded.
        let b = b.small(1, &p).filler().raw(&[0xff; 20]);
        assert_eq!(decode(&b.build(), &l), vec![(101, p.clone())]);
        // Also when the filler is the last word of the committed data (no
        // array[0] follows it).
        let b = Builder::new(l, 100).small(1, &p).filler();
        assert_eq!(decode(&b.build(), &l), vec![(101, p)]);
    }
}

#[test]
fn time_extend_adds_a_59_bit_delta() {
    for l in layouts() {
        let b = Builder::new(l, 5);
        let p = b.payload(1, 4);
        let big = (1u64 << 58) + 123_456_789;
        let b = b.extend(big).small(7, &p).extend(1 << 27).small(0, &p);
        let ev = decode(&b.build(), &l);
        assert_eq!(ev[0].0, 5 + big + 7);
        assert_eq!(ev[1].0, 5 + big + 7 + (1 << 27));
    }
}

#[test]
fn absolute_time_stamp_replaces_ts_and_keeps_the_msbs() {
    for l in layouts() {
        // A plain clock: no MSBs to restore.
        let b = Builder::new(l, 1_000_000);
        let p = b.payload(1, 4);
        let b = b.small(5, &p).absolute(2_000_000_000).small(3, &p);
        let ts: Vec<u64> = decode(&b.build(), &l).iter().map(|e| e.0).collect();
        assert_eq!(ts, [1_000_005, 2_000_000_003]);

        // A clock using the top 5 bits (TAI in ns, say): the stored value
        // has only 59 bits; the MSBs come from the page time stamp.
        let msb = 0xa8u64 << 56;
        let page_ts = msb | 0x0123_4567_89ab;
        let abs = 0x0123_4567_ffff;
        let b = Builder::new(l, page_ts).absolute(abs).small(1, &p);
        let ts: Vec<u64> = decode(&b.build(), &l).iter().map(|e| e.0).collect();
        assert_eq!(ts, [(msb | abs) + 1]);
    }
}

#[test]
fn missed_events_flags() {
    for l in layouts() {
        let b = Builder::new(l, 0);
        let p = b.payload(1, 8);
        let b = b.small(1, &p);
        let none = b.build();
        let page = Page::parse(&none, &l).unwrap();
        assert_eq!(page.missed(), Missed::None);
        assert_eq!(page.data_len(), 12);

        let b = b.missed(None);
        let page_bytes = b.build();
        let page = Page::parse(&page_bytes, &l).unwrap();
        assert_eq!(page.missed(), Missed::Unknown);
        assert_eq!(page.data_len(), 12, "flags must be stripped from commit");
        assert_eq!(page.events().count(), 1);

        let b = b.missed(Some(713));
        let page_bytes = b.build();
        let page = Page::parse(&page_bytes, &l).unwrap();
        assert_eq!(page.missed(), Missed::Count(713));
        assert_eq!(page.data_len(), 12);
        assert_eq!(page.events().count(), 1, "the count is not a record");
    }
    // The flags sit at bits 31/30 even for an 8-byte commit; a commit with
    // only the low 32 bits set (no sign extension) reads the same.
    let l = PageLayout::default_64(Endian::Little);
    let b = Builder::new(l, 0).small(1, &[0; 4]);
    let mut bytes = b.build_with_commit(8 | 3 << 30);
    bytes[24..32].copy_from_slice(&99u64.to_le_bytes());
    assert_eq!(Page::parse(&bytes, &l).unwrap().missed(), Missed::Count(99));
    // RB_MISSED_STORED alone means nothing (kbuffer reports no loss).
    let bytes = b.build_with_commit(8 | 1 << 30);
    assert_eq!(Page::parse(&bytes, &l).unwrap().missed(), Missed::None);
}

#[test]
fn empty_page_and_short_read() {
    for l in layouts() {
        let page = Builder::new(l, 9).build();
        let p = Page::parse(&page, &l).unwrap();
        assert_eq!((p.timestamp(), p.data_len()), (9, 0));
        assert_eq!(p.events().count(), 0);
        // Only the header: still a valid (empty) page.
        assert_eq!(Page::parse(&page[..l.data_offset], &l).unwrap().data_len(), 0);

        // A short read that still holds all committed data decodes fine.
        let b = Builder::new(l, 0).small(1, &[0; 8]);
        let page = b.build();
        assert_eq!(decode(&page[..l.data_offset + 12], &l).len(), 1);
        // Bytes past page_size are ignored.
        let mut long = page.clone();
        long.extend([0xff; 100]);
        assert_eq!(decode(&long, &l).len(), 1);
    }
}

#[test]
fn header_errors() {
    for l in layouts() {
        let page = Builder::new(l, 0).small(1, &[0; 8]).build();
        assert_eq!(
            first_error(&page[..l.data_offset - 1], &l),
            PageError::ShortHeader {
                len: l.data_offset - 1,
                need: l.data_offset
            }
        );
        // Commit runs past a short read.
        assert!(matches!(
            first_error(&page[..l.data_offset + 8], &l),
            PageError::CommitPastEnd {
                data_len: 12,
                available: 8,
                ..
            }
        ));
        // Commit larger than the page.
        let b = Builder::new(l, 0);
        let bytes = b.build_with_commit(l.page_size as u64);
        assert!(matches!(first_error(&bytes, &l), PageError::CommitPastEnd { .. }));
        // The stored missed count lies past the end of a short read.
        let b = Builder::new(l, 0).small(1, &[0; 8]).missed(Some(5));
        let bytes = b.build();
        assert!(matches!(
            first_error(&bytes[..l.data_offset + 14], &l),
            PageError::MissedCountPastEnd { .. }
        ));
        assert!(Page::parse(&bytes[..l.data_offset + 12 + l.commit_size], &l).is_ok());
    }
    let mut bad = PageLayout::default_64(Endian::Little);
    bad.commit_size = 3;
    assert!(matches!(
        Page::parse(&[0; 64], &bad),
        Err(PageError::BadLayout(_))
    ));
    let mut bad = PageLayout::default_64(Endian::Little);
    bad.data_offset = 12;
    assert!(matches!(
        Page::parse(&[0; 64], &bad),
        Err(PageError::BadLayout(_))
    ));
    let mut bad = PageLayout::default_64(Endian::Little);
    bad.page_size = 8;
    assert!(matches!(
        Page::parse(&[0; 64], &bad),
        Err(PageError::BadLayout(_))
    ));
    let mut bad = PageLayout::default_64(Endian::Little);
    bad.commit_offset = usize::MAX - 2;
    assert!(matches!(
        Page::parse(&[0; 64], &bad),
        Err(PageError::BadLayout(_))
    ));
}

#[test]
fn record_errors() {
    for l in layouts() {
        let e = l.endian;
        let d = l.data_offset;
        let end = |b: &Builder| d + b.data.len();
        // A small record cut by commit.
        let b = Builder::new(l, 0).raw(&header(e, 28, 1)).raw(&[0; 40]);
        assert_eq!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit {
                offset: d,
                type_len: 28,
                need: 116,
                end: end(&b)
            }
        );
        // Commit ends inside a record header (after a good record).
        let b = Builder::new(l, 0).small(1, &[0; 4]).raw(&[0, 0]);
        let page = b.build();
        let mut ev = Page::parse(&page, &l).unwrap().events();
        assert!(ev.next().unwrap().is_ok());
        assert_eq!(
            ev.next().unwrap().unwrap_err(),
            PageError::HeaderPastCommit {
                offset: d + 8,
                end: d + 10
            }
        );
        assert!(ev.next().is_none());
        // type_len 0 without its length word, with a length word < 4, and
        // with a length past commit (also one that would overflow 32 bits).
        let b = Builder::new(l, 0).raw(&header(e, 0, 0));
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit {
                type_len: 0,
                need: 8,
                ..
            }
        ));
        let b = Builder::new(l, 0).big(0, 3, &[]);
        assert_eq!(
            first_error(&b.build(), &l),
            PageError::BadLength {
                offset: d,
                type_len: 0,
                length: 3
            }
        );
        let b = Builder::new(l, 0).big(0, 100, &[0; 16]);
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit {
                type_len: 0,
                need: 104,
                ..
            }
        ));
        let b = Builder::new(l, 0).big(0, u32::MAX, &[0; 16]);
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit { type_len: 0, .. }
        ));
        // Discarded event: no length word, length < 4, length past commit.
        let b = Builder::new(l, 0).raw(&header(e, 29, 1));
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit {
                type_len: 29,
                need: 8,
                ..
            }
        ));
        let b = Builder::new(l, 0).raw(&header(e, 29, 1)).raw(&u32_bytes(e, 0));
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::BadLength {
                type_len: 29,
                length: 0,
                ..
            }
        ));
        let b = Builder::new(l, 0).raw(&header(e, 29, 1)).raw(&u32_bytes(e, 4000));
        assert!(matches!(
            first_error(&b.build(), &l),
            PageError::RecordPastCommit {
                type_len: 29,
                need: 4004,
                ..
            }
        ));
        // Time extend and time stamp without array[0].
        for t in [30, 31] {
            let b = Builder::new(l, 0).small(1, &[0; 4]).raw(&header(e, t, 1));
            assert!(matches!(
                first_error(&b.build(), &l),
                PageError::RecordPastCommit { offset, need: 8, .. } if offset == d + 8
            ));
        }
    }
}

#[test]
fn error_messages_name_the_offset() {
    let l = PageLayout::default_64(Endian::Little);
    let b = Builder::new(l, 0).raw(&header(Endian::Little, 28, 1));
    let msg = first_error(&b.build(), &l).to_string();
    assert!(msg.contains("type_len 28") && msg.contains("offset 16"), "{msg}");
}

#[test]
fn pages_splits_a_dump() {
    let l = PageLayout::default_64(Endian::Little);
    let one = Builder::new(l, 10).small(1, &[0; 4]).build();
    let two = Builder::new(l, 20).small(1, &[0; 4]).small(1, &[0; 4]).build();
    let mut dump = [one.clone(), two, one].concat();
    dump.truncate(2 * 4096 + 16 + 8); // short last read
    let pages: Vec<_> = Pages::new(&dump, &l).collect();
    assert_eq!(pages.len(), 3);
    let counts: Vec<_> = pages
        .iter()
        .map(|p| p.as_ref().unwrap().events().count())
        .collect();
    assert_eq!(counts, [1, 2, 1]);
    assert_eq!(Pages::new(&dump, &l).len(), 3);
    let mut zero = l;
    zero.page_size = 0;
    assert_eq!(Pages::new(&dump, &zero).count(), 0);
}

#[test]
fn events_reports_its_position() {
    let l = PageLayout::default_32(Endian::Big);
    let b = Builder::new(l, 0)
        .small(1, &[0; 4])
        .extend(1 << 30)
        .small(1, &[0; 8]);
    let page = b.build();
    let p = Page::parse(&page, &l).unwrap();
    let mut ev = p.events();
    assert_eq!(ev.position(), 12);
    ev.next();
    assert_eq!((ev.position(), ev.timestamp()), (20, 1));
    ev.next();
    assert_eq!(ev.position(), 12 + 28);
    assert!(ev.next().is_none());
    assert_eq!(p.data(), &page[12..40]);
}

/// Any layout the decoder might be handed, sane or not.
fn any_layout() -> impl Strategy<Value = PageLayout> {
    (
        any::<bool>(),
        prop_oneof![Just(4usize), Just(8), 0usize..10],
        prop_oneof![Just(0usize), 0usize..24],
        prop_oneof![Just(8usize), 0usize..24],
        prop_oneof![Just(12usize), Just(16), 0usize..40],
        prop_oneof![Just(4096usize), 0usize..600],
    )
        .prop_map(
            |(big, commit_size, ts_off, commit_off, data_off, page_size)| PageLayout {
                endian: if big { Endian::Big } else { Endian::Little },
                timestamp_offset: ts_off,
                commit_offset: commit_off,
                commit_size,
                data_offset: data_off,
                page_size,
            },
        )
}

/// Decodes everything and checks that it ends within a bound.
fn walk(bytes: &[u8], layout: &PageLayout) -> usize {
    let Ok(page) = Page::parse(bytes, layout) else {
        return 0;
    };
    assert!(page.data_len() <= bytes.len());
    let mut n = 0;
    for e in page.events() {
        n += 1;
        // Each record takes at least 4 bytes, plus one final error.
        assert!(n <= page.data_len() / 4 + 1, "iteration does not end");
        if let Ok(e) = e {
            assert!(e.payload.len() <= page.data_len());
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(layout in any_layout(), bytes in prop::collection::vec(any::<u8>(), 0..4200)) {
        walk(&bytes, &layout);
        Pages::new(&bytes, &layout).for_each(|p| {
            if let Ok(p) = p { p.events().for_each(drop) }
        });
    }

    /// Arbitrary records behind a commit that fits, so the record decoder is
    /// exercised rather than the header checks.
    #[test]
    fn arbitrary_records_never_panic(
        layout in any_layout(),
        mut bytes in prop::collection::vec(any::<u8>(), 0..4200),
        len in any::<u32>(),
        flags in 0u64..4,
        words in prop::collection::vec((0u32..32, any::<u32>()), 0..64),
    ) {
        if let (true, Ok(())) = (bytes.len() >= layout.data_offset, check_layout(&layout)) {
            // Sprinkle plausible headers, then commit a length that fits.
            let mut at = layout.data_offset;
            for (type_len, rest) in words {
                let w = match layout.endian {
                    Endian::Little => type_len | rest << 5,
                    Endian::Big => type_len << 27 | (rest & 0x7ff_ffff),
                };
                if at + 8 > bytes.len() { break; }
                bytes[at..at + 4].copy_from_slice(&u32_bytes(layout.endian, w));
                at += 4 + 4 * (rest as usize % 8);
            }
            let room = bytes.len().min(layout.page_size).saturating_sub(layout.data_offset);
            let data_len = if room == 0 { 0 } else { len as usize % (room + 1) };
            let commit = data_len as u64 | flags << 30;
            let c = long_bytes(&layout, commit);
            bytes[layout.commit_offset..][..layout.commit_size].copy_from_slice(&c);
            if data_len + layout.commit_size <= room || flags != 3 {
                prop_assert!(Page::parse(&bytes, &layout).is_ok());
            }
        }
        walk(&bytes, &layout);
    }
}
