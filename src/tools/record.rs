//! `ftr record`: record tracepoint events into a private instance and
//! write them as a version 6 trace.dat that `trace-cmd report` (and
//! `ftr report`) read. Raw sub-buffers are copied as read from each CPU's
//! `trace_pipe_raw`, spooled per CPU next to the output, and assembled at
//! the end, after the buffers are drained completely.

use super::Global;
use crate::pipeline::stop::Stop;
use anyhow::{bail, Context, Result};
use ftr_tracefs::ring::{Missed, Page, PageLayout};
use ftr_tracefs::tracedat::{option_id, text_option, Writer, WriterConfig};
use ftr_tracefs::{
    buffer_for_tracer, exact_events, list_events, read_text, select_events, EventName, Instance, RingReader,
    TracerSetup, TracingDir,
};
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `ftr record` flags.
#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("what").required(true).multiple(true).args(["events", "tracer"])),
    after_help = "EXAMPLES:\n    ftr record -e sched:sched_switch -- make -j4   # while a command runs\n    ftr record -e sched -e irq -o irq.dat          # until Ctrl-C\n    ftr record -e block -f 'nr_sector > 8' -b 8192  # filtered, 8 MB per CPU\n    ftr record -p function_graph -g vfs_read cat /etc/hostname  # vfs_read's call tree\n    ftr record -p function -l 'vfs_*' -- ls        # every vfs_* call"
)]
pub struct Args {
    /// What to record and how.
    #[command(flatten)]
    pub buffer: BufferArgs,
    /// The function tracer to record with.
    #[command(flatten)]
    pub tracer: TracerArgs,
    /// Record only the events of CMD and the tasks it forks.
    #[arg(short = 'F')]
    pub only_command: bool,
    /// Store the offset from the trace clock to the wall clock, so reports
    /// print dates (seconds since the epoch) instead of the trace clock.
    #[arg(long)]
    pub date: bool,
    /// Write to FILE instead of trace.dat.
    #[arg(short = 'o', long, value_name = "FILE", default_value = "trace.dat")]
    pub output: PathBuf,
    /// Run CMD and stop when it exits (else record until Ctrl-C).
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The events and buffer settings `ftr record` and `ftr start` share.
#[derive(Debug, clap::Args)]
pub struct BufferArgs {
    /// Record EVENT: SYS:EVENT, SYS (all of it) or all; repeatable.
    #[arg(short = 'e', long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Apply the kernel filter FILTER to the events.
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Use trace clock CLOCK (local, global, mono, ...).
    #[arg(short = 'C', long, value_name = "CLOCK")]
    pub clock: Option<String>,
    /// Record only the events of process PID (set_event_pid); repeatable.
    #[arg(short = 'P', value_name = "PID")]
    pub pids: Vec<i32>,
}

/// `-p` and its filters (trace-cmd record's names).
#[derive(Debug, clap::Args)]
pub struct TracerArgs {
    /// Trace with TRACER: function or function_graph.
    #[arg(short = 'p', long = "plugin", value_name = "TRACER", value_parser = clap::builder::PossibleValuesParser::new(ftr_tracefs::FUNCTION_TRACERS))]
    pub tracer: Option<String>,
    /// Trace only functions matching FUNC (set_ftrace_filter); repeatable.
    #[arg(short = 'l', value_name = "FUNC", requires = "tracer")]
    pub functions: Vec<String>,
    /// Never trace functions matching FUNC (set_ftrace_notrace); repeatable.
    #[arg(short = 'n', value_name = "FUNC", requires = "tracer")]
    pub notrace: Vec<String>,
    /// Graph only the calls under FUNC (set_graph_function); repeatable.
    #[arg(short = 'g', value_name = "FUNC", requires = "tracer")]
    pub graph: Vec<String>,
    /// Stop function_graph trees at depth N (max_graph_depth).
    #[arg(long = "max-graph-depth", value_name = "N", requires = "tracer")]
    pub max_graph_depth: Option<u32>,
}

impl TracerArgs {
    /// The setup for the tracer, or None without -p; `pids` are -P's.
    fn setup(&self, pids: &[i32]) -> Result<Option<TracerSetup>> {
        let Some(tracer) = &self.tracer else {
            return Ok(None);
        };
        if tracer != "function_graph" && (!self.graph.is_empty() || self.max_graph_depth.is_some()) {
            bail!("-g and --max-graph-depth apply to -p function_graph only");
        }
        Ok(Some(TracerSetup {
            tracer: tracer.clone(),
            filter: self.functions.clone(),
            notrace: self.notrace.clone(),
            graph: self.graph.clone(),
            max_graph_depth: self.max_graph_depth,
            pids: pids.to_vec(),
        }))
    }
}

impl BufferArgs {
    /// The events the `-e` specs name on this kernel.
    pub(super) fn events(&self, t: &TracingDir) -> Result<Vec<EventName>> {
        match exact_events(t, &self.events) {
            Some(events) => Ok(events),
            None => resolve(&list_events(t)?, &self.events),
        }
    }

