//! Bytes to [`Record`]s: header, body, sample_id_all trailer.

use super::types::*;

/// Reads native-endian fields from a record, never past its end.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(RecordError::Truncated {
                what,
                at: self.at,
                need: n,
                have: self.buf.len(),
            }),
        }
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, RecordError> {
        let b = self.take(8, what)?;
        Ok(u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, RecordError> {
        let b = self.take(4, what)?;
        Ok(u32::from_ne_bytes(b.try_into().expect("4 bytes")))
    }

    /// A count of `unit`-byte items, checked against the bytes left so a
    /// corrupt count cannot ask for a huge allocation.
    fn count(&mut self, unit: usize, what: &'static str) -> Result<usize, RecordError> {
        let n = self.u64(what)?;
        let left = (self.buf.len() - self.at) / unit;
        if n > left as u64 {
            return Err(RecordError::Truncated {
                what,
                at: self.at,
                need: usize::try_from(n).unwrap_or(usize::MAX).saturating_mul(unit),
                have: self.buf.len(),
            });
        }
        Ok(n as usize)
    }

    /// A NUL-padded string filling the rest up to `end`.
    fn string(&mut self, end: usize) -> &'a [u8] {
        let end = end.clamp(self.at, self.buf.len());
        let s = &self.buf[self.at..end];
        self.at = end;
        let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        &s[..len]
    }
}

/// The size of the record at the start of `bytes`, from its header (at
/// least 8); None when fewer than 8 bytes are given or the size is below 8.
pub fn record_size(bytes: &[u8]) -> Option<usize> {
    let size = u16::from_ne_bytes(bytes.get(6..8)?.try_into().ok()?) as usize;
    (size >= HEADER_SIZE).then_some(size)
}

/// Parses the record at the start of `bytes` (the header's size says where
/// it ends; bytes after it are ignored).
///
/// Fails with [`RecordError`] when the header's size is impossible or a
/// field runs past the record.
pub fn parse_record<'a>(bytes: &'a [u8], layout: &RecordLayout) -> Result<Record<'a>, RecordError> {
    let size = match record_size(bytes) {
        Some(s) if s <= bytes.len() => s,
        _ => {
            return Err(RecordError::BadSize {
                size: bytes
                    .get(6..8)
                    .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]) as usize),
                have: bytes.len(),
            })
        }
    };
    let rec = &bytes[..size];
    let type_ = u32::from_ne_bytes(rec[0..4].try_into().expect("4 bytes"));
    let misc = u16::from_ne_bytes(rec[4..6].try_into().expect("2 bytes"));
    let mode = match misc & MISC_CPUMODE_MASK {
        MISC_KERNEL => CpuMode::Kernel,
        MISC_USER => CpuMode::User,
        _ => CpuMode::Other,
    };
    if type_ == RECORD_SAMPLE {
        return parse_sample(rec, layout, mode).map(Record::Sample);
    }
    let known = matches!(
        type_,
        RECORD_MMAP
            | RECORD_MMAP2
            | RECORD_COMM
            | RECORD_FORK
            | RECORD_EXIT
            | RECORD_LOST
            | RECORD_LOST_SAMPLES
            | RECORD_THROTTLE
            | RECORD_UNTHROTTLE
    );
    if !known {
        return Ok(Record::Other {
            type_,
            misc,
            body: &rec[HEADER_SIZE..],
        });
    }
    // The trailer sits at the end; the body is what lies before it.
    let trailer = layout.trailer_len();
    let body_end = size
        .checked_sub(trailer)
        .filter(|&e| e >= HEADER_SIZE)
        .ok_or(RecordError::Truncated {
            what: "sample_id trailer",
            at: HEADER_SIZE,
            need: trailer,
            have: size,
        })?;
    let sample_id = parse_trailer(&rec[body_end..], layout)?;
    let mut c = Cursor {
        buf: &rec[..body_end],
        at: HEADER_SIZE,
    };
    Ok(match type_ {
        RECORD_MMAP | RECORD_MMAP2 => {
            let pid = c.u32("mmap pid")?;
            let tid = c.u32("mmap tid")?;
            let addr = c.u64("mmap addr")?;
            let len = c.u64("mmap len")?;
            let pgoff = c.u64("mmap pgoff")?;
            let (mut inode, mut build_id, mut prot, mut flags) = (None, None, None, None);
            if type_ == RECORD_MMAP2 {
                if misc & MISC_MMAP_BUILD_ID != 0 {
                    let id = c.take(24, "mmap2 build id")?;
                    let n = (id[0] as usize).min(20);
                    build_id = Some(&id[4..4 + n]);
                } else {
                    let maj = c.u32("mmap2 maj")?;
                    let min = c.u32("mmap2 min")?;
                    let ino = c.u64("mmap2 ino")?;
                    let generation = c.u64("mmap2 ino_generation")?;
                    inode = Some((maj, min, ino, generation));
                }
                prot = Some(c.u32("mmap2 prot")?);
                flags = Some(c.u32("mmap2 flags")?);
            }
            let filename = c.string(body_end);
            Record::Mmap(Mmap {
                pid,
                tid,
                addr,
                len,
                pgoff,
                inode,
                build_id,
                prot,
                flags,
                filename,
                mode,
                sample_id,
            })
        }
        RECORD_COMM => {
            let pid = c.u32("comm pid")?;
            let tid = c.u32("comm tid")?;
            Record::Comm(Comm {
                pid,
                tid,
                comm: c.string(body_end),
                exec: misc & MISC_COMM_EXEC != 0,
                sample_id,
            })
        }
        RECORD_FORK | RECORD_EXIT => {
            let t = TaskEvent {
                pid: c.u32("task pid")?,
                ppid: c.u32("task ppid")?,
                tid: c.u32("task tid")?,
                ptid: c.u32("task ptid")?,
                time: c.u64("task time")?,
                sample_id,
            };
            if type_ == RECORD_FORK {
                Record::Fork(t)
            } else {
                Record::Exit(t)
            }
        }
        RECORD_LOST => Record::Lost(Lost {
            id: Some(c.u64("lost id")?),
            lost: c.u64("lost count")?,
            samples: false,
            sample_id,
        }),
        RECORD_LOST_SAMPLES => Record::Lost(Lost {
            id: None,
            lost: c.u64("lost samples")?,
            samples: true,
            sample_id,
        }),
        _ => Record::Throttle(Throttle {
            throttled: type_ == RECORD_THROTTLE,
            time: c.u64("throttle time")?,
            id: c.u64("throttle id")?,
            stream_id: c.u64("throttle stream id")?,
            sample_id,
        }),
    })
}

