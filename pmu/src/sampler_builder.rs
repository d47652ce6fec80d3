//! What to sample and how: [`SamplerBuilder`] checks the options, opens
//! every source on every CPU or task of a [`SampleTarget`], maps one ring
//! per CPU (or per cpu -1 task event), shares it among the other events
//! with PERF_EVENT_IOC_SET_OUTPUT, and turns refusals into errors that
//! name the event, the target and the setting to change.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::access::{classify_perf_error, errno_text, read_text, Access, MAX_PARANOID_RAW_TRACEPOINT};
use crate::cpus::online_cpus;
use crate::error::Error;
use crate::events::{EventSpec, EVENT_SOURCE_DEVICES, TYPE_HARDWARE, TYPE_TRACEPOINT};
use crate::record::{
    RecordLayout, SAMPLE_CALLCHAIN, SAMPLE_CPU, SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_PERIOD, SAMPLE_RAW,
    SAMPLE_REGS_USER, SAMPLE_STACK_USER, SAMPLE_TID, SAMPLE_TIME,
};
use crate::sampler::{Layouts, Ring, Sampler, SamplerStats};
use crate::sorter::RecordSorter;
use crate::source::SampleSource;
use crate::sys::{self, PerfEventAttr, RingMap};

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

/// What one source's samples carry beyond the fields every sample has
/// (identifier, ip, tid, time, cpu, period), when it differs from the
/// sampler's own settings: a probe that only needs an argument register
/// need not pay for the callchain walk and stack copy that its return
/// probe in the same ring needs. Sources of one sampler share their
/// rings whatever their shapes; each sample is parsed by the layout of
/// the source its identifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleShape {
    /// PERF_SAMPLE_CALLCHAIN.
    pub callchain: bool,
    /// PERF_SAMPLE_RAW.
    pub raw: bool,
    /// `sample_regs_user` (0: none).
    pub regs_user: u64,
    /// `sample_stack_user` bytes (0: none; a multiple of 8).
    pub stack_user: u32,
}