    /// Applies buffer size, clock, filters and pids to `instance` (events
    /// are enabled later, when the reader is ready).
    pub(super) fn apply(&self, instance: &Instance, events: &[EventName]) -> Result<()> {
        if let Some(kb) = self.buffer_kb {
            instance.set_buffer_size_kb(kb)?;
        }
        if let Some(c) = &self.clock {
            instance.set_clock(c)?;
        }
        for ev in events {
            if let Some(f) = event_filter(ev, self.filter.as_deref(), std::process::id()) {
                instance
                    .set_event_filter(&ev.system, &ev.name, &f)
                    .with_context(|| format!("setting the filter of {ev}"))?;
            }
        }
        if !self.pids.is_empty() {
            set_pids(instance, &self.pids)?;
        }
        Ok(())
    }
}

fn resolve(all: &[EventName], specs: &[String]) -> Result<Vec<EventName>> {
    let mut out: Vec<EventName> = Vec::new();
    for spec in specs {
        let pattern = if spec == "all" {
            "*:*".to_owned()
        } else if spec.contains(':') {
            spec.clone()
        } else {
            format!("{spec}:*")
        };
        let found = select_events(all, &pattern);
        if found.is_empty() {
            bail!("no event matches {spec:?} (see `ftr list -e`)");
        }
        for e in found {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
    }
    Ok(out)
}

/// The kernel filter of `ev`: the user's, and for system-call events also
/// `common_pid != PID` of ftr itself. Each read of a buffer is a system
/// call whose own events land in the page being read, so without it the
/// drain of a syscalls recording feeds itself (pages of 3 events, GBs).
fn event_filter(ev: &EventName, user: Option<&str>, own_pid: u32) -> Option<String> {
    let own =
        matches!(ev.system.as_str(), "syscalls" | "raw_syscalls").then(|| format!("common_pid != {own_pid}"));
    match (user, own) {
        (None, None) => None,
        (Some(u), None) => Some(u.to_owned()),
        (None, Some(o)) => Some(o),
        (Some(u), Some(o)) => Some(format!("({u}) && {o}")),
    }
}

/// Rebuilds the whole sub-buffer from a parsed page: header, commit with
/// its missed-events flags, data, and the stored missed count
/// (`rb_commit_index`/`RB_MISSED_*` in kernel/trace/ring_buffer.c).
fn raw_page(page: &Page<'_>, l: &PageLayout, buf: &mut Vec<u8>) {
    buf.clear();
    buf.resize(l.page_size, 0);
    let put = |buf: &mut Vec<u8>, off: usize, size: usize, v: u64| {
        let b = match l.endian {
            ftr_tracefs::Endian::Little => v.to_le_bytes(),
            ftr_tracefs::Endian::Big => v.to_be_bytes(),
        };
        let b = if l.endian == ftr_tracefs::Endian::Big {
            &b[8 - size..]
        } else {
            &b[..size]
        };
        if let Some(dst) = buf.get_mut(off..off + size) {
            dst.copy_from_slice(b);
        }
    };
    put(buf, l.timestamp_offset, 8, page.timestamp());
    let data = page.data();
    let mut commit = data.len() as u64;
    match page.missed() {
        Missed::None => {}
        Missed::Unknown => commit |= 1 << 31,
        Missed::Count(n) => {
            commit |= (1 << 31) | (1 << 30);
            put(buf, l.data_offset + data.len(), l.commit_size, n);
        }
    }
    put(buf, l.commit_offset, l.commit_size, commit);
    buf[l.data_offset..l.data_offset + data.len()].copy_from_slice(data);
}

/// One CPU's pages, spooled next to the output until the file is written.
pub(super) struct Spool {
    path: PathBuf,
    file: BufWriter<File>,
    pages: u64,
}

fn spool_path(out: &Path, cpu: u32) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(format!(".cpu{cpu}"));
    PathBuf::from(s)
}

/// Runs record.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let t = g.tracing_for_writing()?;
    let events = args.buffer.events(&t)?;
    let tracer = args.tracer.setup(&args.buffer.pids)?;
    let (instance, note) = match &tracer {
        Some(s) => buffer_for_tracer(&t, &s.tracer)?,
        None => Instance::create_or_top_level(&t).context("setting up a trace buffer")?,
    };
    if let Some(n) = note {
        eprintln!("ftr: {n}");
    }
    let res = record(&t, &instance, &events, tracer.as_ref(), &args, &stop);
    let removed = instance.remove().context("removing the trace instance");
    let code = res?;
    removed?;
    Ok(code)
}