fn parse_trailer(bytes: &[u8], layout: &RecordLayout) -> Result<SampleId, RecordError> {
    let mut id = SampleId::default();
    if !layout.sample_id_all {
        return Ok(id);
    }
    let mut c = Cursor { buf: bytes, at: 0 };
    if layout.has(SAMPLE_TID) {
        id.pid = Some(c.u32("trailer pid")?);
        id.tid = Some(c.u32("trailer tid")?);
    }
    if layout.has(SAMPLE_TIME) {
        id.time = Some(c.u64("trailer time")?);
    }
    if layout.has(SAMPLE_ID) {
        id.id = Some(c.u64("trailer id")?);
    }
    if layout.has(SAMPLE_STREAM_ID) {
        id.stream_id = Some(c.u64("trailer stream id")?);
    }
    if layout.has(SAMPLE_CPU) {
        id.cpu = Some(c.u32("trailer cpu")?);
        c.u32("trailer cpu reserved")?;
    }
    if layout.has(SAMPLE_IDENTIFIER) {
        id.id = Some(c.u64("trailer identifier")?);
    }
    Ok(id)
}

fn parse_sample<'a>(rec: &'a [u8], layout: &RecordLayout, mode: CpuMode) -> Result<Sample<'a>, RecordError> {
    let mut c = Cursor {
        buf: rec,
        at: HEADER_SIZE,
    };
    let mut s = Sample {
        mode: Some(mode),
        ..Sample::default()
    };
    if layout.has(SAMPLE_IDENTIFIER) {
        s.id = Some(c.u64("identifier")?);
    }
    if layout.has(SAMPLE_IP) {
        s.ip = Some(c.u64("ip")?);
    }
    if layout.has(SAMPLE_TID) {
        s.pid = Some(c.u32("pid")?);
        s.tid = Some(c.u32("tid")?);
    }
    if layout.has(SAMPLE_TIME) {
        s.time = Some(c.u64("time")?);
    }
    if layout.has(SAMPLE_ADDR) {
        s.addr = Some(c.u64("addr")?);
    }
    if layout.has(SAMPLE_ID) {
        s.id = Some(c.u64("id")?);
    }
    if layout.has(SAMPLE_STREAM_ID) {
        s.stream_id = Some(c.u64("stream id")?);
    }
    if layout.has(SAMPLE_CPU) {
        s.cpu = Some(c.u32("cpu")?);
        c.u32("cpu reserved")?;
    }
    if layout.has(SAMPLE_PERIOD) {
        s.period = Some(c.u64("period")?);
    }
    if layout.has(SAMPLE_READ) {
        skip_read(&mut c, layout.read_format)?;
    }
    if layout.has(SAMPLE_CALLCHAIN) {
        let n = c.count(8, "callchain length")?;
        let mut chain = Callchain::default();
        let mut context = CONTEXT_KERNEL;
        for _ in 0..n {
            let addr = c.u64("callchain entry")?;
            if addr >= CONTEXT_MAX {
                context = addr;
                continue;
            }
            match context {
                CONTEXT_KERNEL => chain.kernel.push(addr),
                CONTEXT_USER => chain.user.push(addr),
                _ => chain.other.push(addr),
            }
        }
        s.callchain = Some(chain);
    }
    if layout.has(SAMPLE_RAW) {
        let size = c.u32("raw size")? as usize;
        s.raw = Some(c.take(size, "raw data")?);
        // The u32 size plus the data are padded to 8 bytes.
        let pad = (8 - (4 + size) % 8) % 8;
        c.take(pad, "raw padding")?;
    }
    if layout.has(SAMPLE_REGS_USER) {
        let abi = c.u64("regs abi")?;
        let mut regs = UserRegs {
            abi,
            mask: layout.regs_user,
            values: Vec::new(),
        };
        if abi != 0 {
            let n = layout.regs_user.count_ones() as usize;
            let bytes = c.take(n * 8, "user registers")?;
            regs.values = bytes
                .chunks_exact(8)
                .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
                .collect();
        }
        s.regs_user = Some(regs);
    }
    if layout.has(SAMPLE_STACK_USER) {
        let size = c.u64("stack size")?;
        if size == 0 {
            s.stack_user = Some(&[]);
        } else {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let data = c.take(size, "user stack")?;
            let dyn_size = c.u64("stack dyn_size")?;
            let used = usize::try_from(dyn_size).unwrap_or(usize::MAX).min(data.len());
            s.stack_user = Some(&data[..used]);
        }
    }
    if layout.has(SAMPLE_WEIGHT) {
        s.weight = Some(c.u64("weight")?);
    }
    if layout.has(SAMPLE_DATA_SRC) {
        s.data_src = Some(c.u64("data src")?);
    }
    Ok(s)
}

