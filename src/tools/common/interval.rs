//! The `[interval [count]]` loop of bcc's summary tools: gather, print every
//! INTERVAL seconds (or once, at Ctrl-C), stop after COUNT prints. A Ctrl-C
//! in the middle of an interval still prints what was gathered, as
//! libbpf-tools do.

use super::end_session;
use crate::pipeline::session::{Event, RunStats, Session};
use crate::pipeline::stop::Stop;
use anyhow::{bail, Result};
use ftr_tracefs::ring::Missed;
use std::cell::RefCell;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

/// `[interval [count]]` and `-T`, shared by every summary tool.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IntervalArgs {
    /// Print a summary every INTERVAL seconds (default: once, at Ctrl-C).
    #[arg(value_name = "INTERVAL")]
    pub interval: Option<f64>,
    /// Exit after COUNT summaries.
    #[arg(value_name = "COUNT")]
    pub count: Option<u64>,
    /// Print a timestamp (HH:MM:SS) before each summary.
    #[arg(short = 'T', long)]
    pub timestamp: bool,
}

impl IntervalArgs {
    /// Checks the values before anything touches the kernel.
    pub fn validate(&self) -> Result<()> {
        if let Some(i) = self.interval {
            if !(i.is_finite() && i > 0.0) {
                bail!("interval must be a positive number of seconds, not {i}");
            }
        }
        if self.count == Some(0) {
            bail!("count must be at least 1");
        }
        Ok(())
    }
}

/// A tool's aggregator: fed decoded events, asked for a summary.
pub trait Aggregate {
    /// One event.
    fn event(&mut self, ev: &Event<'_>);
    /// Prints what was gathered since the last summary, then starts over.
    fn report(&mut self, out: &mut dyn Write) -> io::Result<()>;
    /// Events were lost on `cpu` before the next page.
    fn lost(&mut self, _cpu: u32, _missed: Missed) {}
}

/// Local wall-clock time as HH:MM:SS, for `-T` and bcc-style headers.
pub fn hms_now() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// Writes the start of a libbpf-tools summary: a blank line, then with
/// `-T` the time on a line of its own, padded to 8 columns as their
/// `printf("%-8s\n", ts)` does.
pub fn write_summary_start(out: &mut dyn Write, timestamp: bool) -> io::Result<()> {
    writeln!(out)?;
    if timestamp {
        writeln!(out, "{:<8}", hms_now())?;
    }
    Ok(())
}

/// Runs the loop: pumps `session` into `agg`, prints a summary each
/// interval (preceded by the time with `-T`), and once more when stopped
/// mid-interval. Returns the session's totals.
pub fn run_intervals(
    session: &mut Session,
    stop: &Stop,
    args: &IntervalArgs,
    out: &mut dyn Write,
    agg: &mut dyn Aggregate,
) -> Result<RunStats> {
    let every = args.interval.map(Duration::from_secs_f64);
    let tick = every.map_or(Duration::from_millis(200), |e| e.min(Duration::from_millis(200)));
    let mut printed = 0u64;
    loop {
        let until = every.map(|e| Instant::now() + e);
        let stopped = {
            // Events and losses both go to the aggregator.
            let agg = RefCell::new(&mut *agg);
            session.pump(
                stop,
                tick,
                until,
                &mut |ev| agg.borrow_mut().event(ev),
                &mut |cpu, m| agg.borrow_mut().lost(cpu, m),
            )?
        };
        if args.timestamp {
            writeln!(out, "{}", hms_now())?;
        }
        agg.report(out)?;
        out.flush()?;
        printed += 1;
        if stopped || args.count.is_some_and(|c| printed >= c) {
            break;
        }
    }
    Ok(session.stats())
}

/// A summary tool's whole run after start-up: [`run_intervals`] into
/// stdout, then [`end_session`]. Returns the run's error first, then the
/// clean-up's, then a failed final flush, else the totals. Stdout is
/// buffered because `run_intervals` flushes after every summary anyway.
pub fn run_summaries_to_stdout(
    mut session: Session,
    stop: &Stop,
    args: &IntervalArgs,
    agg: &mut dyn Aggregate,
) -> Result<RunStats> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stats = run_intervals(&mut session, stop, args, &mut out, agg);
    let flushed = out.flush();
    let stats = end_session(session, stats)?;
    flushed?;
    Ok(stats)
}
