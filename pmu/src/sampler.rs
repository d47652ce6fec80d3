//! Sampling: events opened per CPU or per task with an mmap'd ring each,
//! read without blocking shutdown, records parsed and LOST counted.
//!
//! One ring per CPU (or one for a task opened with cpu -1): the first
//! event of each CPU owns it and the others are redirected into it with
//! PERF_EVENT_IOC_SET_OUTPUT, so a tool polls one descriptor per CPU
//! whatever the number of events. Every record carries
//! PERF_SAMPLE_IDENTIFIER, which maps it back to its source.
//!
//! ```no_run
//! use ftr_pmu::{online_cpus, SampleRate, SampleSource, SampleTarget, SamplerBuilder};
//! let mut sampler = SamplerBuilder::new(SampleTarget::Cpus(online_cpus()?))
//!     .source(SampleSource::cpu_clock())
//!     .rate(SampleRate::Frequency(99))
//!     .callchain(true)
//!     .open()?;
//! sampler.enable()?;
//! sampler.wait(Some(std::time::Duration::from_secs(1)), None)?;
//! sampler.drain(|record, origin| println!("{:?} {record:?}", origin.cpu))?;
//! println!("lost {}", sampler.stats().lost);
//! # Ok::<(), ftr_pmu::Error>(())
//! ```

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::access::{classify_perf_error, errno_text, read_text, Access, MAX_PARANOID_RAW_TRACEPOINT};
use crate::cpus::online_cpus;
use crate::error::Error;
use crate::events::{EventSpec, EVENT_SOURCE_DEVICES, TYPE_HARDWARE, TYPE_TRACEPOINT};
use crate::record::RecordError;
use crate::record::{
    parse_record, record_size, Record, RecordLayout, HEADER_SIZE, SAMPLE_CALLCHAIN, SAMPLE_CPU,
    SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_PERIOD, SAMPLE_RAW, SAMPLE_REGS_USER, SAMPLE_STACK_USER, SAMPLE_TID,
    SAMPLE_TIME,
};
use crate::sorter::RecordSorter;
use crate::source::SampleSource;
use crate::sys::{self, CounterIoctl, PerfEventAttr, RingMap};

/// `kernel.perf_event_max_sample_rate`.
const MAX_SAMPLE_RATE: &str = "/proc/sys/kernel/perf_event_max_sample_rate";
/// `kernel.perf_event_mlock_kb`, named in ring mapping errors.
const MLOCK_KB: &str = "/proc/sys/kernel/perf_event_mlock_kb";
/// The largest user stack copy the kernel takes: the sample's u16 size
/// must hold it with the header and the other fields (`perf_sample_ustack_size`).
pub const MAX_USER_STACK: u32 = 65_528 - 4096;
/// Data pages per ring when not set: 256 KiB with 4 KiB pages.
const DEFAULT_RING_PAGES: usize = 64;

/// What to sample on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleTarget {
    /// Everything that runs on these CPUs (pid -1); needs
    /// `perf_event_paranoid <= 0` or CAP_PERFMON.
    Cpus(Vec<u32>),
    /// One task. With `inherit`, its future children and threads too;
    /// the kernel only maps inherited events opened per CPU, so this opens
    /// one ring per online CPU. Without, one ring with cpu -1.
    Task {
        /// The pid (or tid).
        pid: i32,
        /// Follow children created after opening.
        inherit: bool,
    },
    /// Every thread of a running process (listed from /proc/PID/task when
    /// opening, as `perf record -p` does), each opened on every online
    /// CPU, one shared ring per CPU. With `inherit`, children and threads
    /// created later too.
    Process {
        /// The process id.
        pid: i32,
        /// Follow children and threads created after opening.
        inherit: bool,
    },
}

/// The thread ids of a process, from /proc/PID/task.
fn process_threads(pid: i32) -> Result<Vec<i32>, Error> {
    let dir = Path::new("/proc").join(pid.to_string()).join("task");
    let entries = std::fs::read_dir(&dir).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::NoSuchProcess { pid },
        _ => Error::Read {
            path: dir.clone(),
            source,
        },
    })?;
    let mut tids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    if tids.is_empty() {
        return Err(Error::NoSuchProcess { pid });
    }
    Ok(tids)
}

/// How often to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRate {
    /// About this many samples per second of the event's time (`-F`,
    /// `sample_freq` with the freq bit); the kernel adjusts the period.
    Frequency(u64),
    /// One sample every this many events (`-c`, `sample_period`); 1 for
    /// tracepoints and probes gives every event.
    Period(u64),
}

/// When poll reports a ring readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// After this many samples (`wakeup_events`).
    Events(u32),
    /// After this many bytes (`wakeup_watermark` with the watermark bit).
    Bytes(u32),
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The ring's CPU (None for a task ring opened with cpu -1).
    pub cpu: Option<u32>,
    /// The index of its source in [`Sampler::sources`], from the record's
    /// identifier (None for records without one).
    pub event: Option<usize>,
}