/// Steps over a PERF_SAMPLE_READ block (`struct read_format`).
fn skip_read(c: &mut Cursor<'_>, format: u64) -> Result<(), RecordError> {
    let per_value = 1 + usize::from(format & FORMAT_ID != 0) + usize::from(format & FORMAT_LOST != 0);
    let times = usize::from(format & FORMAT_TOTAL_TIME_ENABLED != 0)
        + usize::from(format & FORMAT_TOTAL_TIME_RUNNING != 0);
    if format & FORMAT_GROUP != 0 {
        let n = c.u64("read nr")?;
        c.take(times * 8, "read times")?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        c.take(n.saturating_mul(per_value * 8), "read values")?;
    } else {
        c.take((per_value + times) * 8, "read value")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a record: header, then the body words.
    fn record(type_: u32, misc: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&type_.to_ne_bytes());
        v.extend_from_slice(&misc.to_ne_bytes());
        v.extend_from_slice(&((HEADER_SIZE + body.len()) as u16).to_ne_bytes());
        v.extend_from_slice(body);
        v
    }

    fn u64s(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    fn pair(a: u32, b: u32) -> u64 {
        u64::from_ne_bytes([a.to_ne_bytes(), b.to_ne_bytes()].concat().try_into().unwrap())
    }

    #[test]
    fn sample_with_every_field_we_request() {
        let st = SAMPLE_IDENTIFIER
            | SAMPLE_IP
            | SAMPLE_TID
            | SAMPLE_TIME
            | SAMPLE_CPU
            | SAMPLE_PERIOD
            | SAMPLE_CALLCHAIN
            | SAMPLE_RAW
            | SAMPLE_REGS_USER
            | SAMPLE_STACK_USER;
        // ip, sp, bp on x86_64: bits 6, 7, 8.
        let mask = (1 << 6) | (1 << 7) | (1 << 8);
        let layout = RecordLayout::new(st, 0, mask, true).unwrap();
        let mut body = u64s(&[
            42,           // identifier
            0xffff_1000,  // ip
            pair(10, 11), // pid, tid
            123_456,      // time
            pair(1, 0),   // cpu
            1000,         // period
            6,            // callchain nr
            CONTEXT_KERNEL,
            0xffff_1000,
            0xffff_2000,
            CONTEXT_USER,
            0x40_1000,
            0x40_2000,
        ]);
        // raw: 5 bytes, padded so 4 + 5 + 7 = 16.
        body.extend_from_slice(&5u32.to_ne_bytes());
        body.extend_from_slice(b"hello");
        body.extend_from_slice(&[0; 7]);
        body.extend_from_slice(&u64s(&[2, 0xbb, 0x7ff0, 0x40_1000])); // abi, bp, sp, ip
        body.extend_from_slice(&u64s(&[16]));
        body.extend_from_slice(&[0xaa; 16]);
        body.extend_from_slice(&u64s(&[8])); // dyn_size
        let bytes = record(RECORD_SAMPLE, MISC_KERNEL, &body);
        let Record::Sample(s) = parse_record(&bytes, &layout).unwrap() else {
            panic!("not a sample")
        };
        assert_eq!(s.id, Some(42));
        assert_eq!(s.mode, Some(CpuMode::Kernel));
        assert_eq!(
            (s.pid, s.tid, s.time, s.cpu, s.period),
            (Some(10), Some(11), Some(123_456), Some(1), Some(1000))
        );
        let chain = s.callchain.unwrap();
        assert_eq!(chain.kernel, vec![0xffff_1000, 0xffff_2000]);
        assert_eq!(chain.user, vec![0x40_1000, 0x40_2000]);
        assert_eq!(s.raw, Some(&b"hello"[..]));
        let regs = s.regs_user.unwrap();
        assert_eq!(
            (regs.get(6), regs.get(7), regs.get(8), regs.get(9)),
            (Some(0xbb), Some(0x7ff0), Some(0x40_1000), None)
        );
        assert_eq!(s.stack_user.unwrap(), &[0xaa; 8]);
    }

    #[test]
    fn kernel_thread_sample_has_no_regs_and_an_empty_stack() {
        let layout = RecordLayout::new(SAMPLE_REGS_USER | SAMPLE_STACK_USER, 0, 0b111, false).unwrap();
        let bytes = record(RECORD_SAMPLE, MISC_KERNEL, &u64s(&[0, 0]));
        let Record::Sample(s) = parse_record(&bytes, &layout).unwrap() else {
            panic!()
        };
        assert_eq!(s.regs_user.unwrap().get(0), None);
        assert_eq!(s.stack_user, Some(&[][..]));
    }

    #[test]
    fn mmap2_comm_task_lost_and_throttle_with_trailers() {
        let layout = RecordLayout::new(SAMPLE_TID | SAMPLE_TIME | SAMPLE_IDENTIFIER, 0, 0, true).unwrap();
        let trailer = u64s(&[pair(5, 6), 99, 7]);
        let mut body = u64s(&[pair(5, 6), 0x40_0000, 0x1000, 0, pair(8, 1), 1234, 0, pair(5, 2)]);
        body.extend_from_slice(b"/bin/prog\0\0\0\0\0\0\0");
        body.extend_from_slice(&trailer);
        let bytes = record(RECORD_MMAP2, MISC_USER, &body);
        let Record::Mmap(m) = parse_record(&bytes, &layout).unwrap() else {
            panic!()
        };
        assert_eq!(m.filename, b"/bin/prog");
        assert_eq!(m.inode, Some((8, 1, 1234, 0)));
        assert_eq!((m.prot, m.flags), (Some(5), Some(2)));
        assert_eq!(m.sample_id.time, Some(99));
        assert_eq!(m.sample_id.id, Some(7));
        assert_eq!(m.mode, CpuMode::User);

        let mut body = u64s(&[pair(5, 6)]);
        body.extend_from_slice(b"prog\0\0\0\0");
        body.extend_from_slice(&trailer);
        let bytes = record(RECORD_COMM, MISC_COMM_EXEC, &body);
        let Record::Comm(c) = parse_record(&bytes, &layout).unwrap() else {
            panic!()
        };
        assert_eq!((c.comm, c.exec, c.sample_id.pid), (&b"prog"[..], true, Some(5)));

        let mut body = u64s(&[pair(5, 1), pair(5, 1), 77]);
        body.extend_from_slice(&trailer);
        assert!(matches!(
            parse_record(&record(RECORD_EXIT, 0, &body), &layout).unwrap(),
            Record::Exit(TaskEvent {
                pid: 5,
                ppid: 1,
                time: 77,
                ..
            })
        ));

        let mut body = u64s(&[7, 31]);
        body.extend_from_slice(&trailer);
        assert!(matches!(
            parse_record(&record(RECORD_LOST, 0, &body), &layout).unwrap(),
            Record::Lost(Lost {
                id: Some(7),
                lost: 31,
                samples: false,
                ..
            })
        ));

        let mut body = u64s(&[1, 7, 7]);
        body.extend_from_slice(&trailer);
        assert!(matches!(
            parse_record(&record(RECORD_UNTHROTTLE, 0, &body), &layout).unwrap(),
            Record::Throttle(Throttle {
                throttled: false,
                id: 7,
                ..
            })
        ));
    }

    #[test]
    fn old_mmap_records_have_no_inode_and_build_ids_replace_it() {
        let layout = RecordLayout::new(SAMPLE_TID, 0, 0, false).unwrap();
        let mut body = u64s(&[pair(5, 5), 0x1000, 0x2000, 0x3000]);
        body.extend_from_slice(b"[vdso]\0\0");
        let bytes = record(RECORD_MMAP, MISC_USER, &body);
        let Record::Mmap(m) = parse_record(&bytes, &layout).unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.addr, m.len, m.pgoff, m.filename),
            (0x1000, 0x2000, 0x3000, &b"[vdso]"[..])
        );
        assert_eq!((m.inode, m.prot, m.build_id), (None, None, None));
        // MMAP2 with PERF_RECORD_MISC_MMAP_BUILD_ID: size, 3 reserved, 20 bytes.
        let mut body = u64s(&[pair(5, 5), 0x1000, 0x2000, 0]);
        let mut id = vec![4u8, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        id.resize(24, 0);
        body.extend_from_slice(&id);
        body.extend_from_slice(&u64s(&[pair(5, 2)]));
        body.extend_from_slice(b"/lib/x\0\0");
        let bytes = record(RECORD_MMAP2, MISC_USER | MISC_MMAP_BUILD_ID, &body);
        let Record::Mmap(m) = parse_record(&bytes, &layout).unwrap() else {
            panic!()
        };
        assert_eq!(m.build_id, Some(&[0xde, 0xad, 0xbe, 0xef][..]));
        assert_eq!((m.inode, m.prot, m.filename), (None, Some(5), &b"/lib/x"[..]));
    }

    #[test]
    fn bad_input_is_an_error() {
        let layout = RecordLayout::new(SAMPLE_IP | SAMPLE_CALLCHAIN, 0, 0, false).unwrap();
        assert!(parse_record(&[], &layout).is_err());
        // A callchain claiming more entries than the record holds.
        let bytes = record(RECORD_SAMPLE, 0, &u64s(&[1, u64::MAX]));
        assert!(matches!(
            parse_record(&bytes, &layout),
            Err(RecordError::Truncated { .. })
        ));
        assert!(RecordLayout::new(1 << 11, 0, 0, false).is_err());
        let other = record(99, 0, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(matches!(
            parse_record(&other, &layout),
            Ok(Record::Other { type_: 99, .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            st in any::<u64>(),
            rf in any::<u64>(),
            regs in any::<u64>(),
            id_all in any::<bool>(),
            type_ in prop_oneof![Just(RECORD_SAMPLE), Just(RECORD_MMAP2), Just(RECORD_MMAP), Just(RECORD_COMM), Just(RECORD_LOST), Just(RECORD_EXIT), any::<u32>()],
        ) {
            if let Ok(layout) = RecordLayout::new(st & SUPPORTED, rf, regs, id_all) {
                let mut rec = bytes.clone();
                if rec.len() >= 8 {
                    rec[0..4].copy_from_slice(&type_.to_ne_bytes());
                    let size = (rec.len() as u16).to_ne_bytes();
                    rec[6..8].copy_from_slice(&size);
                }
                let _ = parse_record(&rec, &layout);
                let _ = parse_record(&bytes, &layout);
            }
        }
    }
}
