//! The record types and the layout attributes that shape them.

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
pub(super) const SUPPORTED: u64 = SAMPLE_IP
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
pub(super) const RECORD_MMAP: u32 = 1;
pub(super) const RECORD_LOST: u32 = 2;
pub(super) const RECORD_COMM: u32 = 3;
pub(super) const RECORD_EXIT: u32 = 4;
pub(super) const RECORD_THROTTLE: u32 = 5;
pub(super) const RECORD_UNTHROTTLE: u32 = 6;
pub(super) const RECORD_FORK: u32 = 7;
pub(super) const RECORD_SAMPLE: u32 = 9;
pub(super) const RECORD_MMAP2: u32 = 10;
pub(super) const RECORD_LOST_SAMPLES: u32 = 13;

// perf_event_header.misc bits.
pub(super) const MISC_CPUMODE_MASK: u16 = 7;
pub(super) const MISC_KERNEL: u16 = 1;
pub(super) const MISC_USER: u16 = 2;
/// On COMM: the name changed because of exec.
pub(super) const MISC_COMM_EXEC: u16 = 1 << 13;
/// On MMAP2: a build id replaces maj/min/ino/ino_generation (5.12+).
pub(super) const MISC_MMAP_BUILD_ID: u16 = 1 << 14;

// Callchain context markers (enum perf_callchain_context): values at or
// above PERF_CONTEXT_MAX (-4095) are markers, not addresses.
pub(super) const CONTEXT_KERNEL: u64 = -128i64 as u64;
pub(super) const CONTEXT_USER: u64 = -512i64 as u64;
pub(super) const CONTEXT_MAX: u64 = -4095i64 as u64;

// read_format bits.
pub(super) const FORMAT_TOTAL_TIME_ENABLED: u64 = sys::PERF_FORMAT_TOTAL_TIME_ENABLED;
pub(super) const FORMAT_TOTAL_TIME_RUNNING: u64 = sys::PERF_FORMAT_TOTAL_TIME_RUNNING;
pub(super) const FORMAT_ID: u64 = sys::PERF_FORMAT_ID;
pub(super) const FORMAT_GROUP: u64 = sys::PERF_FORMAT_GROUP;
pub(super) const FORMAT_LOST: u64 = 1 << 4;

/// The size of `struct perf_event_header`.
pub const HEADER_SIZE: usize = 8;

/// What the records of one ring look like: the attr fields that change the
/// layout. Every event sharing a ring must agree on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLayout {
    pub(super) sample_type: u64,
    pub(super) read_format: u64,
    pub(super) regs_user: u64,
    pub(super) sample_id_all: bool,
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

    pub(super) fn has(&self, bit: u64) -> bool {
        self.sample_type & bit != 0
    }

    /// Bytes of the sample_id_all trailer on non-sample records.
    pub(super) fn trailer_len(&self) -> usize {
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