/// Why [`Sampler::wait`] returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Some ring reached its wakeup point.
    pub data: bool,
    /// Every traced task exited (POLLHUP on each task ring): drain once
    /// more and stop. A ring answers for the task that opened it (with
    /// inherit, once its children are gone too); for
    /// [`SampleTarget::Process`] that is the lowest thread id, normally
    /// the main thread. CPU-wide rings never hang up.
    pub hangup: bool,
    /// The wake descriptor fired (shutdown requested).
    pub woken: bool,
}

/// Counts since opening, over every ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplerStats {
    /// Records read (of every type).
    pub records: u64,
    /// SAMPLE records read.
    pub samples: u64,
    /// Bytes read from the rings.
    pub bytes: u64,
    /// Records the kernel dropped because a ring was full (the sum of
    /// every PERF_RECORD_LOST).
    pub lost: u64,
    /// PERF_RECORD_LOST records seen.
    pub lost_records: u64,
    /// Samples the PMU could not write (PERF_RECORD_LOST_SAMPLES).
    pub lost_samples: u64,
    /// PERF_RECORD_THROTTLE records: the kernel slowed an event down.
    pub throttles: u64,
}

/// Options for [`SamplerBuilder::open`]; see each setter.
#[derive(Debug, Clone)]
pub struct SamplerBuilder {
    target: SampleTarget,
    sources: Vec<SampleSource>,
    rate: SampleRate,
    callchain: bool,
    max_stack: Option<u16>,
    raw: Option<bool>,
    regs_user: u64,
    stack_user: u32,
    exclude_user: bool,
    exclude_kernel: bool,
    track_tasks: bool,
    ring_pages: usize,
    wakeup: Option<Wakeup>,
    enable_on_exec: bool,
    pmu_root: PathBuf,
}

struct Ring {
    map: RingMap,
    /// Index of the owning descriptor in `Sampler::fds`.
    fd: usize,
    cpu: Option<u32>,
    label: String,
}

/// Open sampling events and their rings. Dropping it unmaps the rings and
/// closes every event; nothing global is left (probe PMU events vanish
/// with their descriptor).
pub struct Sampler {
    fds: Vec<OwnedFd>,
    rings: Vec<Ring>,
    ids: HashMap<u64, usize>,
    sources: Vec<SampleSource>,
    notes: Vec<String>,
    layout: RecordLayout,
    stats: SamplerStats,
    buf: Vec<u8>,
    /// Records read by [`Sampler::drain_ordered`] and not yet final.
    sorter: RecordSorter<(usize, Vec<u8>)>,
}

impl SamplerBuilder {
    /// A sampler on `target` with no source yet, period 1, no callchain,
    /// 64 data pages per ring, the kernel's default wakeup (half a ring).
    pub fn new(target: SampleTarget) -> SamplerBuilder {
        SamplerBuilder {
            target,
            sources: Vec::new(),
            rate: SampleRate::Period(1),
            callchain: false,
            max_stack: None,
            raw: None,
            regs_user: 0,
            stack_user: 0,
            exclude_user: false,
            exclude_kernel: false,
            track_tasks: false,
            ring_pages: DEFAULT_RING_PAGES,
            wakeup: None,
            enable_on_exec: false,
            pmu_root: PathBuf::from(EVENT_SOURCE_DEVICES),
        }
    }

    /// Adds an event to sample; records name it by its index, in the
    /// order added ([`Origin::event`]).
    pub fn source(mut self, source: SampleSource) -> SamplerBuilder {
        self.sources.push(source);
        self
    }

    /// Sets frequency or period sampling for every source.
    pub fn rate(mut self, rate: SampleRate) -> SamplerBuilder {
        self.rate = rate;
        self
    }

    /// Records callchains (PERF_SAMPLE_CALLCHAIN), kernel and user.
    pub fn callchain(mut self, on: bool) -> SamplerBuilder {
        self.callchain = on;
        self
    }

    /// Caps callchains at `frames` (`sample_max_stack`, Linux 4.8+;
    /// otherwise `kernel.perf_event_max_stack`, 127 by default).
    pub fn max_stack(mut self, frames: u16) -> SamplerBuilder {
        self.max_stack = Some(frames);
        self
    }

    /// Asks for RAW data; by default on when any source is a tracepoint
    /// or a probe.
    pub fn raw(mut self, on: bool) -> SamplerBuilder {
        self.raw = Some(on);
        self
    }

    /// Samples these user registers (`sample_regs_user`, perf register
    /// numbers as bits; see [`crate::RegisterArch::unwind_mask`]).
    pub fn user_regs(mut self, mask: u64) -> SamplerBuilder {
        self.regs_user = mask;
        self
    }