/// Options for [`SamplerBuilder::open`]; see each setter.
#[derive(Debug, Clone)]
pub struct SamplerBuilder {
    target: SampleTarget,
    sources: Vec<SampleSource>,
    /// Per source: its own shape, or None for the sampler's settings.
    shapes: Vec<Option<SampleShape>>,
    rate: SampleRate,
    callchain: bool,
    user_callchain: bool,
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

impl SamplerBuilder {
    /// A sampler on `target` with no source yet, period 1, no callchain,
    /// 64 data pages per ring, the kernel's default wakeup (half a ring).
    pub fn new(target: SampleTarget) -> SamplerBuilder {
        SamplerBuilder {
            target,
            sources: Vec::new(),
            shapes: Vec::new(),
            rate: SampleRate::Period(1),
            callchain: false,
            user_callchain: true,
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
    /// order added ([`Origin::event`](crate::Origin::event)).
    pub fn source(mut self, source: SampleSource) -> SamplerBuilder {
        self.sources.push(source);
        self.shapes.push(None);
        self
    }

    /// Adds an event whose samples carry `shape` instead of what the
    /// sampler's [`callchain`](Self::callchain), [`raw`](Self::raw),
    /// [`user_regs`](Self::user_regs) and [`user_stack`](Self::user_stack)
    /// ask for.
    pub fn shaped_source(mut self, source: SampleSource, shape: SampleShape) -> SamplerBuilder {
        self.sources.push(source);
        self.shapes.push(Some(shape));
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

    /// With `false`, callchains stop at the kernel's entry
    /// (`exclude_callchain_user`): tools that show kernel stacks only
    /// save the user walk and its ring space on every sample.
    pub fn user_callchain(mut self, on: bool) -> SamplerBuilder {
        self.user_callchain = on;
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

    /// The shape of source `i`'s samples.
    fn shape(&self, i: usize) -> SampleShape {
        self.shapes.get(i).copied().flatten().unwrap_or(SampleShape {
            callchain: self.callchain,
            raw: self
                .raw
                .unwrap_or_else(|| self.sources.iter().any(SampleSource::has_raw)),
            regs_user: self.regs_user,
            stack_user: self.stack_user,
        })
    }

    /// The sample_type of source `i`. The fields before the optional ones
    /// are the same for every source, so records other than samples (whose
    /// sample_id trailer follows them) parse alike whichever source wrote
    /// them.
    fn sample_type(&self, i: usize) -> u64 {
        let shape = self.shape(i);
        let mut st = SAMPLE_IDENTIFIER | SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_PERIOD;
        if shape.callchain {
            st |= SAMPLE_CALLCHAIN;
        }
        if shape.raw {
            st |= SAMPLE_RAW;
        }
        if shape.regs_user != 0 {
            st |= SAMPLE_REGS_USER;
        }
        if shape.stack_user != 0 {
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
        for i in 0..self.sources.len() {
            let stack = self.shape(i).stack_user;
            if stack & 7 != 0 || stack > MAX_USER_STACK {
                return Err(Error::SampleConfig(format!(
                    "user stack size must be a multiple of 8 up to {MAX_USER_STACK}, not {stack}"
                )));
            }
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

    fn attr(&self, spec: &crate::source::ResolvedSource, i: usize, tracking: bool) -> PerfEventAttr {
        let shape = self.shape(i);
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
        // The sampler's switches, or the event's own modifiers (`cpu-clock:u`).
        if self.exclude_user || spec.exclude.user {
            flags |= sys::ATTR_EXCLUDE_USER;
        }
        if self.exclude_kernel || spec.exclude.kernel {
            // The kernel walks its own stack for a callchain even when
            // kernel samples are excluded (`perf_callchain` only looks at
            // exclude_callchain_kernel): a uprobe's sample would pay for
            // unwinding the trap path on every hit, frames nobody reads.
            flags |= sys::ATTR_EXCLUDE_KERNEL | sys::ATTR_EXCLUDE_CALLCHAIN_KERNEL;
        }
        if spec.exclude.hv {
            flags |= sys::ATTR_EXCLUDE_HV;
        }
        if shape.callchain && !self.user_callchain {
            flags |= sys::ATTR_EXCLUDE_CALLCHAIN_USER;
        }
        flags |= u64::from(spec.precise.min(3)) << sys::ATTR_PRECISE_IP_SHIFT;
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
            sample_type: self.sample_type(i),
            flags,
            wakeup_events,
            sample_regs_user: shape.regs_user,
            sample_stack_user: shape.stack_user,
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
        let layout_of = |i: usize| {
            RecordLayout::new(self.sample_type(i), 0, self.shape(i).regs_user, true)
                .map_err(|e| Error::SampleConfig(e.to_string()))
        };
        let layouts = Layouts {
            per_source: (0..self.sources.len()).map(layout_of).collect::<Result<_, _>>()?,
            common: layout_of(0)?,
        };
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
            layouts,
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
                let attr = self.attr(&resolved[i], i, self.track_tasks && i == 0);
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
                        let attr = self.attr(&resolved[i], i, self.track_tasks && i == 0);
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
        } else if !self.exclude_kernel && !source.spec().is_some_and(|s| s.exclude.kernel) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{parse_events, EventContext};

    #[test]
    fn attr_follows_the_builder_and_the_events_modifiers() {
        let ctx = EventContext::new(vec![], |_| None);
        let spec = parse_events("cpu-clock:u", &ctx).unwrap()[0].events[0].clone();
        let b = SamplerBuilder::new(SampleTarget::Task {
            pid: 1,
            inherit: true,
        })
        .source(SampleSource::Event(spec.clone()))
        .rate(SampleRate::Frequency(99))
        .callchain(true)
        .user_regs(0b111)
        .user_stack(512)
        .track_tasks(true)
        .enable_on_exec(true)
        .wakeup(Wakeup::Bytes(4096));
        let resolved = SampleSource::Event(spec)
            .resolve(Path::new("/nonexistent"))
            .unwrap();
        let a = b.attr(&resolved, 0, true);
        for bit in [
            sys::ATTR_DISABLED,
            sys::ATTR_INHERIT,
            sys::ATTR_ENABLE_ON_EXEC,
            sys::ATTR_EXCLUDE_KERNEL,
            sys::ATTR_FREQ,
            sys::ATTR_WATERMARK,
            sys::ATTR_SAMPLE_ID_ALL,
            sys::ATTR_MMAP2,
            sys::ATTR_COMM,
            sys::ATTR_TASK,
        ] {
            assert_ne!(a.flags & bit, 0, "bit {bit:#x}");
        }
        assert_eq!(a.flags & sys::ATTR_EXCLUDE_USER, 0);
        assert_eq!((a.sample_period, a.wakeup_events), (99, 4096));
        assert_eq!((a.sample_regs_user, a.sample_stack_user), (0b111, 512));
        let st = a.sample_type;
        for bit in [
            SAMPLE_IDENTIFIER,
            SAMPLE_CALLCHAIN,
            SAMPLE_REGS_USER,
            SAMPLE_STACK_USER,
            SAMPLE_TIME,
        ] {
            assert_ne!(st & bit, 0);
        }
        // A software event has no RAW data unless asked.
        assert_eq!(st & SAMPLE_RAW, 0);
        let tracking_off = b.attr(&resolved, 0, false);
        assert_eq!(
            tracking_off.flags & (sys::ATTR_MMAP2 | sys::ATTR_COMM | sys::ATTR_TASK),
            0
        );
    }

    #[test]
    fn a_shaped_source_carries_only_what_it_asks_for() {
        let ctx = EventContext::new(vec![], |_| None);
        let spec = parse_events("cpu-clock", &ctx).unwrap()[0].events[0].clone();
        let b = SamplerBuilder::new(SampleTarget::Task {
            pid: 1,
            inherit: true,
        })
        .callchain(true)
        .user_regs(0b111)
        .user_stack(512)
        .source(SampleSource::Event(spec.clone()))
        .shaped_source(
            SampleSource::Event(spec.clone()),
            SampleShape {
                regs_user: 0b1,
                ..SampleShape::default()
            },
        );
        let resolved = SampleSource::Event(spec)
            .resolve(Path::new("/nonexistent"))
            .unwrap();
        let (full, lean) = (b.attr(&resolved, 0, false), b.attr(&resolved, 1, false));
        assert_ne!(full.sample_type & SAMPLE_CALLCHAIN, 0);
        assert_eq!(lean.sample_type & (SAMPLE_CALLCHAIN | SAMPLE_STACK_USER), 0);
        assert_eq!((lean.sample_regs_user, lean.sample_stack_user), (0b1, 0));
        // What precedes the optional fields, and so every sample_id trailer,
        // is the same for both.
        let common = SAMPLE_IDENTIFIER | SAMPLE_IP | SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_PERIOD;
        assert_eq!(full.sample_type & common, lean.sample_type & common);
        let bad = SamplerBuilder::new(SampleTarget::Task {
            pid: 1,
            inherit: true,
        })
        .shaped_source(
            SampleSource::Event(b.sources[0].spec().unwrap().clone()),
            SampleShape {
                stack_user: 12,
                ..SampleShape::default()
            },
        );
        assert!(matches!(bad.check(), Err(Error::SampleConfig(_))));
    }
}
