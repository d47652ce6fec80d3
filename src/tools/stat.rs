//! `ftr stat`: count events while a command runs, on a process, or on
//! CPUs, and print them in perf stat's layout (columns, derived metrics,
//! `<not supported>`, elapsed/user/sys), as CSV (`-x SEP`) or JSON.

use super::Global;
use crate::pipeline::stop::Stop;
use crate::pipeline::tasks::process_alive;
use anyhow::{bail, Context, Result};
use ftr_pmu::{Count, CountTarget, Counters, EventContext, EventGroup, EventSpec, Snapshot, Workload};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Online CPUs, a kernel CPU list ("0-3,5").
const ONLINE_CPUS: &str = "/sys/devices/system/cpu/online";

/// `ftr stat` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr stat -- make -j4                           # perf stat's default counters\n    ftr stat -e task-clock,page-faults -- ls       # chosen events\n    ftr stat -e '{cycles,instructions}:u' -- ./a    # a group, user space only\n    ftr stat -e 'sched:sched_process_exec' -- sh -c 'ls; ls'  # a tracepoint\n    ftr stat -a -I 1000 -- sleep 5                 # all CPUs, every second\n    ftr stat -p 1234 -x,                           # a running process, as CSV"
)]
pub struct Args {
    /// Count EVENTS (perf syntax: cycles, cs, L1-dcache-load-misses, rNNNN, pmu/terms/, sys:event, {a,b}, :u/:k).
    #[arg(short = 'e', long = "event", value_name = "EVENTS")]
    pub events: Vec<String>,
    /// Count on every CPU (system-wide).
    #[arg(short = 'a', long = "all-cpus")]
    pub all_cpus: bool,
    /// Count on CPUS only (a list like 0,2-3), system-wide.
    #[arg(short = 'C', long = "cpu", value_name = "CPUS")]
    pub cpus: Option<String>,
    /// Count process PID (all its threads) until it exits or Ctrl-C.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<i32>,
    /// Count only these threads (a list like 1234,1240) until they exit or Ctrl-C.
    #[arg(short = 't', long = "tid", value_name = "TIDS")]
    pub tid: Option<String>,
    /// With -a or -C: one row per CPU instead of the sum.
    #[arg(short = 'A', long = "no-aggr", alias = "per-cpu")]
    pub no_aggr: bool,
    /// Write the counts to FILE instead of standard error.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Print counts every MS milliseconds.
    #[arg(short = 'I', long = "interval-print", value_name = "MS")]
    pub interval: Option<u64>,
    /// Run the command N times and print means with their spread.
    #[arg(short = 'r', long = "repeat", value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// Print CSV separated by SEP instead of columns.
    #[arg(short = 'x', long = "field-separator", value_name = "SEP")]
    pub sep: Option<String>,
    /// Print one JSON object per counter.
    #[arg(long, short = 'j')]
    pub json: bool,
    /// The command to run and count (after `--`).
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Checked settings.
struct Config {
    groups: Vec<EventGroup>,
    cpus: Option<Vec<u32>>,
    cpu_list_text: Option<String>,
    system_wide: bool,
    pid: Option<i32>,
    tids: Option<Vec<i32>>,
    no_aggr: bool,
    output: Option<std::path::PathBuf>,
    interval: Option<Duration>,
    repeat: u32,
    style: Style,
    command: Vec<String>,
    verbose: u8,
}

/// How rows are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// perf's columns.
    Columns,
    /// `-x SEP`.
    Csv(String),
    /// `--json`.
    Json,
}

/// Parses a kernel CPU list ("0-3,5").
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut v = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 65536 {
                    return None;
                }
                v.extend(a..=b);
            }
            None => v.push(part.trim().parse().ok()?),
        }
    }
    (!v.is_empty()).then_some(v)
}

/// perf stat's default set: the clock, scheduler and fault software events,
/// then the generic hardware events (shown `<not supported>` without a PMU).
pub fn default_events(system_wide: bool) -> Vec<EventGroup> {
    let clock = if system_wide { "cpu-clock" } else { "task-clock" };
    let sw = [clock, "context-switches", "cpu-migrations", "page-faults"];
    let hw = ["cycles", "instructions", "branches", "branch-misses"];
    sw.iter()
        .filter_map(|n| EventSpec::software(n))
        .chain(hw.iter().filter_map(|n| EventSpec::hardware(n)))
        .map(|e| EventGroup {
            events: vec![e],
            grouped: false,
        })
        .collect()
}