    /// Copies up to `bytes` of user stack per sample (a multiple of 8, at
    /// most [`MAX_USER_STACK`]), for DWARF unwinding.
    pub fn user_stack(mut self, bytes: u32) -> SamplerBuilder {
        self.stack_user = bytes;
        self
    }

    /// Ignores samples in user space (`:k`).
    pub fn exclude_user(mut self, on: bool) -> SamplerBuilder {
        self.exclude_user = on;
        self
    }

    /// Ignores samples in the kernel (`:u`); needed under
    /// `perf_event_paranoid=2` without CAP_PERFMON.
    pub fn exclude_kernel(mut self, on: bool) -> SamplerBuilder {
        self.exclude_kernel = on;
        self
    }

    /// Adds MMAP2 (executable mappings), COMM (names, exec) and FORK/EXIT
    /// records, from the first source.
    pub fn track_tasks(mut self, on: bool) -> SamplerBuilder {
        self.track_tasks = on;
        self
    }

    /// Sets the data pages of each ring (a power of two, at least 1).
    pub fn ring_pages(mut self, pages: usize) -> SamplerBuilder {
        self.ring_pages = pages;
        self
    }

    /// Sets when poll wakes (default: the kernel's, half a ring).
    pub fn wakeup(mut self, wakeup: Wakeup) -> SamplerBuilder {
        self.wakeup = Some(wakeup);
        self
    }

    /// Starts sampling at the task's next exec instead of at
    /// [`Sampler::enable`] (a command held by [`crate::Workload`]).
    pub fn enable_on_exec(mut self, on: bool) -> SamplerBuilder {
        self.enable_on_exec = on;
        self
    }

    /// Reads the probe PMUs under `root` instead of
    /// /sys/bus/event_source/devices.
    pub fn pmu_root(mut self, root: impl Into<PathBuf>) -> SamplerBuilder {
        self.pmu_root = root.into();
        self
    }

    fn sample_type(&self) -> u64 {
        let mut st = SAMPLE_IDENTIFIER | SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_PERIOD;
        if self.callchain {
            st |= SAMPLE_CALLCHAIN;
        }
        if self
            .raw
            .unwrap_or_else(|| self.sources.iter().any(SampleSource::has_raw))
        {
            st |= SAMPLE_RAW;
        }
        if self.regs_user != 0 {
            st |= SAMPLE_REGS_USER;
        }
        if self.stack_user != 0 {
            st |= SAMPLE_STACK_USER;
        }
        st
    }

    fn check(&self) -> Result<(), Error> {
        if self.sources.is_empty() {
            return Err(Error::SampleConfig("no event to sample".into()));
        }
        if self.ring_pages == 0 || !self.ring_pages.is_power_of_two() {
            return Err(Error::SampleConfig(format!(
                "ring buffer pages must be a power of two, not {}",
                self.ring_pages
            )));
        }
        if self.stack_user & 7 != 0 || self.stack_user > MAX_USER_STACK {
            return Err(Error::SampleConfig(format!(
                "user stack size must be a multiple of 8 up to {MAX_USER_STACK}, not {}",
                self.stack_user
            )));
        }
        match self.rate {
            SampleRate::Period(0) | SampleRate::Frequency(0) => {
                return Err(Error::SampleConfig("a sampling period or frequency of 0".into()))
            }
            SampleRate::Frequency(hz) => {
                // The kernel answers EINVAL above the sysctl
                // (`perf_event_open` in kernel/events/core.c); say which.
                if let Ok(text) = read_text(Path::new(MAX_SAMPLE_RATE)) {
                    if let Ok(max) = text.trim().parse::<u64>() {
                        if hz > max {
                            return Err(Error::SampleRate { requested: hz, max });
                        }
                    }
                }
            }
            SampleRate::Period(_) => {}
        }
        if let SampleTarget::Cpus(cpus) = &self.target {
            if cpus.is_empty() {
                return Err(Error::SampleConfig("no CPU to sample on".into()));
            }
        }
        Ok(())
    }

