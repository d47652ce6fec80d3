//! perf ring-buffer records, parsed from bytes: SAMPLE (ip, tid, time,
//! cpu, period, callchain, raw, user registers and user stack), MMAP,
//! MMAP2, COMM, FORK, EXIT, LOST, LOST_SAMPLES, THROTTLE and UNTHROTTLE,
//! with the `sample_id_all` trailer of the non-sample records.
//!
//! The parser is pure and total: any byte string gives a [`Record`] or a
//! [`RecordError`], never a panic, so the same code reads a live mmap ring
//! and recorded data. Layouts follow `enum perf_event_type` in
//! include/uapi/linux/perf_event.h; multi-byte fields are in the host's
//! byte order, as the kernel writes them.
//!
//! ```
//! use ftr_pmu::{parse_record, Record, RecordLayout, SAMPLE_IP, SAMPLE_TID};
//! let layout = RecordLayout::new(SAMPLE_IP | SAMPLE_TID, 0, 0, true).unwrap();
//! let mut bytes = Vec::new();
//! bytes.extend_from_slice(&9u32.to_ne_bytes()); // PERF_RECORD_SAMPLE
//! bytes.extend_from_slice(&2u16.to_ne_bytes()); // misc: user
//! bytes.extend_from_slice(&24u16.to_ne_bytes()); // size
//! bytes.extend_from_slice(&0x401000u64.to_ne_bytes());
//! bytes.extend_from_slice(&7u32.to_ne_bytes());
//! bytes.extend_from_slice(&8u32.to_ne_bytes());
//! let Record::Sample(s) = parse_record(&bytes, &layout).unwrap() else { panic!() };
//! assert_eq!((s.ip, s.pid, s.tid), (Some(0x401000), Some(7), Some(8)));
//! ```

use crate::sys;

/// `PERF_SAMPLE_IP`: the instruction pointer.
pub const SAMPLE_IP: u64 = sys::PERF_SAMPLE_IP;
/// `PERF_SAMPLE_TID`: pid and tid.
pub const SAMPLE_TID: u64 = sys::PERF_SAMPLE_TID;
/// `PERF_SAMPLE_TIME`: the perf clock in nanoseconds.
pub const SAMPLE_TIME: u64 = sys::PERF_SAMPLE_TIME;
/// `PERF_SAMPLE_ADDR`: the data address (page faults, memory events).
pub const SAMPLE_ADDR: u64 = sys::PERF_SAMPLE_ADDR;
/// `PERF_SAMPLE_READ`: counter values (parsed over, not kept).
pub const SAMPLE_READ: u64 = sys::PERF_SAMPLE_READ;
/// `PERF_SAMPLE_CALLCHAIN`: kernel and user return addresses.
pub const SAMPLE_CALLCHAIN: u64 = sys::PERF_SAMPLE_CALLCHAIN;
/// `PERF_SAMPLE_ID`: the event id.
pub const SAMPLE_ID: u64 = sys::PERF_SAMPLE_ID;
/// `PERF_SAMPLE_CPU`: the CPU.
pub const SAMPLE_CPU: u64 = sys::PERF_SAMPLE_CPU;
/// `PERF_SAMPLE_PERIOD`: the events this sample stands for.
pub const SAMPLE_PERIOD: u64 = sys::PERF_SAMPLE_PERIOD;
/// `PERF_SAMPLE_STREAM_ID`: the id of the event's inherited parent.
pub const SAMPLE_STREAM_ID: u64 = sys::PERF_SAMPLE_STREAM_ID;
/// `PERF_SAMPLE_RAW`: a tracepoint's record, as tracefs formats describe it.
pub const SAMPLE_RAW: u64 = sys::PERF_SAMPLE_RAW;
/// `PERF_SAMPLE_REGS_USER`: user registers chosen by `sample_regs_user`.
pub const SAMPLE_REGS_USER: u64 = sys::PERF_SAMPLE_REGS_USER;
/// `PERF_SAMPLE_STACK_USER`: a copy of the user stack from the user sp up.
pub const SAMPLE_STACK_USER: u64 = sys::PERF_SAMPLE_STACK_USER;
/// `PERF_SAMPLE_WEIGHT`.
pub const SAMPLE_WEIGHT: u64 = sys::PERF_SAMPLE_WEIGHT;
/// `PERF_SAMPLE_DATA_SRC`.
pub const SAMPLE_DATA_SRC: u64 = sys::PERF_SAMPLE_DATA_SRC;
/// `PERF_SAMPLE_IDENTIFIER`: the event id, first in every record.
pub const SAMPLE_IDENTIFIER: u64 = sys::PERF_SAMPLE_IDENTIFIER;