fn event_context(g: &Global, specs: &[String]) -> EventContext {
    // Only list tracepoints when an event could be one: `ftr stat -- true`
    // should not read tracefs.
    if !specs.iter().any(|s| s.contains(':')) {
        return EventContext::new(Vec::new(), |_| None);
    }
    let Ok(t) = g.tracing() else {
        return EventContext::new(Vec::new(), |_| None);
    };
    let names: Vec<String> = ftr_tracefs::list_events(&t)
        .map(|v| v.iter().map(|e| e.to_string()).collect())
        .unwrap_or_default();
    EventContext::for_running_kernel(names, move |name| {
        let (sys, ev) = name.split_once(':')?;
        std::fs::read_to_string(t.path(format!("events/{sys}/{ev}/id")))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

fn configure(g: &Global, args: Args) -> Result<Config> {
    let ctx = event_context(g, &args.events);
    let mut groups = Vec::new();
    for e in &args.events {
        groups.extend(ftr_pmu::parse_events(e, &ctx)?);
    }
    let cpus = match &args.cpus {
        Some(list) => Some(
            parse_cpu_list(list).with_context(|| format!("-C needs a CPU list like 0,2-3, not {list:?}"))?,
        ),
        None if args.all_cpus => {
            let text =
                std::fs::read_to_string(ONLINE_CPUS).with_context(|| format!("reading {ONLINE_CPUS}"))?;
            Some(parse_cpu_list(&text).with_context(|| format!("parsing {ONLINE_CPUS}: {text:?}"))?)
        }
        None => None,
    };
    let system_wide = cpus.is_some();
    if groups.is_empty() {
        groups = default_events(system_wide);
    }
    let tids = match &args.tid {
        Some(list) => Some(
            list.split(',')
                .map(|t| t.trim().parse::<i32>().ok().filter(|t| *t > 0))
                .collect::<Option<Vec<i32>>>()
                .with_context(|| format!("-t needs thread ids like 1234,1240, not {list:?}"))?,
        ),
        None => None,
    };
    let existing = usize::from(args.pid.is_some()) + usize::from(tids.is_some());
    if existing > 1 || (existing == 1 && (system_wide || !args.command.is_empty())) {
        bail!("-p and -t count existing tasks; they cannot be combined with each other, -a, -C or a command");
    }
    if existing == 0 && !system_wide && args.command.is_empty() {
        bail!("nothing to count: give a command (ftr stat -- CMD), -p PID, -t TID, -a or -C CPUS");
    }
    if args.no_aggr && !system_wide {
        bail!("-A shows one row per CPU: it needs -a or -C CPUS");
    }
    if args.repeat == 0 || (args.repeat > 1 && (args.command.is_empty() || args.interval.is_some())) {
        bail!("-r N needs N >= 1, a command and no -I");
    }
    if args.interval == Some(0) {
        bail!("-I needs a positive number of milliseconds");
    }
    let style = match (&args.sep, args.json) {
        (Some(_), true) => bail!("-x and --json do not go together"),
        (Some(s), false) => Style::Csv(s.clone()),
        (None, true) => Style::Json,
        (None, false) => Style::Columns,
    };
    Ok(Config {
        groups,
        cpu_list_text: if args.all_cpus { None } else { args.cpus.clone() },
        cpus,
        system_wide,
        pid: args.pid,
        tids,
        no_aggr: args.no_aggr,
        output: args.output,
        interval: args.interval.map(Duration::from_millis),
        repeat: args.repeat,
        style,
        command: args.command,
        verbose: g.verbose,
    })
}

/// The threads of `pid`, or an error naming the pid when it is gone.
fn threads_of(pid: i32) -> Result<Vec<i32>> {
    let dir =
        std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|_| ftr_pmu::Error::NoSuchProcess { pid })?;
    let mut tids: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort();
    Ok(tids)
}

/// One run's totals.
struct RunResult {
    counts: Vec<Count>,
    wall: Duration,
    user: Duration,
    sys: Duration,
    status: Option<std::process::ExitStatus>,
}

fn children_times() -> (Duration, Duration) {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(r) => {
            let tv = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
            (tv(r.user_time()), tv(r.system_time()))
        }
        Err(_) => (Duration::ZERO, Duration::ZERO),
    }
}

/// Interval printing state.
struct Ticker<'a> {
    every: Duration,
    next: Instant,
    start: Instant,
    prev: Option<Snapshot>,
    prev_at: Instant,
    printed: u32,
    cfg: &'a Config,
    labels: Vec<Label>,
}