    fn attr(&self, spec: &crate::source::ResolvedSource, sample_type: u64, tracking: bool) -> PerfEventAttr {
        let mut flags = sys::ATTR_DISABLED | sys::ATTR_SAMPLE_ID_ALL;
        if matches!(
            self.target,
            SampleTarget::Task { inherit: true, .. } | SampleTarget::Process { inherit: true, .. }
        ) {
            flags |= sys::ATTR_INHERIT;
        }
        if self.enable_on_exec {
            flags |= sys::ATTR_ENABLE_ON_EXEC;
        }
        if self.exclude_user {
            flags |= sys::ATTR_EXCLUDE_USER;
        }
        if self.exclude_kernel {
            flags |= sys::ATTR_EXCLUDE_KERNEL;
        }
        if tracking {
            flags |= sys::ATTR_MMAP | sys::ATTR_MMAP2 | sys::ATTR_COMM | sys::ATTR_COMM_EXEC | sys::ATTR_TASK;
        }
        let period = match self.rate {
            SampleRate::Frequency(hz) => {
                flags |= sys::ATTR_FREQ;
                hz
            }
            SampleRate::Period(n) => n,
        };
        let (watermark, wakeup_events) = match self.wakeup {
            None => (false, 0),
            Some(Wakeup::Events(n)) => (false, n),
            Some(Wakeup::Bytes(n)) => (true, n),
        };
        if watermark {
            flags |= sys::ATTR_WATERMARK;
        }
        PerfEventAttr {
            type_: spec.type_,
            config: spec.config,
            config1: spec.config1,
            config2: spec.config2,
            sample_period: period,
            sample_type,
            flags,
            wakeup_events,
            sample_regs_user: self.regs_user,
            sample_stack_user: self.stack_user,
            sample_max_stack: self.max_stack.unwrap_or(0),
            ..PerfEventAttr::default()
        }
    }

