//! What every tool shares: starting a session from a probe plan, the
//! `[interval [count]]` loop with Ctrl-C, loss reporting and tear-down.

pub mod block;
pub mod cache;
pub mod interval;
pub mod kprobes;
pub mod ksyms;
pub mod mmap_maps;
pub mod sampled_stacks;
pub mod sampling_loop;
pub mod sched;
pub mod stacks;
pub mod unwind;
pub mod uprobe_sources;

use super::Global;
use crate::pipeline::plan::{KernelEnv, ProbePlan, Resolution};
use crate::pipeline::session::{RunStats, Session, SessionConfig};
use anyhow::{anyhow, Context, Result};
use std::io;

/// Resolves `plan` on this kernel and starts a session on the tracepoints
/// of the chosen alternatives (plus whatever `cfg` already lists). Fails
/// with every unmet need and why each alternative failed. With `-v`, says
/// on stderr which mechanism was chosen and why earlier ones were skipped.
pub fn start_plan(g: &Global, plan: &ProbePlan, mut cfg: SessionConfig) -> Result<(Session, Resolution)> {
    let t = g.tracing_for_writing()?;
    let env = KernelEnv::new(Ok(t.clone()));
    let res = plan.resolve(&env);
    if let Some(e) = res.error() {
        return Err(anyhow!(e));
    }
    if g.verbose > 0 {
        for (what, alt, skipped) in &res.chosen {
            for s in skipped {
                eprintln!("ftr: {what}: skipped {s}");
            }
            eprintln!("ftr: {what}: using {}", alt.name);
        }
    }
    for e in res.tracepoints() {
        if !cfg.events.contains(&e) {
            cfg.events.push(e);
        }
    }
    let session = Session::start(&t, &cfg)?;
    if let Some(n) = &session.note {
        eprintln!("ftr: {n}");
    }
    Ok((session, res))
}

/// Says on stderr that events were lost on `cpu` before the next page, in
/// perf-tools' words, for the tools that print events live.
pub fn print_missed(cpu: u32, missed: ftr_tracefs::ring::Missed) {
    match missed {
        ftr_tracefs::ring::Missed::Count(n) => eprintln!("CPU:{cpu} [LOST {n} EVENTS]"),
        _ => eprintln!("CPU:{cpu} [LOST EVENTS]"),
    }
}

/// Checks the flags of a top-like tool (`INTERVAL [COUNT]`, a row limit
/// given as `rows_flag`, `-p PID`) before anything touches the kernel.
pub fn validate_top(
    interval: f64,
    count: Option<u64>,
    rows: usize,
    rows_flag: &str,
    pid: Option<i32>,
) -> Result<interval::IntervalArgs> {
    let iv = interval::IntervalArgs {
        interval: Some(interval),
        count,
        timestamp: false,
    };
    iv.validate()?;
    if rows == 0 {
        anyhow::bail!("{rows_flag} needs at least 1 row");
    }
    if let Some(p) = pid {
        if p <= 0 {
            anyhow::bail!("-p needs a positive process id, not {p}");
        }
    }
    Ok(iv)
}

/// Events the kernel itself counted as lost (overrun plus dropped, summed
/// over CPUs): these never reach a page header, so only the instance's
/// per-CPU stats tell of them.
pub fn kernel_losses(session: &Session) -> u64 {
    session
        .cpu_stats()
        .iter()
        .map(|(_, s)| s.overrun + s.dropped_events)
        .sum()
}

/// Says on stderr what the kernel lost, so counts are never silently low.
pub fn report_losses(session: &Session, stats: &RunStats) {
    let kernel = kernel_losses(session);
    if stats.lost_pages > 0 || kernel > 0 {
        eprintln!(
            "ftr: WARNING: events were lost ({} counted in page headers, {kernel} overrun/dropped per the kernel); \
             results are a lower bound. Try a larger buffer (-b KB) or a longer interval.",
            stats.lost_events
        );
    }
    if stats.bad_pages > 0 {
        eprintln!(
            "ftr: WARNING: {} ring-buffer pages did not decode to the end",
            stats.bad_pages
        );
    }
}

/// Ends a tool's run: reports losses when the run succeeded, then removes
/// the instance whatever happened, and returns the run's error first (it
/// is the cause), else the clean-up's, else the totals. Tools call this
/// once, after their last read of the session.
pub fn end_session(session: Session, stats: Result<RunStats>) -> Result<RunStats> {
    if let Ok(s) = &stats {
        report_losses(&session, s);
    }
    let finished = session.finish();
    let stats = stats?;
    finished?;
    Ok(stats)
}

/// The outcome of a live printer's output. Printers stop writing at the
/// first error (a closed pipe, say) but keep tracing until told to stop,
/// so the session is torn down first and the error reported here, after
/// it; the first write error wins over a later failed flush.
pub fn output_result(first_write_error: Option<io::Error>, flushed: io::Result<()>) -> Result<()> {
    if let Some(e) = first_write_error {
        return Err(e).context("writing events");
    }
    flushed.context("writing events")
}