/// An event as printed: with `-A`, once per CPU.
type Label = (EventSpec, Option<u32>);

impl Config {
    /// The printed events: each spec, or each spec on each CPU with `-A`.
    fn labels(&self, specs: &[EventSpec]) -> Vec<Label> {
        match (&self.cpus, self.no_aggr) {
            (Some(cpus), true) => specs
                .iter()
                .flat_map(|s| cpus.iter().map(move |c| (s.clone(), Some(*c))))
                .collect(),
            _ => specs.iter().map(|s| (s.clone(), None)).collect(),
        }
    }

    /// The counts of a snapshot in [`Config::labels`] order.
    fn counts(&self, snap: &Snapshot, since: Option<&Snapshot>) -> Vec<Count> {
        match (&self.cpus, self.no_aggr) {
            (Some(cpus), true) => snap
                .counts_per_unit(since, cpus.len())
                .into_iter()
                .flatten()
                .collect(),
            _ => snap.counts(since),
        }
    }

    /// Prints to `-o FILE` (appended: it was created at the start) or stderr.
    fn emit(&self, text: &str) -> Result<()> {
        match &self.output {
            Some(path) => {
                use std::io::Write as _;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => eprint!("{text}"),
        }
        Ok(())
    }
}

impl Ticker<'_> {
    fn tick(&mut self, counters: &Counters, now: Instant) -> Result<()> {
        let snap = counters.snapshot()?;
        let counts = self.cfg.counts(&snap, self.prev.as_ref());
        let wall = now - self.prev_at;
        let rows = rows(&self.labels, &counts, None);
        let ts = now - self.start;
        let mut out = String::new();
        if self.cfg.style == Style::Columns && self.printed == 0 {
            out.push_str("#           time             counts unit events\n");
        }
        render_rows(&mut out, &rows, wall, &self.cfg.style, Some(ts));
        self.cfg.emit(&out)?;
        // perf repeats the header every 25 intervals.
        self.printed = (self.printed + 1) % 25;
        self.prev = Some(snap);
        self.prev_at = now;
        while self.next <= now {
            self.next += self.every;
        }
        Ok(())
    }
}