/// The sample_type bits this parser reads; others change the layout in
/// ways it does not follow (branch stacks, interrupt registers, ...).
const SUPPORTED: u64 = SAMPLE_IP
    | SAMPLE_TID
    | SAMPLE_TIME
    | SAMPLE_ADDR
    | SAMPLE_READ
    | SAMPLE_CALLCHAIN
    | SAMPLE_ID
    | SAMPLE_CPU
    | SAMPLE_PERIOD
    | SAMPLE_STREAM_ID
    | SAMPLE_RAW
    | SAMPLE_REGS_USER
    | SAMPLE_STACK_USER
    | SAMPLE_WEIGHT
    | SAMPLE_DATA_SRC
    | SAMPLE_IDENTIFIER;

// enum perf_event_type.
const RECORD_MMAP: u32 = 1;
const RECORD_LOST: u32 = 2;
const RECORD_COMM: u32 = 3;
const RECORD_EXIT: u32 = 4;
const RECORD_THROTTLE: u32 = 5;
const RECORD_UNTHROTTLE: u32 = 6;
const RECORD_FORK: u32 = 7;
const RECORD_SAMPLE: u32 = 9;
const RECORD_MMAP2: u32 = 10;
const RECORD_LOST_SAMPLES: u32 = 13;

// perf_event_header.misc bits.
const MISC_CPUMODE_MASK: u16 = 7;
const MISC_KERNEL: u16 = 1;
const MISC_USER: u16 = 2;
/// On COMM: the name changed because of exec.
const MISC_COMM_EXEC: u16 = 1 << 13;
/// On MMAP2: a build id replaces maj/min/ino/ino_generation (5.12+).
const MISC_MMAP_BUILD_ID: u16 = 1 << 14;

// Callchain context markers (enum perf_callchain_context): values at or
// above PERF_CONTEXT_MAX (-4095) are markers, not addresses.
const CONTEXT_KERNEL: u64 = -128i64 as u64;
const CONTEXT_USER: u64 = -512i64 as u64;
const CONTEXT_MAX: u64 = -4095i64 as u64;

// read_format bits.
const FORMAT_TOTAL_TIME_ENABLED: u64 = sys::PERF_FORMAT_TOTAL_TIME_ENABLED;
const FORMAT_TOTAL_TIME_RUNNING: u64 = sys::PERF_FORMAT_TOTAL_TIME_RUNNING;
const FORMAT_ID: u64 = sys::PERF_FORMAT_ID;
const FORMAT_GROUP: u64 = sys::PERF_FORMAT_GROUP;
const FORMAT_LOST: u64 = 1 << 4;

/// The size of `struct perf_event_header`.
pub const HEADER_SIZE: usize = 8;

/// What the records of one ring look like: the attr fields that change the
/// layout. Every event sharing a ring must agree on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLayout {
    sample_type: u64,
    read_format: u64,
    regs_user: u64,
    sample_id_all: bool,
}

/// Why bytes did not parse as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than the header or a field needs.
    #[error("record truncated: {what} needs {need} bytes at offset {at}, {have} in the record")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Its offset in the record.
        at: usize,
        /// The bytes it needs.
        need: usize,
        /// The record's size.
        have: usize,
    },
    /// The header's size is below 8 or past the bytes given.
    #[error("record header says {size} bytes, {have} available")]
    BadSize {
        /// perf_event_header.size.
        size: usize,
        /// Bytes given.
        have: usize,
    },
    /// A sample_type bit this parser does not follow.
    #[error("sample_type {0:#x} has bits ftr does not parse")]
    UnsupportedSampleType(u64),
}