    /// Opens every source on every CPU or task of the target and maps one
    /// ring per CPU (per task with cpu -1). Events start disabled: call
    /// [`Sampler::enable`], or let the task's exec start them with
    /// [`SamplerBuilder::enable_on_exec`].
    ///
    /// `cycles` (and `cpu-cycles`) on a machine without a hardware PMU
    /// falls back to `cpu-clock` as perf does; [`Sampler::notes`] says so.
    ///
    /// Fails with [`Error::SampleConfig`] / [`Error::SampleRate`] before any
    /// syscall for bad options, [`Error::NoSuchProcess`] for a dead task,
    /// [`Error::Open`] when the kernel refuses an event (the hint names
    /// `kernel.perf_event_paranoid` and the value needed, or says which
    /// event is unsupported), [`Error::Ring`] when a ring cannot be mapped.
    pub fn open(self) -> Result<Sampler, Error> {
        self.check()?;
        let per_cpu = |tids: &[i32]| -> Result<Vec<(i32, i32)>, Error> {
            let cpus = online_cpus()?;
            Ok(tids
                .iter()
                .flat_map(|&t| cpus.iter().map(move |&c| (t, c as i32)))
                .collect())
        };
        let units: Vec<(i32, i32)> = match &self.target {
            SampleTarget::Cpus(cpus) => cpus.iter().map(|&c| (-1, c as i32)).collect(),
            SampleTarget::Task { pid, inherit: true } => per_cpu(&[*pid])?,
            SampleTarget::Task { pid, inherit: false } => vec![(*pid, -1)],
            SampleTarget::Process { pid, .. } => per_cpu(&process_threads(*pid)?)?,
        };
        // A thread of a process that exits while it is being opened is
        // skipped; the process must keep at least one.
        let skip_gone = matches!(self.target, SampleTarget::Process { .. });
        let sample_type = self.sample_type();
        let layout = RecordLayout::new(sample_type, 0, self.regs_user, true)
            .map_err(|e| Error::SampleConfig(e.to_string()))?;
        let mut sources = self.sources.clone();
        let mut resolved = Vec::with_capacity(sources.len());
        for s in &sources {
            resolved.push(s.resolve(&self.pmu_root)?);
        }
        let mut sampler = Sampler {
            fds: Vec::new(),
            rings: Vec::new(),
            ids: HashMap::new(),
            sources: Vec::new(),
            notes: Vec::new(),
            layout,
            stats: SamplerStats::default(),
            buf: Vec::new(),
            sorter: RecordSorter::new(),
        };
        // Per-CPU events share their CPU's ring whatever their task (the
        // kernel allows PERF_EVENT_IOC_SET_OUTPUT across tasks on one CPU,
        // `perf_event_set_output`); a cpu -1 task event has its own.
        let mut owners: HashMap<(i32, i32), usize> = HashMap::new();
        let mut gone = Vec::new();
        'units: for &(pid, cpu) in &units {
            let key = if cpu >= 0 { (-1, cpu) } else { (pid, -1) };
            for i in 0..sources.len() {
                let attr = self.attr(&resolved[i], sample_type, self.track_tasks && i == 0);
                let fd = match sys::perf_event_open(&attr, pid, cpu, None, 0) {
                    Ok(fd) => fd,
                    Err(e) if skip_gone && e.raw_os_error() == Some(libc::ESRCH) => {
                        gone.push(pid);
                        continue 'units;
                    }
                    Err(e) if is_unsupported(&e) && is_cycles(&sources[i]) => {
                        let fallback = cpu_clock_like(&sources[i]);
                        sampler.notes.push(format!(
                            "{} is not supported here ({}: no hardware PMU?); sampling cpu-clock instead",
                            sources[i].name(),
                            errno_text(&e)
                        ));
                        sources[i] = fallback;
                        resolved[i] = sources[i].resolve(&self.pmu_root)?;
                        let attr = self.attr(&resolved[i], sample_type, self.track_tasks && i == 0);
                        sys::perf_event_open(&attr, pid, cpu, None, 0)
                            .map_err(|e| self.open_error(e, &sources[i], pid, cpu))?
                    }
                    Err(e) => return Err(self.open_error(e, &sources[i], pid, cpu)),
                };
                let target = target_text(pid, cpu);
                let index = sampler.fds.len();
                match owners.get(&key).copied() {
                    None => {
                        let map = RingMap::map(fd.as_fd(), self.ring_pages).map_err(|e| Error::Ring {
                            event: sources[i].name(),
                            target: target.clone(),
                            pages: self.ring_pages,
                            hint: ring_hint(&e),
                            source: e,
                        })?;
                        sampler.rings.push(Ring {
                            map,
                            fd: index,
                            cpu: (cpu >= 0).then_some(cpu as u32),
                            // A per-CPU ring holds every task's records on
                            // that CPU, whichever task opened it.
                            label: if cpu >= 0 {
                                format!("CPU {cpu}")
                            } else {
                                target.clone()
                            },
                        });
                        owners.insert(key, index);
                    }
                    Some(o) => {
                        sys::perf_event_set_output(fd.as_fd(), sampler.fds[o].as_fd()).map_err(|e| {
                            Error::Open {
                                event: sources[i].name(),
                                target: target.clone(),
                                hint: format!(
                                    "{}: could not share the ring of {}",
                                    errno_text(&e),
                                    sources[0].name()
                                ),
                                source: e,
                            }
                        })?;
                    }
                }
                let id = sys::perf_event_id(fd.as_fd()).map_err(|e| Error::Open {
                    event: sources[i].name(),
                    target,
                    hint: format!("{}: PERF_EVENT_IOC_ID needs Linux 3.12+", errno_text(&e)),
                    source: e,
                })?;
                sampler.ids.insert(id, i);
                sampler.fds.push(fd);
            }
        }
        if let SampleTarget::Process { pid, .. } = self.target {
            if sampler.fds.is_empty() {
                return Err(Error::NoSuchProcess { pid });
            }
            gone.dedup();
            if !gone.is_empty() {
                sampler.notes.push(format!(
                    "{} thread(s) of pid {pid} exited while sampling was set up: {gone:?}",
                    gone.len()
                ));
            }
        }
        sampler.sources = sources;
        Ok(sampler)
    }

    fn open_error(&self, e: io::Error, source: &SampleSource, pid: i32, cpu: i32) -> Error {
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Error::NoSuchProcess { pid };
        }
        let target = target_text(pid, cpu);
        if e.raw_os_error() == Some(libc::EMFILE) {
            return Error::Open {
                event: source.name(),
                target,
                hint: format!("{}: too many open files; raise `ulimit -n`", errno_text(&e)),
                source: e,
            };
        }
        let tracepoint = source.spec().is_some_and(|s| s.type_ == TYPE_TRACEPOINT);
        // perf_allow_cpu (<= 0) for CPU-wide events, perf_allow_kernel
        // (<= 1) for kernel samples, and raw tracepoint samples CPU-wide
        // need -1 (`perf_trace_event_perm`).
        let max = if pid < 0 && tracepoint {
            MAX_PARANOID_RAW_TRACEPOINT
        } else if pid < 0 {
            0
        } else if !self.exclude_kernel {
            1
        } else {
            2
        };
        let missing = match source {
            SampleSource::Event(spec) if spec.type_ == TYPE_HARDWARE => {
                format!("{} needs a hardware PMU, which this machine lacks", spec.name)
            }
            SampleSource::Event(spec) if spec.type_ == TYPE_TRACEPOINT => {
                format!("perf refused tracepoint {} (id {})", spec.name, spec.config)
            }
            SampleSource::Event(spec) => format!("the kernel cannot sample {}", spec.name),
            SampleSource::Uprobe { path, .. } => format!(
                "the uprobe PMU refused it (is {} an ELF file and the offset on an instruction?)",
                path.display()
            ),
            SampleSource::Kprobe { function, .. } => {
                format!("the kprobe PMU refused it (is {function} a probeable kernel function?)")
            }
        };
        let access = Access::read(Path::new("/proc"), Path::new("/sys"));
        Error::Open {
            event: source.name(),
            target,
            hint: classify_perf_error(&e, max, &access, &missing)
                .detail()
                .to_owned(),
            source: e,
        }
    }
}