/// Waits for `child`, printing intervals; returns its status.
fn wait_child(
    child: std::process::Child,
    counters: &Counters,
    ticker: &mut Option<Ticker<'_>>,
) -> Result<(std::process::ExitStatus, Instant)> {
    let Some(t) = ticker else {
        let mut child = child;
        let st = child.wait().context("waiting for the command")?;
        return Ok((st, Instant::now()));
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut child = child;
    std::thread::spawn(move || {
        let r = child.wait();
        let _ = tx.send((r, Instant::now()));
    });
    loop {
        let timeout = t.next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok((r, at)) => return Ok((r.context("waiting for the command")?, at)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => t.tick(counters, Instant::now())?,
            Err(e) => bail!("waiting for the command: {e}"),
        }
    }
}

/// Waits for Ctrl-C (or the exit of every `watched` task: -p, -t), printing intervals.
fn wait_stop(
    stop: &Stop,
    watched: &[i32],
    counters: &Counters,
    ticker: &mut Option<Ticker<'_>>,
) -> Result<Instant> {
    loop {
        if stop.requested() || (!watched.is_empty() && !watched.iter().any(|t| process_alive(*t))) {
            return Ok(Instant::now());
        }
        let mut wait = Duration::from_millis(100);
        if let Some(t) = ticker.as_mut() {
            let now = Instant::now();
            if now >= t.next {
                t.tick(counters, now)?;
            }
            wait = wait.min(t.next.saturating_duration_since(Instant::now()));
        }
        let mut fds = [nix::poll::PollFd::new(
            stop.wake_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
    }
}

fn run_once(cfg: &Config, stop: &Stop) -> Result<RunResult> {
    let specs: Vec<EventSpec> = cfg.groups.iter().flat_map(|g| g.events.clone()).collect();
    let (user0, sys0) = children_times();
    let workload = if cfg.command.is_empty() {
        None
    } else {
        Some(Workload::prepare(&cfg.command, Stop::unblock_in_child)?)
    };
    let (target, on_exec) = match (&cfg.cpus, &workload, cfg.pid) {
        (Some(cpus), _, _) => (CountTarget::Cpus(cpus.clone()), false),
        (None, Some(w), _) => (CountTarget::Tasks(vec![w.pid()]), true),
        (None, None, Some(pid)) => (CountTarget::Tasks(threads_of(pid)?), false),
        (None, None, None) => match &cfg.tids {
            Some(tids) => (CountTarget::Tasks(tids.clone()), false),
            None => bail!("nothing to count"),
        },
    };
    let counters = Counters::open(&cfg.groups, &target, on_exec)?;
    if cfg.verbose > 0 {
        for (name, why) in counters.unsupported_reasons() {
            eprintln!("ftr: {name}: not supported here ({why})");
        }
    }
    if !on_exec {
        counters.enable()?;
    }
    let start = Instant::now();
    let mut ticker = cfg.interval.map(|every| Ticker {
        every,
        next: start + every,
        start,
        prev: None,
        prev_at: start,
        printed: 0,
        cfg,
        labels: cfg.labels(&specs),
    });
    let (status, end) = match workload {
        Some(w) => {
            let child = w.start()?;
            let (st, at) = wait_child(child, &counters, &mut ticker)?;
            (Some(st), at)
        }
        None => {
            let watched: Vec<i32> = cfg
                .pid
                .into_iter()
                .chain(cfg.tids.iter().flatten().copied())
                .collect();
            (None, wait_stop(stop, &watched, &counters, &mut ticker)?)
        }
    };
    counters.disable()?;
    let wall = end - start;
    if let Some(t) = ticker.as_mut() {
        // The last, partial interval, as perf prints it.
        t.tick(&counters, end)?;
    }
    let counts = cfg.counts(&counters.snapshot()?, None);
    let (user1, sys1) = children_times();
    Ok(RunResult {
        counts,
        wall,
        user: user1.saturating_sub(user0),
        sys: sys1.saturating_sub(sys0),
        status,
    })
}

/// Runs stat.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let cfg = configure(g, args)?;
    if let Some(pid) = cfg.pid {
        threads_of(pid)?;
    }
    for &tid in cfg.tids.iter().flatten() {
        if !process_alive(tid) {
            return Err(ftr_pmu::Error::NoSuchProcess { pid: tid }.into());
        }
    }
    if let Some(path) = &cfg.output {
        // perf stat -o starts the file with the time the count began.
        let started = chrono::Local::now().format("%a %b %e %H:%M:%S %Y");
        std::fs::write(path, format!("# started on {started}\n\n"))
            .with_context(|| format!("creating {}", path.display()))?;
    }
    let specs: Vec<EventSpec> = cfg.groups.iter().flat_map(|g| g.events.clone()).collect();
    let mut runs = Vec::new();
    for _ in 0..cfg.repeat {
        let r = run_once(&cfg, &stop)?;
        runs.push(r);
        if stop.requested() {
            break;
        }
    }
    if cfg.interval.is_none() {
        let text = render_report(&cfg, &cfg.labels(&specs), &runs);
        cfg.emit(&text)?;
    }
    let code = match runs.last().and_then(|r| r.status) {
        Some(st) if !st.success() => st.code().map_or(ExitCode::from(1), |c| ExitCode::from(c as u8)),
        _ => ExitCode::SUCCESS,
    };
    Ok(code)
}

/// One printed counter.
#[derive(Debug, Clone)]
pub struct Row {
    /// Name as given.
    pub name: String,
    /// Mean count (scaled), or why there is none.
    pub count: Count,
    /// `task-clock` / `cpu-clock`: printed in msec.
    pub clock: bool,
    /// Generic hardware/software name, for derived metrics.
    pub generic: Option<&'static str>,
    /// Relative spread over repeats, in percent (0 for one run).
    pub noise: f64,
    /// The CPU of a `-A` row.
    pub cpu: Option<u32>,
}

fn rows(labels: &[Label], counts: &[Count], noise: Option<&[f64]>) -> Vec<Row> {
    labels
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, ((s, cpu), c))| Row {
            name: s.name.clone(),
            count: *c,
            clock: s.is_clock(),
            generic: s.generic(),
            noise: noise.and_then(|n| n.get(i)).copied().unwrap_or(0.0),
            cpu: *cpu,
        })
        .collect()
}