fn record(
    t: &TracingDir,
    instance: &Instance,
    events: &[EventName],
    tracer: Option<&TracerSetup>,
    args: &Args,
    stop: &Stop,
) -> Result<ExitCode> {
    if args.only_command && args.command.is_empty() {
        bail!("-F records only the command's events: give a command");
    }
    if args.only_command && !args.buffer.pids.is_empty() {
        bail!("-P and -F do not go together: -F already limits the recording to the command");
    }
    args.buffer.apply(instance, events)?;
    if let Some(s) = tracer {
        s.apply(instance)
            .with_context(|| format!("setting up the {} tracer", s.tracer))?;
    }
    // Wake when half a buffer is full, so pages are read full (a read
    // takes the reader page even when partly filled); a timed drain below
    // bounds the delay.
    instance.set_buffer_percent(50)?;
    let layout = instance.page_layout()?;
    let mut reader = RingReader::open(instance, layout)?;
    let cpus: Vec<u32> = reader.cpus().collect();
    let mut spools = open_spools(&args.output, &cpus)?;
    let date = if args.date {
        Some(super::record_date::date_offset(
            t,
            instance,
            &mut reader,
            &layout,
        )?)
    } else {
        None
    };
    let result = record_into(
        t,
        instance,
        events,
        tracer,
        args,
        stop,
        &mut reader,
        &layout,
        &cpus,
        &mut spools,
        date.as_deref(),
    );
    result
}

