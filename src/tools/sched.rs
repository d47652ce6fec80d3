//! `ftr sched latency`: per-task scheduling delays in the layout of
//! `perf sched latency`, traced live instead of recorded.
//!
//! The definitions are perf's (tools/perf/builtin-sched.c,
//! `latency_switch_event`, `latency_wakeup_event`, `add_sched_in_event`):
//!
//! - a task's *delay* runs from the moment it became runnable to its next
//!   switch-in. It becomes runnable when it is woken while sleeping (the
//!   wakeup event: sched_waking where the kernel has it, as `perf sched
//!   record` records, else sched_wakeup; and sched_wakeup_new), or when it
//!   is switched out still runnable (prev_state R or R+). A wakeup of a
//!   task that is not sleeping is ignored, as is one older than the task's
//!   last switch-out ("unordered timestamps").
//! - *Switches* counts the delays measured (perf's `nb_atoms`), not every
//!   context switch. A task seen for the first time being switched in
//!   counts one switch with zero delay, as in perf.
//! - *Runtime* sums sched_stat_runtime (CFS's accounting, as perf does);
//!   where that event is missing, ftr adds up switch-in to switch-out
//!   intervals per CPU instead (and says so).
//! - Rows are per command name with `comm:(N)` for N threads merged, or per
//!   thread with `--pids` (perf's `-p`), sorted by `-s` keys, largest first.
//!
//! Where ftr differs from the perf installed here: perf before 6.6 (the
//! commit "perf sched: use evsel__taskstate()" era) indexes
//! "RSDTtZXxKWP" with the raw prev_state, so on 4.14+ kernels a preempted
//! task (R+, 0x100) reads past the string and is not treated as runnable;
//! ftr decodes R+ per kernel and counts those waits. perf 6.1 also ignores
//! sched_waking in `perf sched latency` although `perf sched record`
//! records it instead of sched_wakeup, so on 4.3+ kernels its delays after
//! sleeps are missing altogether (docs/tools/sched.md shows both).

use super::common::end_session;
use super::common::sched::{
    self, tracepoints, PreemptionWarning, Sched, STAT_RUNTIME, SWITCH, WAKEUP, WAKEUP_NEW, WAKING,
};
use super::Global;
use crate::pipeline::plan::{alt, need, ProbePlan};
use crate::pipeline::session::RunStats;
use crate::pipeline::stop::Stop;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr sched` subcommands.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The analysis to run.
    #[command(subcommand)]
    pub command: SchedCommand,
}

/// What `ftr sched` can do.
#[derive(Debug, clap::Subcommand)]
pub enum SchedCommand {
    /// Per-task scheduling delays (perf sched latency).
    Latency(LatencyArgs),
}

/// `ftr sched latency` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr sched latency -d 5              # 5 seconds, per command name\n    ftr sched latency --pids            # per thread, until Ctrl-C\n    ftr sched latency -s max,avg -d 10  # largest maximum delay first"
)]
pub struct LatencyArgs {
    /// Stop after SECS seconds (default: at Ctrl-C).
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Sort rows by KEYS, comma-separated: pid, avg, max, switch, runtime.
    #[arg(
        short = 's',
        long = "sort",
        value_name = "KEYS",
        default_value = "avg,max,switch,runtime"
    )]
    pub sort: String,
    /// Show one row per thread instead of merging threads by command name.
    #[arg(long)]
    pub pids: bool,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u64>,
}

/// What `ftr sched latency` needs, best first: sched_waking as `perf sched
/// record` uses it (else sched_wakeup), and sched_stat_runtime for CPU
/// time (else switch timestamps).
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![
            need(
                "context switches",
                vec![alt("sched_switch", tracepoints(&[SWITCH]))],
            ),
            need(
                "wakeups",
                vec![
                    alt("sched_waking", tracepoints(&[WAKING, WAKEUP_NEW])),
                    alt("sched_wakeup", tracepoints(&[WAKEUP, WAKEUP_NEW])),
                ],
            ),
            need(
                "runtime",
                vec![
                    alt("sched_stat_runtime", tracepoints(&[STAT_RUNTIME])),
                    alt("switch timestamps", tracepoints(&[SWITCH])),
                ],
            ),
        ],
    }
}