fn target_text(pid: i32, cpu: i32) -> String {
    match (pid, cpu) {
        (p, c) if p >= 0 && c >= 0 => format!("pid {p} on CPU {c}"),
        (p, _) if p >= 0 => format!("pid {p}"),
        (_, c) => format!("CPU {c}"),
    }
}

fn ring_hint(e: &io::Error) -> String {
    let errno = errno_text(e);
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOMEM) => {
            let mlock = read_text(Path::new(MLOCK_KB))
                .map(|t| format!("kernel.perf_event_mlock_kb={}", t.trim()))
                .unwrap_or_else(|_| "kernel.perf_event_mlock_kb".to_owned());
            format!("{errno}: over {mlock} and RLIMIT_MEMLOCK; use fewer ring pages or run as root")
        }
        Some(libc::EINVAL) => {
            format!("{errno}: the kernel rejected the ring size or this event cannot be mapped")
        }
        _ => errno,
    }
}

fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) | Some(libc::ENXIO)
    )
}

/// perf falls back from `cycles` only (`evsel__fallback` in perf's
/// util/evsel.c).
fn is_cycles(source: &SampleSource) -> bool {
    source
        .spec()
        .is_some_and(|s| s.type_ == TYPE_HARDWARE && s.config == sys::PERF_COUNT_HW_CPU_CYCLES)
}

fn cpu_clock_like(source: &SampleSource) -> SampleSource {
    let mut spec: EventSpec = EventSpec::software("cpu-clock").expect("cpu-clock is a software event");
    if let Some(old) = source.spec() {
        spec.exclude = old.exclude;
    }
    SampleSource::Event(spec)
}

impl Sampler {
    /// The sources as opened (after any fallback), indexed by
    /// [`Origin::event`].
    pub fn sources(&self) -> &[SampleSource] {
        &self.sources
    }

    /// What was changed to make the sampler open, e.g. "cycles is not
    /// supported here (...); sampling cpu-clock instead". Tools print these.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The record layout of every ring, for parsing recorded data the
    /// same way.
    pub fn layout(&self) -> &RecordLayout {
        &self.layout
    }

    /// The CPUs of the rings (empty for a task ring with cpu -1).
    pub fn cpus(&self) -> Vec<u32> {
        self.rings.iter().filter_map(|r| r.cpu).collect()
    }

    /// Counts since opening: records, samples, lost.
    pub fn stats(&self) -> SamplerStats {
        self.stats
    }

    fn ioctl_all(&self, op: CounterIoctl, what: &'static str) -> Result<(), Error> {
        for fd in &self.fds {
            sys::perf_event_ioctl(fd.as_fd(), op, false).map_err(|source| Error::Counter {
                what,
                event: self.sources.first().map(SampleSource::name).unwrap_or_default(),
                source,
            })?;
        }
        Ok(())
    }

    /// Starts sampling on every CPU or task.
    pub fn enable(&self) -> Result<(), Error> {
        self.ioctl_all(CounterIoctl::Enable, "enable")
    }

    /// Stops sampling; records already in the rings can still be drained.
    pub fn disable(&self) -> Result<(), Error> {
        self.ioctl_all(CounterIoctl::Disable, "disable")
    }

    /// Waits until a ring reaches its wakeup point, every traced task has
    /// exited, `wake` becomes readable (an eventfd written on Ctrl-C), or
    /// `timeout` passes (None: no timeout). EINTR counts as a timeout.
    pub fn wait(&self, timeout: Option<Duration>, wake: Option<BorrowedFd<'_>>) -> Result<Readiness, Error> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds: Vec<PollFd> = self
            .rings
            .iter()
            .map(|r| PollFd::new(self.fds[r.fd].as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(w) = wake {
            fds.push(PollFd::new(w, PollFlags::POLLIN));
        }
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        match poll(&mut fds, t) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Readiness::default()),
            Err(e) => return Err(Error::Poll(e.into())),
        }
        let n = self.rings.len();
        let has = |f: &PollFd, flags: PollFlags| f.revents().is_some_and(|r| r.intersects(flags));
        Ok(Readiness {
            data: fds[..n].iter().any(|f| has(f, PollFlags::POLLIN)),
            hangup: n > 0
                && fds[..n]
                    .iter()
                    .all(|f| has(f, PollFlags::POLLHUP | PollFlags::POLLERR)),
            woken: fds[n..].iter().any(|f| has(f, PollFlags::POLLIN)),
        })
    }

