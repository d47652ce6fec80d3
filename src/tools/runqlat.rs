//! `ftr runqlat`: run-queue (scheduler) latency as a power-of-two
//! histogram, in bcc runqlat's layout, from the sched tracepoints alone.
//!
//! Semantics are bcc's (libbpf-tools/runqlat.bpf.c): a task enters the run
//! queue when it is woken (sched_wakeup, sched_wakeup_new) or when it is
//! switched out while still runnable (preempted or yielded: `prev_state`
//! says R or R+, decoded per kernel by [`SchedEvents`]); the latency is the
//! time from that moment to its next switch-in. Events from every CPU are
//! merged by timestamp first, since a wakeup and the switch it leads to
//! often happen on different CPUs.

use super::common::interval::{run_summaries_to_stdout, Aggregate};
use super::common::sched::{
    self, check_pid, hist_key, tracepoints, HistBy, Hists, PreemptionWarning, Sched, SchedEvents, TaskFilter,
    TaskHistArgs, Tgids, SWITCH, WAKEUP, WAKEUP_NEW,
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

/// `ftr runqlat` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr runqlat              # summarize run queue latency as a histogram\n    ftr runqlat 1 10         # print 1 second summaries, 10 times\n    ftr runqlat -mT 1        # 1s summaries, milliseconds, and timestamps\n    ftr runqlat -P           # show each PID separately\n    ftr runqlat -L -p 185    # each thread of PID 185 separately"
)]
pub struct Args {
    /// Histogram keying, units, pid filter, buffer, interval.
    #[command(flatten)]
    pub hist: TaskHistArgs,
}

/// What runqlat needs: wakeups and switches, from tracepoints only.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "scheduler events",
            vec![alt(
                "sched tracepoints",
                tracepoints(&[WAKEUP, WAKEUP_NEW, SWITCH]),
            )],
        )],
    }
}

/// The runqlat aggregator: enqueue timestamps per thread, histograms.
pub struct RunqLat {
    sched: SchedEvents,
    start: HashMap<i32, u64>,
    hists: Hists,
    by: HistBy,
    ms: bool,
    filter: TaskFilter,
    tgids: Tgids,
}

impl RunqLat {
    /// An aggregator over `sched`'s events.
    pub fn new(sched: SchedEvents, by: HistBy, ms: bool, filter: TaskFilter) -> RunqLat {
        RunqLat {
            sched,
            start: HashMap::new(),
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

    fn enqueue(&mut self, tid: i32, ts: u64) {
        if tid == 0 || !self.filter.keeps(tid, &mut self.tgids) {
            return;
        }
        self.start.insert(tid, ts);
    }

    /// One decoded event at `ts` (ns).
    pub fn on(&mut self, ts: u64, s: Sched<'_>) {
        match s {
            Sched::Wakeup { pid, .. } => self.enqueue(pid, ts),
            Sched::Switch {
                prev_pid,
                prev_runnable,
                next_pid,
                next_comm,
                ..
            } => {
                if prev_runnable {
                    self.enqueue(prev_pid, ts);
                }
                let Some(t0) = self.start.remove(&next_pid) else {
                    return;
                };
                let Some(delta) = ts.checked_sub(t0) else { return };
                let v = if self.ms { delta / 1_000_000 } else { delta / 1_000 };
                if let Some(key) = hist_key(self.by, next_pid, &mut self.tgids) {
                    self.hists.record(key, next_pid, next_comm, v);
                }
            }
            Sched::Runtime { .. } => {}
        }
    }

    /// The histograms gathered so far.
    pub fn hists(&self) -> &Hists {
        &self.hists
    }
}

impl Aggregate for RunqLat {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(s) = self.sched.decode(ev) {
            self.on(ev.ts, s);
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let unit = if self.ms { "msecs" } else { "usecs" };
        self.hists.print_and_clear(out, self.by, unit)
    }

    fn lost(&mut self, _cpu: u32, _missed: Missed) {
        // A lost switch-in would pair a later one with a stale enqueue and
        // invent a long wait: forget every pending enqueue instead.
        self.start.clear();
    }
}

/// Runs runqlat.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    args.hist.interval.validate()?;
    check_pid("-p", args.hist.pid)?;
    let (session, sched, _) = sched::start(g, &plan(), args.hist.buffer_kb, PreemptionWarning::Print)?;
    let by = HistBy::from_flags(args.hist.pids, args.hist.tids);
    let filter = TaskFilter {
        pid: args.hist.pid,
        tid: None,
    };
    let mut agg = RunqLat::new(sched, by, args.hist.milliseconds, filter);
    eprintln!("Tracing run queue latency... Hit Ctrl-C to end.");
    run_summaries_to_stdout(session, &stop, &args.hist.interval, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::common::sched::{Comm, WakeKind};
    use super::*;

    fn wake(pid: i32) -> Sched<'static> {
        Sched::Wakeup {
            kind: WakeKind::Wakeup,
            pid,
            comm: Comm(b"w"),
            target_cpu: Some(0),
        }
    }

    fn switch(prev: i32, runnable: bool, next: i32) -> Sched<'static> {
        Sched::Switch {
            prev_pid: prev,
            prev_comm: Comm(b"p"),
            prev_state: if runnable { 0 } else { 1 },
            prev_runnable: runnable,
            next_pid: next,
            next_comm: Comm(b"next"),
        }
    }