/// A sort key of `-s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Thread id.
    Pid,
    /// Average delay.
    Avg,
    /// Maximum delay.
    Max,
    /// Number of delays.
    Switch,
    /// CPU time.
    Runtime,
}

/// Parses `-s` (perf's names).
pub fn parse_sort(s: &str) -> Result<Vec<SortKey>> {
    let keys: Result<Vec<SortKey>> = s
        .split(',')
        .map(|k| match k.trim() {
            "pid" => Ok(SortKey::Pid),
            "avg" => Ok(SortKey::Avg),
            "max" => Ok(SortKey::Max),
            "switch" => Ok(SortKey::Switch),
            "runtime" => Ok(SortKey::Runtime),
            other => bail!("unknown sort key {other:?} (use pid, avg, max, switch, runtime)"),
        })
        .collect();
    let keys = keys?;
    if keys.is_empty() {
        bail!("-s needs at least one key");
    }
    Ok(keys)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Sleeping,
    WaitCpu(u64),
    SchedIn,
    Ignore,
}

/// One task's totals (perf's `work_atoms`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLat {
    /// Thread id.
    pub tid: i32,
    /// Latest command name seen.
    pub comm: String,
    /// Threads merged into this row (1 for a single thread).
    pub merged: u32,
    /// CPU time, ns.
    pub runtime: u64,
    /// Delays measured.
    pub switches: u64,
    /// Sum of delays, ns.
    pub total_lat: u64,
    /// Longest delay, ns, and when it started and ended (trace clock).
    pub max_lat: u64,
    /// Start of the longest delay.
    pub max_start: u64,
    /// End of the longest delay.
    pub max_end: u64,
}

impl TaskLat {
    /// Average delay in ns (integer division, as perf).
    pub fn avg(&self) -> u64 {
        self.total_lat.checked_div(self.switches).unwrap_or(0)
    }
}

#[derive(Debug)]
struct Task {
    lat: TaskLat,
    state: State,
    sched_out: u64,
}

/// Counters perf prints as INFO lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Info {
    /// Wakeups of sleeping tasks.
    pub timestamps: u64,
    /// Of those, older than the task's last switch-out.
    pub unordered: u64,
    /// Switches whose prev was not the task last switched in on that CPU.
    pub switch_bugs: u64,
}

/// The latency aggregator.
#[derive(Debug)]
pub struct Latency {
    tasks: HashMap<i32, Task>,
    curr: HashMap<u32, (i32, u64)>,
    runtime_from_switches: bool,
    /// Diagnostics.
    pub info: Info,
}

impl Latency {
    /// An empty aggregator; `runtime_from_switches` when the kernel has no
    /// sched_stat_runtime.
    pub fn new(runtime_from_switches: bool) -> Latency {
        Latency {
            tasks: HashMap::new(),
            curr: HashMap::new(),
            runtime_from_switches,
            info: Info::default(),
        }
    }

    fn task(&mut self, tid: i32, comm: &dyn Fn() -> String, first: State, ts: u64) -> &mut Task {
        let t = self.tasks.entry(tid).or_insert_with(|| Task {
            lat: TaskLat {
                tid,
                merged: 1,
                ..Default::default()
            },
            state: first,
            sched_out: ts,
        });
        let c = comm();
        if !c.is_empty() && t.lat.comm != c {
            t.lat.comm = c;
        }
        t
    }