/// Creates `OUTPUT.cpuN` for every CPU (removed when the spools drop).
pub(super) fn open_spools(output: &Path, cpus: &[u32]) -> Result<Vec<Spool>> {
    let mut spools = Vec::new();
    for &cpu in cpus {
        let path = spool_path(output, cpu);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        spools.push(Spool {
            path,
            file: BufWriter::new(file),
            pages: 0,
        });
    }
    Ok(spools)
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads every CPU's buffer until it is empty, appending each sub-buffer
/// to its CPU's spool.
pub(super) fn drain_to_spools(
    reader: &mut RingReader,
    layout: &PageLayout,
    cpus: &[u32],
    spools: &mut [Spool],
) -> Result<()> {
    let mut page_buf = Vec::new();
    let mut io_err: Option<std::io::Error> = None;
    loop {
        let s = reader.drain(|cpu, page| {
            raw_page(page, layout, &mut page_buf);
            if let Some(i) = cpus.iter().position(|&c| c == cpu) {
                if let Err(e) = spools[i].file.write_all(&page_buf) {
                    io_err.get_or_insert(e);
                }
                spools[i].pages += 1;
            }
        })?;
        if let Some(e) = io_err {
            return Err(e).context("writing the CPU spool files");
        }
        if s.pages == 0 {
            return Ok(());
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record_into(
    t: &TracingDir,
    instance: &Instance,
    events: &[EventName],
    tracer: Option<&TracerSetup>,
    args: &Args,
    stop: &Stop,
    reader: &mut RingReader,
    layout: &PageLayout,
    cpus: &[u32],
    spools: &mut [Spool],
    date: Option<&str>,
) -> Result<ExitCode> {
    // -F: the command is held before exec and its pid set before any event
    // is enabled, so nothing of ftr's own fork is recorded.
    let mut held = None;
    if args.only_command {
        let w = ftr_pmu::Workload::prepare(&args.command, crate::pipeline::stop::Stop::unblock_in_child)?;
        set_pids(instance, &[w.pid()])?;
        instance
            .set_option("event-fork", true)
            .context("following the command's children (options/event-fork)")?;
        if tracer.is_some() {
            instance
                .set_ftrace_pids(&[w.pid()])
                .context("limiting the tracer to the command (set_ftrace_pid)")?;
            instance
                .set_option("function-fork", true)
                .context("following the command's children (options/function-fork)")?;
        }
        held = Some(w);
    }
    instance.set_tracing_on(true)?;
    for ev in events {
        instance
            .enable_event(&ev.system, &ev.name)
            .with_context(|| format!("enabling {ev}"))?;
    }
    let mut names: Vec<String> = tracer
        .iter()
        .map(|s| format!("the {} tracer", s.tracer))
        .collect();
    names.extend(events.iter().map(|e| e.to_string()));
    let shown = if names.len() > 4 {
        format!("{} events", names.len())
    } else {
        names.join(", ")
    };
    let mut child = None;
    if let Some((prog, rest)) = args.command.split_first() {
        if let Some(w) = held {
            child = Some(w.start()?);
        } else {
            let mut cmd = std::process::Command::new(prog);
            cmd.args(rest);
            child = Some(
                crate::sys::spawn_with_signals_unblocked(&mut cmd)
                    .with_context(|| format!("running {prog}"))?,
            );
        }
        eprintln!("Tracing {shown} while {prog} runs. Hit Ctrl-C to end.");
    } else {
        eprintln!("Tracing {shown}. Hit Ctrl-C to end.");
    }
    let mut status = None;
    // One splicing thread per CPU, as trace-cmd runs one recorder per CPU:
    // a single reader that empties CPUs in turn lets one overrun while it
    // is busy with another.
    let stop_threads = std::sync::atomic::AtomicBool::new(false);
    let page_size = layout.page_size;
    let spliced: Vec<std::io::Result<u64>> = std::thread::scope(|scope| -> Result<_> {
        let mut handles = Vec::new();
        for (i, &cpu) in cpus.iter().enumerate() {
            let file = spools[i].file.get_ref().try_clone()?;
            let src = instance.trace_pipe_raw(cpu);
            let stop_threads = &stop_threads;
            handles.push(scope.spawn(move || ftr_tracefs::splice_ring(&src, &file, page_size, stop_threads)));
        }
        let mut status_line =
            StatusLine::new(instance, cpus, spools.iter().map(|s| s.path.clone()).collect());
        loop {
            status_line.tick();
            if let Some(c) = &mut child {
                if let Some(st) = c.try_wait()? {
                    status = Some(st);
                    break;
                }
            }
            if stop.requested() || handles.iter().any(|h| h.is_finished()) {
                break;
            }
            let mut fds = [nix::poll::PollFd::new(
                stop.wake_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16));
        }
        status_line.clear();
        instance.set_tracing_on(false)?;
        stop_threads.store(true, std::sync::atomic::Ordering::Release);
        Ok(handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("splice thread panicked")))
            })
            .collect())
    })?;
    for (i, r) in spliced.into_iter().enumerate() {
        let bytes = r.with_context(|| format!("splicing CPU {} trace_pipe_raw", cpus[i]))?;
        spools[i].pages += bytes / page_size.max(1) as u64;
    }
    // The partly filled pages splice leaves: read until empty, so nothing
    // recorded stays behind in the kernel.
    drain_to_spools(reader, layout, cpus, spools)?;
    write_file(t, instance, events, layout, cpus, spools, &args.output, date)?;
    Ok(match status {
        Some(st) if !st.success() => ExitCode::from(st.code().unwrap_or(1).clamp(1, 255) as u8),
        _ => ExitCode::SUCCESS,
    })
}

