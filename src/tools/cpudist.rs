//! `ftr cpudist`: how long tasks run each time they are on a CPU (or, with
//! `-O`, how long they stay off it), as power-of-two histograms in bcc
//! cpudist's layout, from sched_switch alone.
//!
//! On-CPU time is bcc cpudist.py's: every stint from switch-in to
//! switch-out, whatever the task does next (libbpf-tools' cpudist counts
//! only stints that end in preemption). ftr tracks the running task per
//! CPU rather than per task, so a switch-in the trace lacks (lost, or a
//! kernel that does not report it) leaves that stint out instead of
//! stretching it. Off-CPU time (`-O`) runs from a task's switch-out to its
//! next switch-in, sleeping and waiting for a CPU alike. The idle task is
//! left out, as bcc does by default.

use super::common::interval::{run_summaries_to_stdout, Aggregate};
use super::common::sched::{
    self, check_pid, hist_key, tracepoints, Comm, HistBy, Hists, PreemptionWarning, Sched, SchedEvents,
    TaskFilter, TaskHistArgs, Tgids, SWITCH,
};
use super::Global;
use crate::pipeline::plan::{alt, need, ProbePlan};
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use anyhow::Result;
use ftr_tracefs::ring::Missed;
use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// `ftr cpudist` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr cpudist              # on-CPU time histogram, until Ctrl-C\n    ftr cpudist -O           # off-CPU time instead\n    ftr cpudist -mT 1 5      # 1s summaries, milliseconds, timestamps, 5 times\n    ftr cpudist -P -p 185    # process 185 only, one histogram\n    ftr cpudist -L           # one histogram per thread"
)]
pub struct Args {
    /// Measure off-CPU time instead of on-CPU time.
    #[arg(short = 'O', long)]
    pub offcpu: bool,
    /// Histogram keying, units, pid filter, buffer, interval.
    #[command(flatten)]
    pub hist: TaskHistArgs,
}

/// What cpudist needs: context switches.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "context switches",
            vec![alt("sched_switch", tracepoints(&[SWITCH]))],
        )],
    }
}

/// The cpudist aggregator.
pub struct CpuDist {
    sched: SchedEvents,
    offcpu: bool,
    /// On-CPU: the task each CPU switched in last, and when.
    running: HashMap<u32, (i32, u64)>,
    /// Off-CPU: when each task was switched out.
    off_since: HashMap<i32, u64>,
    hists: Hists,
    by: HistBy,
    ms: bool,
    filter: TaskFilter,
    tgids: Tgids,
}

impl CpuDist {
    /// An aggregator over `sched`'s events.
    pub fn new(sched: SchedEvents, offcpu: bool, by: HistBy, ms: bool, filter: TaskFilter) -> CpuDist {
        CpuDist {
            sched,
            offcpu,
            running: HashMap::new(),
            off_since: HashMap::new(),
            hists: Hists::default(),
            by,
            ms,
            filter,
            tgids: Tgids::new(),
        }
    }

    /// The thread-id cache (tests pre-fill it).
    pub fn tgids(&mut self) -> &mut Tgids {
        &mut self.tgids
    }

    fn record(&mut self, tid: i32, comm: Comm<'_>, ns: u64) {
        if tid == 0 || !self.filter.keeps(tid, &mut self.tgids) {
            return;
        }
        let v = if self.ms { ns / 1_000_000 } else { ns / 1_000 };
        if let Some(key) = hist_key(self.by, tid, &mut self.tgids) {
            self.hists.record(key, tid, comm, v);
        }
    }