    /// Reads every record now in every ring, hands each to `f` with its
    /// origin, and frees the space. LOST, LOST_SAMPLES and THROTTLE records
    /// are counted in [`Sampler::stats`] and passed on too.
    ///
    /// The kernel reports a ring's losses with the next record it manages
    /// to write to that ring (`perf_output_begin` in
    /// kernel/events/ring_buffer.c), so losses just before a run ends, on a
    /// ring that receives nothing afterwards, are never reported to anyone
    /// (perf has the same blind spot). Bigger rings and prompt draining
    /// make them rare.
    ///
    /// Each ring's pending bytes are copied out and the tail released
    /// before the records are parsed, so the kernel can reuse the space at
    /// once and a record never needs reassembly where it wraps.
    ///
    /// Returns the number of records read. Fails with [`Error::Record`]
    /// when a ring held a record that does not parse; the rest of the
    /// rings are still read and the bad bytes are consumed, so the next
    /// call continues after them.
    pub fn drain(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let mut first_error = None;
        let mut read = 0;
        for ring in &self.rings {
            if let Err(e) = take_ring(ring, &mut self.buf, &mut self.stats) {
                first_error.get_or_insert(e);
                continue;
            }
            let split = split_records(&self.buf, &ring.label, |bytes| {
                match deliver(bytes, ring.cpu, &self.layout, &self.ids, &mut self.stats, &mut f) {
                    Ok(()) => read += 1,
                    Err(source) => {
                        first_error.get_or_insert(Error::Record {
                            ring: ring.label.clone(),
                            source,
                        });
                    }
                }
            });
            if let Err(e) = split {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }

    /// Like [`Sampler::drain`], but hands records to `f` in time order
    /// across rings: each call reads every ring once (a round) and passes
    /// on the records that can no longer be preceded by one still unread
    /// (see [`RecordSorter`]); the others wait for the next call. Call
    /// [`Sampler::flush_ordered`] at the end for the rest. Tools that pair
    /// events across CPUs (an allocation and its free) need this order.
    pub fn drain_ordered(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let mut first_error = None;
        for (index, ring) in self.rings.iter().enumerate() {
            if let Err(e) = take_ring(ring, &mut self.buf, &mut self.stats) {
                first_error.get_or_insert(e);
                continue;
            }
            let sorter = &mut self.sorter;
            let layout = &self.layout;
            let split = split_records(&self.buf, &ring.label, |bytes| {
                // A record that does not parse sorts first and fails when
                // delivered, with its ring named.
                let time = match parse_record(bytes, layout) {
                    Ok(r) => record_time(&r).unwrap_or(0),
                    Err(_) => 0,
                };
                sorter.push(time, (index, bytes.to_vec()));
            });
            if let Err(e) = split {
                first_error.get_or_insert(e);
            }
        }
        let ready = self.sorter.end_round();
        let delivered = self.deliver_owned(ready, &mut f);
        match (first_error, delivered) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(n)) => Ok(n),
        }
    }

    /// Hands every record [`Sampler::drain_ordered`] still holds to `f`,
    /// in time order: after [`Sampler::disable`] and a last
    /// `drain_ordered`, when nothing more can arrive.
    pub fn flush_ordered(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let rest = self.sorter.flush();
        self.deliver_owned(rest, &mut f)
    }