    #[test]
    fn wakeup_and_preemption_both_count() {
        let mut a = RunqLat::new(
            SchedEvents::default(),
            HistBy::Thread,
            false,
            TaskFilter::default(),
        );
        a.on(1_000_000, wake(10));
        a.on(1_003_000, switch(0, true, 10)); // waited 3 us
        a.on(2_000_000, switch(10, true, 11)); // 10 preempted: back in the queue
        a.on(2_500_000, switch(11, false, 10)); // waited 500 us
        a.on(3_000_000, switch(10, false, 0)); // 10 sleeps: no enqueue
        a.on(4_000_000, switch(0, true, 10)); // no wakeup seen: not counted
        let h = a.hists().get(10).unwrap();
        assert_eq!(h.count, 2);
        assert_eq!(h.total, 3 + 500);
        assert_eq!(h.slots()[1], 1); // 3 us in 2..3
        assert_eq!(h.slots()[8], 1); // 500 us in 256..511
        assert!(a.hists().get(0).is_none(), "idle is never enqueued");
        assert!(a.hists().get(11).is_none(), "11 had no enqueue");
    }

    #[test]
    fn milliseconds_and_filters() {
        let me = std::process::id() as i32;
        let mut a = RunqLat::new(
            SchedEvents::default(),
            HistBy::Process,
            true,
            TaskFilter {
                pid: Some(me),
                tid: None,
            },
        );
        a.tgids().insert(5000, me);
        a.tgids().insert(6000, 1);
        a.on(0, wake(5000));
        a.on(0, wake(6000));
        a.on(7_500_000, switch(0, true, 5000));
        a.on(7_500_000, switch(0, true, 6000));
        let h = a.hists().get(me).unwrap();
        assert_eq!((h.count, h.total), (1, 7));
        assert!(a.hists().get(1).is_none(), "other processes are filtered");
        let mut out = Vec::new();
        a.report(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(&format!("\n\npid = {me} next\n     msecs")),
            "{text}"
        );
        assert!(a.hists().get(me).is_none(), "report starts over");
    }

    #[test]
    fn scheduler_command_lines() {
        use crate::cli::{Cli, Command};
        use clap::Parser;
        let p = |args: &[&str]| Cli::try_parse_from(std::iter::once("ftr").chain(args.iter().copied()));
        match p(&["runqlat", "-mT", "-L", "-p", "7", "1", "5"]).unwrap().command {
            Command::Runqlat(a) => {
                assert!(a.hist.milliseconds && a.hist.tids && !a.hist.pids && a.hist.interval.timestamp);
                assert_eq!(
                    (a.hist.pid, a.hist.interval.interval, a.hist.interval.count),
                    (Some(7), Some(1.0), Some(5))
                );
            }
            _ => panic!("not runqlat"),
        }
        match p(&["runqslower"]).unwrap().command {
            Command::Runqslower(a) => assert_eq!(a.min_us, 10000),
            _ => panic!("not runqslower"),
        }
        match p(&["runqslower", "-P", "-t", "3", "500"]).unwrap().command {
            Command::Runqslower(a) => assert_eq!((a.min_us, a.tid, a.previous), (500, Some(3), true)),
            _ => panic!("not runqslower"),
        }
        assert!(p(&["sched", "latency", "-d", "2", "-s", "max,avg", "--pids"]).is_ok());
        assert!(p(&["cpudist", "-O", "-P", "1"]).is_ok());
        assert!(p(&["runqlat", "-P", "-L"]).is_err());
        assert!(p(&["cpudist", "-P", "-L"]).is_err());
        assert!(p(&["sched"]).is_err());
    }

    #[test]
    fn losses_forget_pending_waits() {
        let mut a = RunqLat::new(SchedEvents::default(), HistBy::All, false, TaskFilter::default());
        a.on(0, wake(7));
        a.lost(0, Missed::Unknown);
        a.on(10_000_000, switch(0, true, 7));
        assert!(a.hists().get(-1).is_none());
    }
}