fn value(r: &Row) -> Option<f64> {
    match r.count {
        Count::Value { value, .. } => Some(value as f64),
        _ => None,
    }
}

/// A derived metric perf prints beside a row: its value, the value as the
/// columns show it, and the unit.
#[derive(Debug, Clone, PartialEq)]
struct Metric {
    value: f64,
    shown: String,
    unit: String,
}

impl Metric {
    fn new(value: f64, shown: String, unit: &str) -> Metric {
        Metric {
            value,
            shown,
            unit: unit.to_owned(),
        }
    }
}

/// The derived metric of `row` among `all`; `wall` is the elapsed time the
/// clock is compared with.
fn metric(row: &Row, all: &[Row], wall: Duration) -> Option<Metric> {
    let find = |g: &str| all.iter().find(|r| r.generic == Some(g)).and_then(value);
    let v = value(row)?;
    let clock_ns = all.iter().find(|r| r.clock).and_then(value);
    if row.clock {
        let w = wall.as_nanos() as f64;
        return (w > 0.0).then(|| Metric::new(v / w, format!("{:8.3}", v / w), "CPUs utilized"));
    }
    let ratio = |of: &str| find(of).filter(|d| *d > 0.0).map(|d| v / d);
    match row.generic {
        Some("instructions") => {
            return ratio("cycles").map(|x| Metric::new(x, format!("{x:7.2} "), "insn per cycle"))
        }
        Some("branch-misses") => {
            return ratio("branches")
                .map(|x| Metric::new(100.0 * x, format!("{:7.2}%", 100.0 * x), "of all branches"))
        }
        Some("cache-misses") => {
            return ratio("cache-references")
                .map(|x| Metric::new(100.0 * x, format!("{:8.3} %", 100.0 * x), "of all cache refs"))
        }
        Some("cycles") => {
            return clock_ns
                .filter(|c| *c > 0.0)
                .map(|c| Metric::new(v / c, format!("{:8.3}", v / c), "GHz"))
        }
        _ => {}
    }
    let ns = clock_ns?;
    let mut rate = if ns > 0.0 { 1e9 * v / ns } else { 0.0 };
    let mut prefix = "";
    // perf's convert_unit_double (util/units.c).
    for p in ["K", "M", "G"] {
        if rate > 1000.0 {
            rate /= 1000.0;
            prefix = p;
        }
    }
    Some(Metric::new(rate, format!("{rate:8.3}"), &format!("{prefix}/sec")))
}

/// METRIC_LEN in perf's util/stat-display.c.
const METRIC_LEN: usize = 35;

fn fmt_count(r: &Row, v: f64) -> String {
    if r.clock {
        format!("{:.2}", v / 1e6)
    } else {
        format!("{v:.0}")
    }
}

fn running_pct(c: &Count) -> Option<f64> {
    match *c {
        Count::Value { enabled, running, .. } if running != enabled && enabled > 0 => {
            Some(100.0 * running as f64 / enabled as f64)
        }
        _ => None,
    }
}