    /// One decoded event at `ts` (ns) on `cpu`.
    pub fn on(&mut self, cpu: u32, ts: u64, s: Sched<'_>) {
        let Sched::Switch {
            prev_pid,
            prev_comm,
            next_pid,
            next_comm,
            ..
        } = s
        else {
            return;
        };
        if self.offcpu {
            if prev_pid != 0 {
                self.off_since.insert(prev_pid, ts);
            }
            if let Some(t0) = self.off_since.remove(&next_pid) {
                if let Some(d) = ts.checked_sub(t0) {
                    self.record(next_pid, next_comm, d);
                }
            }
        } else {
            let last = self.running.insert(cpu, (next_pid, ts));
            if let Some((tid, since)) = last {
                if tid == prev_pid {
                    if let Some(d) = ts.checked_sub(since) {
                        self.record(prev_pid, prev_comm, d);
                    }
                }
            }
        }
    }

    /// The histograms gathered so far.
    pub fn hists(&self) -> &Hists {
        &self.hists
    }
}

impl Aggregate for CpuDist {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(s) = self.sched.decode(ev) {
            self.on(ev.cpu, ev.ts, s);
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let unit = if self.ms { "msecs" } else { "usecs" };
        self.hists.print_and_clear(out, self.by, unit)
    }

    fn lost(&mut self, _cpu: u32, _missed: Missed) {
        // Start over rather than measure across a gap.
        self.running.clear();
        self.off_since.clear();
    }
}

/// Runs cpudist.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    args.hist.interval.validate()?;
    check_pid("-p", args.hist.pid)?;
    // On- and off-CPU stints do not depend on prev_state: no preemption warning.
    let (session, sched, _) = sched::start(g, &plan(), args.hist.buffer_kb, PreemptionWarning::Skip)?;
    let by = HistBy::from_flags(args.hist.pids, args.hist.tids);
    let filter = TaskFilter {
        pid: args.hist.pid,
        tid: None,
    };
    let mut agg = CpuDist::new(sched, args.offcpu, by, args.hist.milliseconds, filter);
    eprintln!(
        "Tracing {}-CPU time... Hit Ctrl-C to end.",
        if args.offcpu { "off" } else { "on" }
    );
    run_summaries_to_stdout(session, &stop, &args.hist.interval, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(prev: i32, next: i32) -> Sched<'static> {
        Sched::Switch {
            prev_pid: prev,
            prev_comm: Comm(b"a"),
            prev_state: 1,
            prev_runnable: false,
            next_pid: next,
            next_comm: Comm(b"b"),
        }
    }

    #[test]
    fn on_cpu_stints_per_cpu() {
        let mut d = CpuDist::new(
            SchedEvents::default(),
            false,
            HistBy::Thread,
            false,
            TaskFilter::default(),
        );
        d.on(0, 0, sw(0, 5));
        d.on(1, 0, sw(0, 6));
        d.on(0, 3_000, sw(5, 0)); // 5 ran 3 us on CPU 0
        d.on(1, 100_000, sw(6, 5)); // 6 ran 100 us on CPU 1
        d.on(1, 101_000, sw(5, 0)); // 5 ran 1 us on CPU 1
        d.on(0, 500_000, sw(7, 0)); // CPU 0 never showed 7 coming in: skipped
        assert_eq!(d.hists().get(5).map(|h| (h.count, h.total)), Some((2, 4)));
        assert_eq!(d.hists().get(6).map(|h| (h.count, h.total)), Some((1, 100)));
        assert!(d.hists().get(7).is_none());
        assert!(d.hists().get(0).is_none(), "idle is left out");
    }

    #[test]
    fn off_cpu_from_switch_out_to_switch_in() {
        let mut d = CpuDist::new(
            SchedEvents::default(),
            true,
            HistBy::All,
            true,
            TaskFilter::default(),
        );
        d.on(0, 0, sw(5, 6));
        d.on(1, 4_000_000, sw(0, 5)); // 4 ms off, back on another CPU
        d.on(0, 9_000_000, sw(6, 0)); // 6 had no switch-out seen: nothing
        let h = d.hists().get(-1).unwrap();
        assert_eq!((h.count, h.total), (1, 4));
        d.lost(0, Missed::Unknown);
        d.on(0, 20_000_000, sw(0, 6));
        assert_eq!(
            d.hists().get(-1).unwrap().count,
            1,
            "losses reset the pending switch-outs"
        );
    }
}
