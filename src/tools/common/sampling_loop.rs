//! The loop every sampling tool runs: wait on the rings, hand records to
//! the tool, stop on Ctrl-C, a deadline or the command's exit, drain what
//! is left, end a command still running, and say what the kernel lost;
//! then print the counted stacks as the tool's flags ask. Tools that
//! report every interval (memleak) run [`sample_with_reports`] instead.

use super::stacks::{write_folded, write_multiline, write_svg, NamedStack};
use crate::pipeline::stop::Stop;
use anyhow::{Context, Result};
use ftr_pmu::{Origin, Record, Sampler, SamplerStats};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// The longest wait between two drains.
const POLL: Duration = Duration::from_millis(200);

/// Samples until `stop` or until `child` exits, feeding every record to
/// `f` (in time order across CPUs when `ordered`). Returns the command's
/// exit status when it ended first. Reports lost samples on stderr.
pub fn sample_until_stopped(
    sampler: &mut Sampler,
    stop: &Stop,
    mut child: Option<&mut Child>,
    ordered: bool,
    mut f: impl FnMut(&Record<'_>, Origin),
) -> Result<Option<ExitStatus>> {
    let status = loop {
        let timeout = stop.remaining().map_or(POLL, |r| r.min(POLL));
        sampler.wait(Some(timeout), Some(stop.wake_fd()))?;
        if ordered {
            sampler.drain_ordered(&mut f)?;
        } else {
            sampler.drain(&mut f)?;
        }
        if let Some(c) = child.as_deref_mut() {
            if let Some(st) = c.try_wait().context("waiting for the command")? {
                break Some(st);
            }
        }
        if stop.requested() {
            break None;
        }
    };
    sampler.disable()?;
    if ordered {
        sampler.drain_ordered(&mut f)?;
        sampler.flush_ordered(&mut f)?;
    } else {
        sampler.drain(&mut f)?;
    }
    if let (Some(c), None) = (child, status) {
        end_command(c);
    }
    let stats = sampler.stats();
    if stats.lost + stats.lost_samples > 0 {
        eprintln!(
            "ftr: WARNING: {} samples lost (ring full or PMU dropped them); counts are a lower bound",
            stats.lost + stats.lost_samples
        );
    }
    if stats.throttles > 0 {
        eprintln!(
            "ftr: WARNING: the kernel throttled sampling {} times (kernel.perf_event_max_sample_rate, \
             kernel.perf_cpu_time_max_percent); samples are missing",
            stats.throttles
        );
    }
    Ok(status)
}

/// Why a tool prints a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    /// An interval ended; sampling goes on (unless COUNT is reached).
    Interval,
    /// Ctrl-C (or SIGTERM): the final report.
    Stopped,
    /// The traced target exited: the final report, every record read.
    TargetGone,
}

/// A tool fed by a sampler that prints a report every interval.
pub trait IntervalReports {
    /// Takes one record, in time order across CPUs.
    fn record(&mut self, r: &Record<'_>, o: Origin);
    /// Prints a report with the sampler's counts so far.
    fn report(&mut self, reason: ReportReason, stats: SamplerStats) -> Result<()>;
    /// Whether the traced target has gone; asked after every read.
    fn target_gone(&mut self) -> Result<bool> {
        Ok(false)
    }
}

/// When [`sample_with_reports`] reads and reports.
#[derive(Debug, Clone, Copy)]
pub struct ReportTiming {
    /// A report every this long.
    pub every: Duration,
    /// Stop after this many reports.
    pub count: Option<u64>,
    /// The longest wait between two reads of the rings.
    pub tick: Duration,
    /// The shortest gap between two reads: a tool whose reading makes
    /// events itself (kernel allocations) must not feed on them.
    pub min_gap: Duration,
}

/// Reads `sampler` into `tool` in time order, with a report every
/// interval, until COUNT reports, Ctrl-C or the target's end (then the
/// rings are read to the last record before the final report).
pub fn sample_with_reports(
    sampler: &mut Sampler,
    stop: &Stop,
    timing: ReportTiming,
    tool: &mut impl IntervalReports,
) -> Result<()> {
    let mut next = Instant::now() + timing.every;
    let mut printed = 0u64;
    let mut last_read: Option<Instant> = None;
    loop {
        let wait = next.saturating_duration_since(Instant::now()).min(timing.tick);
        sampler.wait(Some(wait), Some(stop.wake_fd()))?;
        if let Some(gap) = last_read.map(|t| timing.min_gap.saturating_sub(t.elapsed())) {
            if !gap.is_zero() && !stop.requested() {
                std::thread::sleep(gap);
            }
        }
        last_read = Some(Instant::now());
        sampler.drain_ordered(|r, o| tool.record(r, o))?;
        let gone = tool.target_gone()?;
        if gone || stop.requested() {
            // A probe writes its sample synchronously: every hit of an
            // exited target is in the rings already.
            sampler.disable()?;
            sampler.drain_ordered(|r, o| tool.record(r, o))?;
            sampler.flush_ordered(|r, o| tool.record(r, o))?;
            let reason = if gone {
                ReportReason::TargetGone
            } else {
                ReportReason::Stopped
            };
            return tool.report(reason, sampler.stats());
        }
        if Instant::now() >= next {
            tool.report(ReportReason::Interval, sampler.stats())?;
            printed += 1;
            if timing.count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
            next += timing.every;
        }
    }
}

/// Ends a command still running when sampling stops (-d or Ctrl-C): the
/// terminal already sent it Ctrl-C; a deadline gets it SIGTERM.
fn end_command(c: &mut Child) {
    if let Ok(None) = c.try_wait() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = c.wait();
}

/// How counted stacks are printed.
pub struct StackOutput {
    /// Folded lines instead of BCC's multi-line layout.
    pub folded: bool,
    /// Also (or, without `folded`, only) an SVG flame graph here.
    pub svg: Option<PathBuf>,
    /// The flame graph's title.
    pub title: &'static str,
    /// What the values count ("samples", "us").
    pub count_name: &'static str,
}

impl StackOutput {
    /// Prints `stacks` on stdout and writes the SVG, if asked.
    pub fn write(&self, stacks: &[NamedStack]) -> Result<()> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        if self.folded {
            write_folded(&mut out, stacks)?;
        } else if self.svg.is_none() {
            write_multiline(&mut out, stacks)?;
        }
        out.flush()?;
        if let Some(path) = &self.svg {
            let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(f);
            write_svg(&mut w, stacks, self.title, self.count_name)
                .and_then(|_| w.flush())
                .with_context(|| format!("writing {}", path.display()))?;
            if !self.folded {
                let total: u64 = stacks.iter().map(|s| s.value).sum();
                eprintln!("ftr: wrote {} ({total} {})", path.display(), self.count_name);
            }
        }
        Ok(())
    }
}

/// The exit code of a profiled command, as perf passes it on.
pub fn exit_code(status: Option<ExitStatus>) -> std::process::ExitCode {
    match status {
        Some(st) if !st.success() => {
            std::process::ExitCode::from(st.code().map_or(1, |c| c.clamp(1, 255) as u8))
        }
        _ => std::process::ExitCode::SUCCESS,
    }
}