/// Appends every row in `style`; `ts` prefixes interval lines.
pub fn render_rows(out: &mut String, rows: &[Row], wall: Duration, style: &Style, ts: Option<Duration>) {
    for r in rows {
        let unit = if r.clock { "msec" } else { "" };
        // Metrics of a -A row relate it to the same CPU's other rows.
        let peers: Vec<Row> = rows.iter().filter(|p| p.cpu == r.cpu).cloned().collect();
        let m = metric(r, &peers, wall);
        match style {
            Style::Columns => {
                if let Some(t) = ts {
                    let _ = write!(out, "{:6}.{:09} ", t.as_secs(), t.subsec_nanos());
                }
                if let Some(cpu) = r.cpu {
                    // perf's aggr_printout: "CPU%-7d" and a separator.
                    let _ = write!(out, "CPU{cpu:<7} ");
                }
                match value(r) {
                    Some(v) => {
                        let _ = write!(out, "{:>18} {unit:<4} {:<32}", fmt_count(r, v), r.name);
                        match &m {
                            Some(Metric {
                                shown: val, unit: u, ..
                            }) => {
                                let n = 3 + val.chars().count();
                                let _ = write!(out, " # {val} {u:<w$}", w = METRIC_LEN.saturating_sub(n + 1));
                            }
                            None => out.push_str(&" ".repeat(METRIC_LEN)),
                        }
                        if r.noise != 0.0 {
                            let _ = write!(out, "  ( +-{:6.2}% )", r.noise);
                        }
                        if let Some(p) = running_pct(&r.count) {
                            let _ = write!(out, "  ({p:.2}%)");
                        }
                    }
                    None => {
                        let _ = write!(out, "{:>18} {unit:<4} {:<25}", not_value(&r.count), r.name);
                        out.push_str(&" ".repeat(METRIC_LEN));
                    }
                }
                out.push('\n');
            }
            Style::Csv(sep) => {
                if let Some(t) = ts {
                    let _ = write!(out, "{}.{:09}{sep}", t.as_secs(), t.subsec_nanos());
                }
                if let Some(cpu) = r.cpu {
                    let _ = write!(out, "CPU{cpu}{sep}");
                }
                let (count, run, pct) = match r.count {
                    Count::Value {
                        value,
                        enabled,
                        running,
                    } => (
                        fmt_count(r, value as f64),
                        running,
                        if enabled == running || enabled == 0 {
                            100.0
                        } else {
                            100.0 * running as f64 / enabled as f64
                        },
                    ),
                    other => (not_value(&other).to_owned(), 0, 100.0),
                };
                let _ = write!(out, "{count}{sep}{unit}{sep}{}{sep}{run}{sep}{pct:.2}", r.name);
                if r.noise != 0.0 {
                    let _ = write!(out, "{sep}{:.2}%", r.noise);
                }
                match &m {
                    Some(Metric {
                        shown: val, unit: u, ..
                    }) => {
                        let _ = write!(
                            out,
                            "{sep}{}{sep}{}",
                            val.trim().trim_end_matches('%').trim(),
                            u.trim()
                        );
                    }
                    None => {
                        let _ = write!(out, "{sep}{sep}");
                    }
                }
                out.push('\n');
            }
            Style::Json => render_json_row(out, r, m.as_ref(), ts),
        }
    }
}

/// One `--json` line in perf 6.1's own layout (`"key" : value`, its key
/// order and number formats), so scripts written against perf's output
/// read ftr's. Where perf prints `"metric-unit" : "(null)"` (no metric),
/// ftr prints an empty unit with a zero value, as perf does for
/// unsupported events.
fn render_json_row(out: &mut String, r: &Row, metric: Option<&Metric>, ts: Option<Duration>) {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    out.push('{');
    if let Some(t) = ts {
        let _ = write!(out, "\"interval\" : {}.{:09}, ", t.as_secs(), t.subsec_nanos());
    }
    if let Some(cpu) = r.cpu {
        let _ = write!(out, "\"cpu\" : \"{cpu}\", ");
    }
    let value = match r.count {
        Count::Value { value, .. } => {
            format!("{:.6}", if r.clock { value as f64 / 1e6 } else { value as f64 })
        }
        other => not_value(&other).to_owned(),
    };
    let unit = if r.clock { "msec" } else { "" };
    let _ = write!(
        out,
        "\"counter-value\" : {}, \"unit\" : {}, \"event\" : {}, ",
        text(&value),
        text(unit),
        text(&r.name)
    );
    if r.noise != 0.0 {
        let _ = write!(out, "\"variance\" : {:.2}, ", r.noise);
    }
    let (runtime, pct) = match r.count {
        Count::Value { enabled, running, .. } if enabled != 0 && enabled != running => {
            (running, 100.0 * running as f64 / enabled as f64)
        }
        Count::Value { running, .. } => (running, 100.0),
        _ => (0, 100.0),
    };
    let (mv, mu) = metric.map_or((0.0, ""), |m| (m.value, m.unit.as_str()));
    let _ = writeln!(
        out,
        "\"event-runtime\" : {runtime}, \"pcnt-running\" : {pct:.2}, \"metric-value\" : {mv:.6}, \"metric-unit\" : {}}}",
        text(mu)
    );
}