/// Writes the trace.dat from the spools, then prints the per-CPU
/// statistics (read before writing, so they describe the recording).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_file(
    t: &TracingDir,
    instance: &Instance,
    events: &[EventName],
    layout: &PageLayout,
    cpus: &[u32],
    spools: &mut [Spool],
    output: &Path,
    date: Option<&str>,
) -> Result<()> {
    let stats: Vec<_> = cpus.iter().map(|&c| (c, instance.cpu_stats(c).ok())).collect();
    let mut cfg = writer_config(t, instance, events, layout, cpus)?;
    if let Some(d) = date {
        cfg.options.insert(0, text_option(option_id::DATE, d));
    }
    let out = File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let mut w = Writer::start(BufWriter::new(out), &cfg).context("writing the trace.dat header")?;
    for (i, &cpu) in cpus.iter().enumerate() {
        spools[i].file.flush()?;
        let mut f = File::open(&spools[i].path)?;
        f.rewind()?;
        w.write_cpu_from(cpu, &mut f).context("writing CPU data")?;
    }
    w.finish().context("finishing the trace.dat")?;

    let mut total = 0;
    for (i, (cpu, s)) in stats.iter().enumerate() {
        let pages = spools[i].pages;
        match s {
            Some(s) => {
                total += s.read_events;
                eprintln!(
                    "CPU{cpu}: {} events read, {} pages, {} entries left, {} overrun, {} dropped",
                    s.read_events, pages, s.entries, s.overrun, s.dropped_events
                );
            }
            None => eprintln!("CPU{cpu}: {pages} pages"),
        }
    }
    eprintln!("ftr: wrote {} ({total} events)", output.display());
    Ok(())
}

/// `-P`: only these pids' events; a kernel without set_event_pid (before
/// 4.4) is told apart from a refusal.
fn set_pids(instance: &Instance, pids: &[i32]) -> Result<()> {
    if !instance.dir().join("set_event_pid").exists() {
        bail!("this kernel has no set_event_pid (added in 4.4): filter with -f 'common_pid == PID' instead");
    }
    instance
        .set_event_pids(pids)
        .with_context(|| format!("limiting the recording to pid {pids:?}"))
}

/// The live status line on a terminal: events, bytes, losses, once a second.
struct StatusLine<'a> {
    instance: &'a Instance,
    cpus: &'a [u32],
    spools: Vec<PathBuf>,
    on: bool,
    started: std::time::Instant,
    next: std::time::Instant,
}

impl<'a> StatusLine<'a> {
    fn new(instance: &'a Instance, cpus: &'a [u32], spools: Vec<PathBuf>) -> StatusLine<'a> {
        use std::io::IsTerminal;
        let now = std::time::Instant::now();
        StatusLine {
            instance,
            cpus,
            spools,
            on: std::io::stderr().is_terminal(),
            started: now,
            next: now + std::time::Duration::from_secs(1),
        }
    }

    fn tick(&mut self) {
        let now = std::time::Instant::now();
        if !self.on || now < self.next {
            return;
        }
        self.next = now + std::time::Duration::from_secs(1);
        let (mut events, mut lost) = (0u64, 0u64);
        for &c in self.cpus {
            if let Ok(s) = self.instance.cpu_stats(c) {
                events += s.read_events + s.entries;
                lost += s.overrun + s.dropped_events;
            }
        }
        let bytes: u64 = self
            .spools
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let secs = (now - self.started).as_secs_f64().max(1e-3);
        eprint!(
            "\r\x1b[K{events} events ({:.0}/s), {:.1} MB spooled, {lost} lost",
            events as f64 / secs,
            bytes as f64 / 1e6
        );
    }

    fn clear(&self) {
        if self.on && std::time::Instant::now() >= self.started + std::time::Duration::from_secs(1) {
            eprint!("\r\x1b[K");
        }
    }
}

fn read(p: &Path) -> Result<String> {
    Ok(read_text(p)?)
}