    /// One decoded event at `ts` (ns) on `cpu`.
    pub fn on(&mut self, cpu: u32, ts: u64, s: Sched<'_>) {
        match s {
            Sched::Switch {
                prev_pid,
                prev_comm,
                prev_runnable,
                next_pid,
                next_comm,
                ..
            } => {
                let last = self.curr.insert(cpu, (next_pid, ts));
                if let Some((cur, since)) = last {
                    if cur != prev_pid {
                        self.info.switch_bugs += 1;
                    } else if self.runtime_from_switches {
                        let t = self.task(prev_pid, &|| String::new(), State::Sleeping, ts);
                        t.lat.runtime += ts.saturating_sub(since);
                    }
                }
                // Switch-out: a new wait if still runnable.
                let out = self.task(prev_pid, &|| prev_comm.to_string(), State::Sleeping, ts);
                out.sched_out = ts;
                out.state = if prev_runnable {
                    State::WaitCpu(ts)
                } else {
                    State::Sleeping
                };
                // Switch-in; a task never seen before waited since now.
                let t = self.task(next_pid, &|| next_comm.to_string(), State::WaitCpu(ts), ts);
                let State::WaitCpu(wake) = t.state else { return };
                if ts < wake {
                    t.state = State::Ignore;
                    return;
                }
                t.state = State::SchedIn;
                let delta = ts - wake;
                t.lat.total_lat += delta;
                if delta > t.lat.max_lat {
                    t.lat.max_lat = delta;
                    t.lat.max_start = wake;
                    t.lat.max_end = ts;
                }
                t.lat.switches += 1;
            }
            Sched::Wakeup { pid, comm, .. } => {
                let info = &mut self.info;
                let t = self.tasks.entry(pid).or_insert_with(|| Task {
                    lat: TaskLat {
                        tid: pid,
                        merged: 1,
                        ..Default::default()
                    },
                    state: State::Sleeping,
                    sched_out: ts,
                });
                if t.lat.comm.is_empty() {
                    t.lat.comm = comm.to_string();
                }
                if t.state != State::Sleeping {
                    return;
                }
                info.timestamps += 1;
                if t.sched_out > ts {
                    info.unordered += 1;
                    return;
                }
                t.state = State::WaitCpu(ts);
            }
            Sched::Runtime { pid, comm, runtime } => {
                if self.runtime_from_switches {
                    return;
                }
                let t = self.task(pid, &|| comm.to_string(), State::WaitCpu(ts), ts);
                t.lat.runtime += runtime;
            }
        }
    }