impl RecordLayout {
    /// The layout for `sample_type`, `read_format` (only read with
    /// [`SAMPLE_READ`]) and `sample_regs_user` (with [`SAMPLE_REGS_USER`]),
    /// with or without the `sample_id_all` trailer. Fails for sample_type
    /// bits outside the ones listed as `SAMPLE_*` in this module.
    pub fn new(
        sample_type: u64,
        read_format: u64,
        regs_user: u64,
        sample_id_all: bool,
    ) -> Result<RecordLayout, RecordError> {
        if sample_type & !SUPPORTED != 0 {
            return Err(RecordError::UnsupportedSampleType(sample_type & !SUPPORTED));
        }
        Ok(RecordLayout {
            sample_type,
            read_format,
            regs_user,
            sample_id_all,
        })
    }

    /// `perf_event_attr.sample_type`.
    pub fn sample_type(&self) -> u64 {
        self.sample_type
    }

    /// `perf_event_attr.sample_regs_user`.
    pub fn regs_user(&self) -> u64 {
        self.regs_user
    }

    fn has(&self, bit: u64) -> bool {
        self.sample_type & bit != 0
    }

    /// Bytes of the sample_id_all trailer on non-sample records.
    fn trailer_len(&self) -> usize {
        if !self.sample_id_all {
            return 0;
        }
        [
            SAMPLE_TID,
            SAMPLE_TIME,
            SAMPLE_ID,
            SAMPLE_STREAM_ID,
            SAMPLE_CPU,
            SAMPLE_IDENTIFIER,
        ]
        .iter()
        .filter(|&&b| self.has(b))
        .count()
            * 8
    }
}

/// Where a sample or record came from, from `header.misc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuMode {
    /// The kernel.
    Kernel,
    /// User space.
    User,
    /// The hypervisor, a guest, or unknown.
    Other,
}

/// The `sample_id_all` fields of a non-sample record (and the same fields
/// of a sample), each present when sample_type asks for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleId {
    /// Process id.
    pub pid: Option<u32>,
    /// Thread id.
    pub tid: Option<u32>,
    /// perf clock, nanoseconds.
    pub time: Option<u64>,
    /// The event's id (`PERF_SAMPLE_ID` or `PERF_SAMPLE_IDENTIFIER`).
    pub id: Option<u64>,
    /// The stream id.
    pub stream_id: Option<u64>,
    /// The CPU.
    pub cpu: Option<u32>,
}

/// A callchain split at the kernel's context markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callchain {
    /// Kernel frames, innermost first (the first is the sampled ip when
    /// the sample hit the kernel).
    pub kernel: Vec<u64>,
    /// User frames, innermost first: the user ip (where the task was in
    /// user space), then return addresses.
    pub user: Vec<u64>,
    /// Frames in hypervisor or guest contexts, kept apart.
    pub other: Vec<u64>,
}

/// The user registers of a sample, in `sample_regs_user` bit order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRegs {
    /// `PERF_SAMPLE_REGS_ABI_*`: 0 none (a kernel thread), 1 32-bit, 2 64-bit.
    pub abi: u64,
    /// The mask the values follow.
    pub mask: u64,
    /// One value per set bit of `mask`, lowest bit first.
    pub values: Vec<u64>,
}

impl UserRegs {
    /// The value of perf register number `reg` (a bit of the mask), e.g.
    /// [`crate::X86_64_SP`]; None when not sampled or the ABI is none.
    pub fn get(&self, reg: u32) -> Option<u64> {
        if reg >= 64 || self.mask & (1 << reg) == 0 || self.abi == 0 {
            return None;
        }
        let below = (self.mask & ((1u64 << reg) - 1)).count_ones() as usize;
        self.values.get(below).copied()
    }
}