fn writer_config(
    t: &TracingDir,
    instance: &Instance,
    events: &[EventName],
    layout: &PageLayout,
    cpus: &[u32],
) -> Result<WriterConfig> {
    let ev_dir = t.events_dir();
    let mut ftrace = Vec::new();
    if let Ok(rd) = std::fs::read_dir(ev_dir.join("ftrace")) {
        let mut dirs: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            if let Ok(f) = read(&d.join("format")) {
                ftrace.push(f);
            }
        }
    }
    let mut systems: Vec<(String, Vec<String>)> = Vec::new();
    for ev in events {
        let text = read(
            &instance
                .dir()
                .join("events")
                .join(&ev.system)
                .join(&ev.name)
                .join("format"),
        )
        .or_else(|_| read(&ev_dir.join(&ev.system).join(&ev.name).join("format")))?;
        match systems.iter_mut().find(|(s, _)| *s == ev.system) {
            Some((_, v)) => v.push(text),
            None => systems.push((ev.system.clone(), vec![text])),
        }
    }
    let mut options = Vec::new();
    for &cpu in cpus {
        let s = read(&instance.dir().join(format!("per_cpu/cpu{cpu}/stats"))).unwrap_or_default();
        options.push(text_option(option_id::CPUSTAT, &format!("CPU: {cpu}\n{s}")));
    }
    let u = nix::sys::utsname::uname()?;
    let uname = format!(
        "{} {} {} {} {}",
        u.sysname().to_string_lossy(),
        u.nodename().to_string_lossy(),
        u.release().to_string_lossy(),
        u.version().to_string_lossy(),
        u.machine().to_string_lossy()
    );
    options.push(text_option(option_id::UNAME, &uname));
    let clock_text = read(&instance.dir().join("trace_clock")).unwrap_or_default();
    options.push(text_option(option_id::TRACECLOCK, clock_text.trim_end()));
    let clock = ftr_tracefs::selected_choice(&clock_text).map(str::to_owned);
    Ok(WriterConfig {
        endian: layout.endian,
        long_size: std::mem::size_of::<usize>() as u8,
        page_size: layout.page_size as u32,
        header_page: read(&ev_dir.join("header_page"))?,
        header_event: read(&ev_dir.join("header_event"))?,
        ftrace_formats: ftrace,
        event_systems: systems,
        kallsyms: std::fs::read_to_string("/proc/kallsyms").unwrap_or_default(),
        printk_formats: read(&t.path("printk_formats")).unwrap_or_default(),
        cmdlines: one_comm_per_pid(&read(&t.path("saved_cmdlines")).unwrap_or_default()),
        cpus: cpus.iter().max().map_or(0, |m| m + 1),
        options,
        clock,
    })
}

/// The kernel's `saved_cmdlines` can list a pid twice (a slot reused
/// before its old mapping was dropped). Readers disagree on which line wins
/// (libtraceevent sorts with qsort and bsearches, so it is unspecified), so
/// the file gets one line per pid: the last, which the kernel wrote later.
fn one_comm_per_pid(text: &str) -> String {
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some((pid, _)) = l.split_once(' ') {
            last.insert(pid, i);
        }
    }
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        let keep = match l.split_once(' ') {
            Some((pid, _)) => last.get(pid) == Some(&i),
            None => true,
        };
        if keep {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_cmdlines_keep_one_line_per_pid() {
        assert_eq!(
            one_comm_per_pid("1 init\n5 ftr\n7 sh\n5 prog\n"),
            "1 init\n7 sh\n5 prog\n"
        );
        assert_eq!(one_comm_per_pid(""), "");
    }

    #[test]
    fn syscall_events_exclude_ftr_itself() {
        let sys = EventName::parse("raw_syscalls:sys_enter").unwrap();
        let sched = EventName::parse("sched:sched_switch").unwrap();
        assert_eq!(event_filter(&sched, None, 7), None);
        assert_eq!(
            event_filter(&sched, Some("prev_pid > 0"), 7).unwrap(),
            "prev_pid > 0"
        );
        assert_eq!(event_filter(&sys, None, 7).unwrap(), "common_pid != 7");
        assert_eq!(
            event_filter(&sys, Some("id == 0"), 7).unwrap(),
            "(id == 0) && common_pid != 7"
        );
    }
}