    /// The rows to print: idle and tasks without delays left out, threads
    /// merged by command name unless `per_thread`, sorted by `keys`.
    pub fn rows(&self, per_thread: bool, keys: &[SortKey]) -> Vec<TaskLat> {
        let mut all: Vec<TaskLat> = self.tasks.values().map(|t| t.lat.clone()).collect();
        all.sort_by(|a, b| a.comm.cmp(&b.comm).then(a.tid.cmp(&b.tid)));
        let mut rows: Vec<TaskLat> = if per_thread {
            all
        } else {
            let mut merged: Vec<TaskLat> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for t in all {
                match index.get(&t.comm) {
                    Some(&i) => {
                        let m = &mut merged[i];
                        m.merged += 1;
                        m.runtime += t.runtime;
                        m.switches += t.switches;
                        m.total_lat += t.total_lat;
                        if m.max_lat < t.max_lat {
                            m.max_lat = t.max_lat;
                            m.max_start = t.max_start;
                            m.max_end = t.max_end;
                        }
                    }
                    None => {
                        index.insert(t.comm.clone(), merged.len());
                        merged.push(t);
                    }
                }
            }
            merged
        };
        rows.retain(|r| r.switches > 0 && r.tid != 0);
        rows.sort_by(|a, b| {
            for k in keys {
                let o = match k {
                    SortKey::Pid => b.tid.cmp(&a.tid),
                    SortKey::Avg => b.avg().cmp(&a.avg()),
                    SortKey::Max => b.max_lat.cmp(&a.max_lat),
                    SortKey::Switch => b.switches.cmp(&a.switches),
                    SortKey::Runtime => b.runtime.cmp(&a.runtime),
                };
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        rows
    }
}

const RULE_WIDE: &str = " -------------------------------------------------------------------------------------------------------------------------------------------";
const RULE_MID: &str =
    " -----------------------------------------------------------------------------------------------------------------";
const RULE_SHORT: &str = " ---------------------------------------------------";

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn secs_usecs(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
}

/// Prints the table as perf sched latency (6.1) does, with its INFO lines.
pub fn print_table(out: &mut dyn Write, rows: &[TaskLat], info: &Info, stats: &RunStats) -> io::Result<()> {
    writeln!(out, "\n{RULE_WIDE}")?;
    writeln!(
        out,
        "  Task                  |   Runtime ms  | Switches | Avg delay ms    | Max delay ms    | Max delay start           | Max delay end          |"
    )?;
    writeln!(out, "{RULE_WIDE}")?;
    let (mut all_runtime, mut all_count) = (0u64, 0u64);
    for r in rows {
        all_runtime += r.runtime;
        all_count += r.switches;
        let name = if r.merged > 1 {
            format!("  {}:({})", r.comm, r.merged)
        } else {
            format!("  {}:{}", r.comm, r.tid)
        };
        writeln!(
            out,
            "{name:<24}|{:11.3} ms |{:9} | avg:{:8.3} ms | max:{:8.3} ms | max start: {:>12} s | max end: {:>12} s",
            ms(r.runtime),
            r.switches,
            ms(r.avg()),
            ms(r.max_lat),
            secs_usecs(r.max_start),
            secs_usecs(r.max_end)
        )?;
    }
    writeln!(out, "{RULE_MID}")?;
    writeln!(
        out,
        "  TOTAL:                |{:11.3} ms |{all_count:9} |",
        ms(all_runtime)
    )?;
    writeln!(out, "{RULE_SHORT}")?;
    if info.unordered > 0 && info.timestamps > 0 {
        writeln!(
            out,
            "  INFO: {:.3}% unordered timestamps ({} out of {})",
            info.unordered as f64 / info.timestamps as f64 * 100.0,
            info.unordered,
            info.timestamps
        )?;
    }
    if stats.lost_events > 0 && stats.events > 0 {
        writeln!(
            out,
            "  INFO: {:.3}% lost events ({} out of {}, in {} chunks)",
            stats.lost_events as f64 / stats.events as f64 * 100.0,
            stats.lost_events,
            stats.events,
            stats.lost_pages
        )?;
    }
    if info.switch_bugs > 0 && info.timestamps > 0 {
        write!(
            out,
            "  INFO: {:.3}% context switch bugs ({} out of {})",
            info.switch_bugs as f64 / info.timestamps as f64 * 100.0,
            info.switch_bugs,
            info.timestamps
        )?;
        if stats.lost_pages > 0 {
            write!(out, " (due to lost events?)")?;
        }
        writeln!(out)?;
    }
    writeln!(out)
}

/// Runs `ftr sched ...`.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    match args.command {
        SchedCommand::Latency(a) => latency(g, a),
    }
}

fn latency(g: &Global, args: LatencyArgs) -> Result<ExitCode> {
    let stop = Stop::install()?;
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("-d needs a positive number of seconds, not {d}");
        }
    }
    let keys = parse_sort(&args.sort)?;
    let stop = stop.with_duration(args.duration.map(Duration::from_secs_f64));
    let (mut session, mut sched, res) = sched::start(g, &plan(), args.buffer_kb, PreemptionWarning::Print)?;
    let from_switches = res
        .chosen("runtime")
        .is_some_and(|a| a.name != "sched_stat_runtime");
    if from_switches {
        eprintln!("ftr: no sched_stat_runtime here: Runtime is summed from context switches");
    }
    let mut lat = Latency::new(from_switches);
    eprintln!("Tracing scheduler latency... Hit Ctrl-C to end.");
    let stats = session.run(
        &stop,
        Duration::from_millis(200),
        &mut |ev| {
            if let Some(s) = sched.decode(ev) {
                lat.on(ev.cpu, ev.ts, s);
            }
        },
        &mut |_, _| {},
    );
    let stats = end_session(session, stats)?;
    let rows = lat.rows(args.pids, &keys);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    print_table(&mut out, &rows, &lat.info, &stats).context("writing the table")?;
    out.flush().context("writing the table")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::common::sched::{Comm, WakeKind};
    use super::*;

    fn sw(prev: i32, runnable: bool, next: i32) -> Sched<'static> {
        Sched::Switch {
            prev_pid: prev,
            prev_comm: if prev == 0 {
                Comm(b"swapper/0")
            } else {
                Comm(b"task")
            },
            prev_state: if runnable { 0 } else { 1 },
            prev_runnable: runnable,
            next_pid: next,
            next_comm: if next == 0 {
                Comm(b"swapper/0")
            } else {
                Comm(b"task")
            },
        }
    }

    fn wake(pid: i32) -> Sched<'static> {
        Sched::Wakeup {
            kind: WakeKind::Waking,
            pid,
            comm: Comm(b"task"),
            target_cpu: Some(0),
        }
    }

    #[test]
    fn perf_definitions() {
        let mut l = Latency::new(false);
        // 5 first seen switching in: one switch, zero delay.
        l.on(0, 1_000, sw(0, true, 5));
        l.on(
            0,
            2_000,
            Sched::Runtime {
                pid: 5,
                comm: Comm(b"task"),
                runtime: 1_000,
            },
        );
        // 5 sleeps, is woken at 10 us, runs at 40 us: 30 us.
        l.on(0, 2_000, sw(5, false, 0));
        l.on(1, 10_000, wake(5));
        l.on(0, 40_000, sw(0, true, 5));
        // A second wakeup while it runs is ignored.
        l.on(1, 41_000, wake(5));
        // Preempted at 50 us by 6 (first seen), back at 150 us: 100 us.
        l.on(0, 50_000, sw(5, true, 6));
        l.on(0, 150_000, sw(6, false, 5));
        let rows = l.rows(true, &parse_sort("avg,max,switch,runtime").unwrap());
        let five = rows.iter().find(|r| r.tid == 5).unwrap();
        assert_eq!(five.switches, 3);
        assert_eq!(five.total_lat, 130_000);
        assert_eq!(
            (five.max_lat, five.max_start, five.max_end),
            (100_000, 50_000, 150_000)
        );
        assert_eq!(five.runtime, 1_000);
        let six = rows.iter().find(|r| r.tid == 6).unwrap();
        assert_eq!((six.switches, six.total_lat), (1, 0));
        assert!(rows.iter().all(|r| r.tid != 0), "idle is not printed");
        assert_eq!(rows[0].tid, 5, "largest average first");
        assert_eq!(l.info.timestamps, 1);
        assert_eq!(l.info.switch_bugs, 0);
    }

    #[test]
    fn unordered_wakeups_and_switch_bugs() {
        let mut l = Latency::new(true);
        l.on(0, 100, sw(0, true, 7));
        l.on(0, 500, sw(7, false, 0));
        l.on(1, 400, wake(7)); // older than the switch-out
        assert_eq!(l.info.unordered, 1);
        // CPU 0 last switched in idle; a switch away from 8 is a "bug".
        l.on(0, 900, sw(8, false, 0));
        assert_eq!(l.info.switch_bugs, 1);
        let rows = l.rows(true, &[SortKey::Pid]);
        let seven = rows.iter().find(|r| r.tid == 7).unwrap();
        assert_eq!(seven.runtime, 400, "runtime from switches: 100..500");
    }

    #[test]
    fn merging_and_layout() {
        let mut l = Latency::new(false);
        l.on(0, 1_000_000, sw(0, true, 11));
        l.on(0, 3_000_000, sw(11, true, 12)); // 11 waits from 3 ms
        l.on(0, 5_500_000, sw(12, false, 11)); // 2.5 ms
        let rows = l.rows(false, &parse_sort("avg").unwrap());
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].merged, rows[0].switches), (2, 3));
        let mut out = Vec::new();
        print_table(&mut out, &rows, &l.info, &RunStats::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1].len(), 140);
        assert_eq!(
            lines[4],
            "  task:(2)              |      0.000 ms |        3 | avg:   0.833 ms | max:   2.500 ms | max start:     0.003000 s | max end:     0.005500 s"
        );
        assert_eq!(lines[6], "  TOTAL:                |      0.000 ms |        3 |");
        assert!(parse_sort("avg,nope").is_err());
    }
}
