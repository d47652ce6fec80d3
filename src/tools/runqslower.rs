//! `ftr runqslower`: one line per run-queue wait longer than a threshold,
//! with the task that was running before (libbpf-tools `runqslower -P`
//! layout: TIME COMM TID LAT(us) PREV COMM PREV TID).
//!
//! The waits are runqlat's (wakeup or preemption to switch-in, events
//! merged across CPUs by timestamp; see [`super::runqlat`]). The previous
//! task is the one the slow task replaced on its CPU: `prev` of the
//! sched_switch that ended the wait.

use super::common::interval::hms_now;
use super::common::sched::{self, check_pid, Comm, PreemptionWarning, Sched, TaskFilter, Tgids};
use super::common::{end_session, output_result};
use super::Global;
use crate::pipeline::plan::ProbePlan;
use crate::pipeline::stop::Stop;
use anyhow::Result;
use ftr_tracefs::ring::Missed;
use std::collections::HashMap;
use std::io::{self, LineWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr runqslower` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr runqslower           # waits longer than 10000 us (default)\n    ftr runqslower 1000      # waits longer than 1000 us\n    ftr runqslower -p 123    # threads of process 123 only\n    ftr runqslower -t 123    # thread 123 only\n    ftr runqslower 0         # every wait"
)]
pub struct Args {
    /// Print waits longer than MIN_US microseconds (0: every wait).
    #[arg(value_name = "MIN_US", default_value_t = 10000)]
    pub min_us: u64,
    /// Trace only process PID (all its threads).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Trace only thread TID.
    #[arg(short = 't', long, value_name = "TID")]
    pub tid: Option<i32>,
    /// Show the previous task (always on; accepted for libbpf-tools compatibility).
    #[arg(short = 'P', long)]
    pub previous: bool,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u64>,
}

/// What runqslower needs: the same events as runqlat, since it measures
/// the same waits.
pub fn plan() -> ProbePlan {
    super::runqlat::plan()
}

/// One slow wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowWait {
    /// The task that waited.
    pub tid: i32,
    /// Its name.
    pub comm: String,
    /// How long, in microseconds.
    pub lat_us: u64,
    /// The task it replaced on the CPU.
    pub prev_tid: i32,
    /// That task's name.
    pub prev_comm: String,
}

/// The runqslower state: enqueue timestamps per thread.
pub struct RunqSlower {
    start: HashMap<i32, u64>,
    min_us: u64,
    filter: TaskFilter,
    tgids: Tgids,
}

impl RunqSlower {
    /// Reports waits longer than `min_us` of the tasks `filter` keeps.
    pub fn new(min_us: u64, filter: TaskFilter) -> RunqSlower {
        RunqSlower {
            start: HashMap::new(),
            min_us,
            filter,
            tgids: Tgids::new(),
        }
    }

    fn enqueue(&mut self, tid: i32, ts: u64) {
        if tid == 0 || !self.filter.keeps(tid, &mut self.tgids) {
            return;
        }
        self.start.insert(tid, ts);
    }

    /// One decoded event at `ts` (ns); a slow wait when it ends one.
    pub fn on(&mut self, ts: u64, s: Sched<'_>) -> Option<SlowWait> {
        match s {
            Sched::Wakeup { pid, .. } => {
                self.enqueue(pid, ts);
                None
            }
            Sched::Switch {
                prev_pid,
                prev_comm,
                prev_runnable,
                next_pid,
                next_comm,
                ..
            } => {
                if prev_runnable {
                    self.enqueue(prev_pid, ts);
                }
                let t0 = self.start.remove(&next_pid)?;
                let lat_us = ts.checked_sub(t0)? / 1000;
                // As libbpf-tools: strictly longer than the threshold.
                if self.min_us > 0 && lat_us <= self.min_us {
                    return None;
                }
                Some(SlowWait {
                    tid: next_pid,
                    comm: next_comm.to_string(),
                    lat_us,
                    prev_tid: prev_pid,
                    prev_comm: comm_or_idle(prev_pid, prev_comm),
                })
            }
            Sched::Runtime { .. } => None,
        }
    }

    /// Events were lost: forget pending enqueues rather than pair a later
    /// switch-in with a stale one.
    pub fn lost(&mut self) {
        self.start.clear();
    }
}

fn comm_or_idle(pid: i32, comm: Comm<'_>) -> String {
    if comm.0.is_empty() && pid == 0 {
        "swapper".to_owned()
    } else {
        comm.to_string()
    }
}

/// The column header.
pub fn header() -> String {
    format!(
        "{:<8} {:<16} {:<6} {:>14} {:<16} {:<6}",
        "TIME", "COMM", "TID", "LAT(us)", "PREV COMM", "PREV TID"
    )
}

/// One output line (libbpf-tools runqslower -P).
pub fn line(time: &str, w: &SlowWait) -> String {
    format!(
        "{:<8} {:<16} {:<6} {:>14} {:<16} {:<6}",
        time, w.comm, w.tid, w.lat_us, w.prev_comm, w.prev_tid
    )
}

/// Runs runqslower.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    check_pid("-p", args.pid)?;
    check_pid("-t", args.tid)?;
    let (mut session, mut sched, _) = sched::start(g, &plan(), args.buffer_kb, PreemptionWarning::Print)?;
    let mut slow = RunqSlower::new(
        args.min_us,
        TaskFilter {
            pid: args.pid,
            tid: args.tid,
        },
    );
    let stdout = io::stdout();
    let mut out = LineWriter::new(stdout.lock());
    let mut write_error: Option<io::Error> = None;
    if let Err(e) = writeln!(out, "{}", header()) {
        write_error = Some(e);
        stop.request();
    }
    eprintln!(
        "Tracing run queue latency higher than {} us. Hit Ctrl-C to end.",
        args.min_us
    );
    let lost = std::cell::RefCell::new(0u64);
    let stats = {
        let slow = std::cell::RefCell::new(&mut slow);
        session.run(
            &stop,
            Duration::from_millis(100),
            &mut |ev| {
                let Some(s) = sched.decode(ev) else { return };
                if let Some(w) = slow.borrow_mut().on(ev.ts, s) {
                    if write_error.is_none() {
                        if let Err(e) = writeln!(out, "{}", line(&hms_now(), &w)) {
                            write_error = Some(e);
                            stop.request();
                        }
                    }
                }
            },
            &mut |cpu, m| {
                slow.borrow_mut().lost();
                match m {
                    Missed::Count(n) => {
                        *lost.borrow_mut() += n;
                        eprintln!("Lost {n} events on CPU #{cpu}!");
                    }
                    _ => eprintln!("Lost events on CPU #{cpu}!"),
                }
            },
        )
    };
    let flushed = out.flush();
    end_session(session, stats)?;
    output_result(write_error, flushed)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::super::common::sched::WakeKind;
    use super::*;

    fn switch(prev: i32, runnable: bool, next: i32) -> Sched<'static> {
        Sched::Switch {
            prev_pid: prev,
            prev_comm: Comm(b"spinner"),
            prev_state: 0,
            prev_runnable: runnable,
            next_pid: next,
            next_comm: Comm(b"sleeper"),
        }
    }

    #[test]
    fn reports_only_waits_above_the_threshold() {
        let mut s = RunqSlower::new(1000, TaskFilter::default());
        let wake = |pid| Sched::Wakeup {
            kind: WakeKind::Wakeup,
            pid,
            comm: Comm(b"sleeper"),
            target_cpu: None,
        };
        assert_eq!(s.on(0, wake(5)), None);
        assert_eq!(
            s.on(1_000_000, switch(9, true, 5)),
            None,
            "exactly 1000 us is not slower"
        );
        assert_eq!(s.on(2_000_000, wake(5)), None);
        let w = s.on(3_500_000, switch(9, true, 5)).unwrap();
        assert_eq!(
            w,
            SlowWait {
                tid: 5,
                comm: "sleeper".into(),
                lat_us: 1500,
                prev_tid: 9,
                prev_comm: "spinner".into()
            }
        );
        // 9 was preempted at 1 ms and 3.5 ms; it comes back 2 ms later.
        let w = s.on(5_500_000, switch(5, false, 9)).unwrap();
        assert_eq!((w.tid, w.lat_us, w.prev_tid), (9, 2000, 5));
        assert_eq!(
            line("12:00:00", &w),
            "12:00:00 sleeper          9                2000 spinner          5     "
        );
        assert_eq!(
            header(),
            "TIME     COMM             TID           LAT(us) PREV COMM        PREV TID"
        );
    }

    #[test]
    fn thread_filter() {
        let mut s = RunqSlower::new(
            0,
            TaskFilter {
                pid: None,
                tid: Some(5),
            },
        );
        s.on(0, switch(6, true, 7));
        assert_eq!(s.on(100_000, switch(7, true, 6)), None, "6 is filtered");
        let w = s.on(200_000, switch(6, true, 7));
        assert_eq!(w, None, "7 is filtered too");
    }
}