    fn deliver_owned(
        &mut self,
        items: Vec<(usize, Vec<u8>)>,
        f: &mut impl FnMut(&Record<'_>, Origin),
    ) -> Result<u64, Error> {
        let mut first_error = None;
        let mut read = 0;
        for (index, bytes) in items {
            let ring = &self.rings[index];
            match deliver(&bytes, ring.cpu, &self.layout, &self.ids, &mut self.stats, f) {
                Ok(()) => read += 1,
                Err(source) => {
                    first_error.get_or_insert(Error::Record {
                        ring: ring.label.clone(),
                        source,
                    });
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }
}

/// Copies a ring's unread bytes into `buf` (replacing its contents) and
/// releases them to the kernel.
fn take_ring(ring: &Ring, buf: &mut Vec<u8>, stats: &mut SamplerStats) -> Result<(), Error> {
    buf.clear();
    let head = ring.map.data_head();
    let tail = ring.map.data_tail();
    let len = head.wrapping_sub(tail);
    if len == 0 {
        return Ok(());
    }
    ring.map.copy_data(tail, len as usize, buf);
    ring.map.set_data_tail(head);
    stats.bytes += len;
    if len as usize > ring.map.data_size() {
        buf.clear();
        return Err(Error::Record {
            ring: ring.label.clone(),
            source: RecordError::BadSize {
                size: len as usize,
                have: ring.map.data_size(),
            },
        });
    }
    Ok(())
}

/// Calls `each` with every whole record of `buf`; fails at a header whose
/// size is impossible (the rest of `buf` cannot be split).
fn split_records(buf: &[u8], label: &str, mut each: impl FnMut(&[u8])) -> Result<(), Error> {
    let mut at = 0;
    while at + HEADER_SIZE <= buf.len() {
        let rest = &buf[at..];
        let Some(size) = record_size(rest).filter(|&s| s <= rest.len()) else {
            return Err(Error::Record {
                ring: label.to_owned(),
                source: RecordError::BadSize {
                    size: record_size(rest).unwrap_or(0),
                    have: rest.len(),
                },
            });
        };
        each(&rest[..size]);
        at += size;
    }
    Ok(())
}

/// The time of a record: the sample's, or the sample_id trailer's.
fn record_time(record: &Record<'_>) -> Option<u64> {
    match record {
        Record::Sample(s) => s.time,
        Record::Mmap(m) => m.sample_id.time,
        Record::Comm(c) => c.sample_id.time,
        Record::Fork(t) | Record::Exit(t) => t.sample_id.time.or(Some(t.time)),
        Record::Lost(l) => l.sample_id.time,
        Record::Throttle(t) => t.sample_id.time.or(Some(t.time)),
        Record::Other { .. } => None,
    }
}

/// Parses one record, counts it, finds its source and hands it to `f`.
fn deliver(
    bytes: &[u8],
    cpu: Option<u32>,
    layout: &RecordLayout,
    ids: &HashMap<u64, usize>,
    stats: &mut SamplerStats,
    f: &mut impl FnMut(&Record<'_>, Origin),
) -> Result<(), RecordError> {
    let record = parse_record(bytes, layout)?;
    stats.records += 1;
    let id = match &record {
        Record::Sample(s) => {
            stats.samples += 1;
            s.id
        }
        Record::Lost(l) => {
            if l.samples {
                stats.lost_samples += l.lost;
            } else {
                stats.lost += l.lost;
                stats.lost_records += 1;
            }
            // The trailer holds the primary (parent) id that the id map
            // knows; LOST's own id is the inherited child's.
            l.sample_id.id.or(l.id)
        }
        Record::Throttle(t) => {
            if t.throttled {
                stats.throttles += 1;
            }
            Some(t.id)
        }
        Record::Mmap(m) => m.sample_id.id,
        Record::Comm(c) => c.sample_id.id,
        Record::Fork(t) | Record::Exit(t) => t.sample_id.id,
        Record::Other { .. } => None,
    };
    let origin = Origin {
        cpu,
        event: id.and_then(|id| ids.get(&id).copied()),
    };
    f(&record, origin);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_any_syscall() {
        let b = || {
            SamplerBuilder::new(SampleTarget::Task {
                pid: 0,
                inherit: false,
            })
            .source(SampleSource::task_clock())
        };
        assert!(matches!(
            SamplerBuilder::new(SampleTarget::Cpus(vec![0])).open(),
            Err(Error::SampleConfig(_))
        ));
        assert!(matches!(b().ring_pages(3).open(), Err(Error::SampleConfig(_))));
        assert!(matches!(b().user_stack(12).open(), Err(Error::SampleConfig(_))));
        let err = b().rate(SampleRate::Frequency(u64::MAX)).open().err().unwrap();
        assert!(
            err.to_string().contains("kernel.perf_event_max_sample_rate="),
            "{err}"
        );
    }

    #[test]
    fn own_task_clock_samples_arrive() {
        let mut s = match SamplerBuilder::new(SampleTarget::Task {
            pid: 0,
            inherit: false,
        })
        .source(SampleSource::task_clock())
        .rate(SampleRate::Period(100_000))
        .exclude_kernel(true)
        .open()
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: sampling refused here: {e}");
                return;
            }
        };
        s.enable().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i ^ (x >> 3)));
        }
        s.disable().unwrap();
        let mut samples = 0;
        let me = std::process::id();
        s.drain(|r, o| {
            if let Record::Sample(smp) = r {
                assert_eq!(smp.pid, Some(me));
                assert_eq!(o.event, Some(0));
                samples += 1;
            }
        })
        .unwrap();
        assert!(samples > 0);
        assert_eq!(s.stats().samples, samples);
        assert_eq!(s.stats().lost, 0);
    }

    #[test]
    fn a_byte_watermark_wakes_the_poll() {
        let mut s = match SamplerBuilder::new(SampleTarget::Task {
            pid: 0,
            inherit: false,
        })
        .source(SampleSource::task_clock())
        .rate(SampleRate::Period(50_000))
        .exclude_kernel(true)
        .wakeup(Wakeup::Bytes(256))
        .open()
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: sampling refused here: {e}");
                return;
            }
        };
        // Nothing yet: the wait times out.
        assert_eq!(
            s.wait(Some(Duration::from_millis(1)), None).unwrap(),
            Readiness::default()
        );
        s.enable().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i ^ (x >> 3)));
        }
        let ready = s.wait(Some(Duration::from_secs(5)), None).unwrap();
        assert!(ready.data && !ready.woken, "{ready:?}");
        assert!(s.drain(|_, _| {}).unwrap() > 0);
    }
}