/// A PERF_RECORD_SAMPLE. Fields are `Some` when sample_type asks for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample<'a> {
    /// Where the sample hit.
    pub mode: Option<CpuMode>,
    /// Instruction pointer.
    pub ip: Option<u64>,
    /// Process id.
    pub pid: Option<u32>,
    /// Thread id.
    pub tid: Option<u32>,
    /// perf clock, nanoseconds.
    pub time: Option<u64>,
    /// Data address.
    pub addr: Option<u64>,
    /// The event's id.
    pub id: Option<u64>,
    /// Stream id.
    pub stream_id: Option<u64>,
    /// CPU.
    pub cpu: Option<u32>,
    /// Events this sample stands for.
    pub period: Option<u64>,
    /// Return addresses, split by context.
    pub callchain: Option<Callchain>,
    /// The tracepoint record (decode with the event's tracefs format).
    pub raw: Option<&'a [u8]>,
    /// User registers.
    pub regs_user: Option<UserRegs>,
    /// The user stack copied from the user sp upwards, trimmed to what the
    /// kernel actually copied (`dyn_size`).
    pub stack_user: Option<&'a [u8]>,
    /// PERF_SAMPLE_WEIGHT.
    pub weight: Option<u64>,
    /// PERF_SAMPLE_DATA_SRC.
    pub data_src: Option<u64>,
}

/// A PERF_RECORD_MMAP or PERF_RECORD_MMAP2: an executable (or, with
/// mmap_data, data) mapping of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mmap<'a> {
    /// Process id (-1 as u32 for kernel maps).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Start address.
    pub addr: u64,
    /// Length.
    pub len: u64,
    /// File offset of `addr`.
    pub pgoff: u64,
    /// MMAP2's device, inode and generation: `(maj, min, ino, ino_generation)`.
    pub inode: Option<(u32, u32, u64, u64)>,
    /// MMAP2's build id, where the kernel sent it instead of the inode.
    pub build_id: Option<&'a [u8]>,
    /// MMAP2's `PROT_*`.
    pub prot: Option<u32>,
    /// MMAP2's `MAP_*`.
    pub flags: Option<u32>,
    /// The path (or `[vdso]`, `//anon`, ...), without the NUL padding.
    pub filename: &'a [u8],
    /// Where it was mapped: user or kernel.
    pub mode: CpuMode,
    /// The trailer.
    pub sample_id: SampleId,
}

/// A process or thread start (FORK) or end (EXIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEvent {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Thread id.
    pub tid: u32,
    /// Parent thread id.
    pub ptid: u32,
    /// perf clock, nanoseconds.
    pub time: u64,
    /// The trailer.
    pub sample_id: SampleId,
}

/// A task's name, set at exec or by prctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comm<'a> {
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The name, without NUL padding.
    pub comm: &'a [u8],
    /// Whether exec set it.
    pub exec: bool,
    /// The trailer.
    pub sample_id: SampleId,
}

/// Records the kernel dropped because the ring was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// The event's id (LOST only).
    pub id: Option<u64>,
    /// How many records were dropped.
    pub lost: u64,
    /// Whether these were samples the PMU could not record
    /// (PERF_RECORD_LOST_SAMPLES) rather than ring overflow.
    pub samples: bool,
    /// The trailer.
    pub sample_id: SampleId,
}

/// The kernel throttled (or unthrottled) an event that sampled too often
/// (`perf_event_max_sample_rate`, `perf_cpu_time_max_percent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// true for THROTTLE, false for UNTHROTTLE.
    pub throttled: bool,
    /// perf clock, nanoseconds.
    pub time: u64,
    /// The event's id.
    pub id: u64,
    /// The stream id.
    pub stream_id: u64,
    /// The trailer.
    pub sample_id: SampleId,
}

/// One parsed ring-buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// PERF_RECORD_SAMPLE.
    Sample(Sample<'a>),
    /// PERF_RECORD_MMAP or PERF_RECORD_MMAP2.
    Mmap(Mmap<'a>),
    /// PERF_RECORD_COMM.
    Comm(Comm<'a>),
    /// PERF_RECORD_FORK.
    Fork(TaskEvent),
    /// PERF_RECORD_EXIT.
    Exit(TaskEvent),
    /// PERF_RECORD_LOST or PERF_RECORD_LOST_SAMPLES.
    Lost(Lost),
    /// PERF_RECORD_THROTTLE or PERF_RECORD_UNTHROTTLE.
    Throttle(Throttle),
    /// Any other record type, with its body.
    Other {
        /// perf_event_header.type.
        type_: u32,
        /// perf_event_header.misc.
        misc: u16,
        /// The bytes after the header.
        body: &'a [u8],
    },
}

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