fn not_value(c: &Count) -> &'static str {
    match c {
        Count::NotSupported => "<not supported>",
        _ => "<not counted>",
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // perf's stddev_stats: the standard deviation of the mean.
    (mean, (var / n).sqrt())
}

fn target_text(cfg: &Config) -> String {
    if cfg.system_wide {
        match &cfg.cpu_list_text {
            Some(list) => format!("'CPU(s) {list}'"),
            None => "'system wide'".to_owned(),
        }
    } else if let Some(p) = cfg.pid {
        format!("process id '{p}'")
    } else if let Some(t) = &cfg.tids {
        let t: Vec<String> = t.iter().map(i32::to_string).collect();
        format!("thread id '{}'", t.join(","))
    } else {
        format!("'{}'", cfg.command.join(" "))
    }
}

/// The whole end-of-run report (header, rows, times) in `cfg.style`.
fn render_report(cfg: &Config, specs: &[Label], runs: &[RunResult]) -> String {
    let n = runs.len().max(1);
    let mut counts = Vec::new();
    let mut noise = Vec::new();
    for i in 0..specs.len() {
        let vals: Vec<&Count> = runs.iter().filter_map(|r| r.counts.get(i)).collect();
        let values: Vec<f64> = vals
            .iter()
            .filter_map(|c| match c {
                Count::Value { value, .. } => Some(*value as f64),
                _ => None,
            })
            .collect();
        if values.len() == vals.len() && !values.is_empty() {
            let (mean, sd) = mean_sd(&values);
            let (ena, run) = vals.iter().fold((0, 0), |(e, r), c| match c {
                Count::Value { enabled, running, .. } => (e + enabled, r + running),
                _ => (e, r),
            });
            counts.push(Count::Value {
                value: mean.round() as u64,
                enabled: ena / n as u64,
                running: run / n as u64,
            });
            noise.push(if mean != 0.0 { 100.0 * sd / mean } else { 0.0 });
        } else {
            counts.push(vals.first().map_or(Count::NotCounted, |c| **c));
            noise.push(0.0);
        }
    }
    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    let (wall_mean, wall_sd) = mean_sd(&walls);
    let rows = rows(specs, &counts, Some(&noise));
    let mut out = String::new();
    if cfg.style == Style::Columns {
        let runs_note = if cfg.repeat > 1 {
            format!(" ({} runs)", runs.len())
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "\n Performance counter stats for {}{runs_note}:\n\n",
            target_text(cfg)
        );
    }
    render_rows(
        &mut out,
        &rows,
        Duration::from_secs_f64(wall_mean),
        &cfg.style,
        None,
    );
    if cfg.style != Style::Columns {
        return out;
    }
    out.push('\n');
    if runs.len() > 1 {
        let precision = if wall_sd > 1.0 || wall_sd == 0.0 {
            2
        } else {
            (-wall_sd.log10()).ceil() as usize + 2
        };
        let _ = write!(
            out,
            " {wall_mean:17.precision$} +- {wall_sd:.precision$} seconds time elapsed"
        );
        if wall_mean != 0.0 {
            let _ = write!(out, "  ( +-{:6.2}% )", 100.0 * wall_sd / wall_mean);
        }
        out.push_str("\n\n");
    } else {
        let _ = writeln!(out, " {wall_mean:17.9} seconds time elapsed\n");
        if !cfg.command.is_empty() && !cfg.system_wide {
            let r = &runs[0];
            let _ = write!(
                out,
                " {:17.9} seconds user\n {:17.9} seconds sys\n\n\n",
                r.user.as_secs_f64(),
                r.sys.as_secs_f64()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, count: Count) -> Row {
        let spec = EventSpec::software(name).or_else(|| EventSpec::hardware(name));
        Row {
            name: name.to_owned(),
            count,
            clock: spec.as_ref().is_some_and(|s| s.is_clock()),
            generic: spec.as_ref().and_then(|s| s.generic()),
            noise: 0.0,
            cpu: None,
        }
    }

    fn v(value: u64) -> Count {
        Count::Value {
            value,
            enabled: 701955,
            running: 701955,
        }
    }

    #[test]
    fn columns_match_perf_stat_byte_for_byte() {
        // `perf stat -- true` on this machine (perf 6.1), wall 4.718577 ms.
        let rows = vec![
            row("task-clock", v(780_000)),
            row("context-switches", v(0)),
            row("page-faults", v(48)),
            row("cycles", Count::NotSupported),
        ];
        let mut out = String::new();
        render_rows(
            &mut out,
            &rows,
            Duration::from_nanos(4_718_577),
            &Style::Columns,
            None,
        );
        let want = "              0.78 msec task-clock                       #    0.165 CPUs utilized          \n\
                    \x20                0      context-switches                 #    0.000 /sec                   \n\
                    \x20               48      page-faults                      #   61.538 K/sec                  \n\
                    \x20  <not supported>      cycles                                                      \n";
        assert_eq!(out, want);
    }

    #[test]
    fn csv_and_interval_match_perf() {
        let rows = vec![
            row("task-clock", v(701_955)),
            row("page-faults", v(49)),
            row("cycles", Count::NotSupported),
        ];
        let mut out = String::new();
        render_rows(
            &mut out,
            &rows,
            Duration::from_nanos(4_742_939),
            &Style::Csv(",".into()),
            None,
        );
        assert_eq!(
            out,
            "0.70,msec,task-clock,701955,100.00,0.148,CPUs utilized\n\
             49,,page-faults,701955,100.00,69.805,K/sec\n\
             <not supported>,,cycles,0,100.00,,\n"
        );
        let mut out = String::new();
        render_rows(
            &mut out,
            &[row("context-switches", v(149))],
            Duration::from_millis(200),
            &Style::Columns,
            Some(Duration::from_nanos(203_447_072)),
        );
        assert_eq!(
            out,
            "     0.203447072                149      context-switches                                                   \n"
        );
    }

    #[test]
    fn multiplexed_counts_show_the_running_percentage() {
        let rows = vec![row(
            "instructions",
            Count::Value {
                value: 2000,
                enabled: 100,
                running: 50,
            },
        )];
        let mut out = String::new();
        render_rows(&mut out, &rows, Duration::from_secs(1), &Style::Columns, None);
        assert!(out.trim_end().ends_with("  (50.00%)"), "{out:?}");
        let mut out = String::new();
        render_rows(
            &mut out,
            &rows,
            Duration::from_secs(1),
            &Style::Csv(";".into()),
            None,
        );
        assert_eq!(out, "2000;;instructions;50;50.00;;\n");
    }

    #[test]
    fn hardware_metrics() {
        let rows = vec![
            row("task-clock", v(1_000_000_000)),
            row("cycles", v(3_000_000_000)),
            row("instructions", v(6_000_000_000)),
            row("branches", v(1000)),
            row("branch-misses", v(10)),
        ];
        let m = |i: usize| {
            let m = metric(&rows[i], &rows, Duration::from_secs(1)).unwrap();
            (m.shown, m.unit)
        };
        assert_eq!(m(1), ("   3.000".into(), "GHz".into()));
        assert_eq!(m(2), ("   2.00 ".into(), "insn per cycle".into()));
        assert_eq!(m(4), ("   1.00%".into(), "of all branches".into()));
        assert_eq!(m(3).1, "/sec");
    }

    #[test]
    fn cpu_lists_and_defaults() {
        assert_eq!(parse_cpu_list("0-3,5\n"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("1"), Some(vec![1]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list(""), None);
        let d = default_events(true);
        assert_eq!(d[0].events[0].name, "cpu-clock");
        assert_eq!(d.len(), 8);
        assert_eq!(default_events(false)[0].events[0].name, "task-clock");
    }

    #[test]
    fn repeats_use_the_standard_deviation_of_the_mean() {
        let (m, sd) = mean_sd(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((sd - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
