//! `ftr cachestat`: page cache hits, misses and dirtied pages per interval,
//! in the layout of BCC cachestat (`HITS MISSES DIRTIES HITRATIO
//! BUFFERS_MB CACHED_MB`), through kprobes where the kernel has them, else
//! the function tracer, else the filemap tracepoints (see
//! [`super::common::cache`]).

use super::common::cache::{self, Counts, MemInfo, Method};
use super::common::interval::{hms_now, Aggregate, IntervalArgs};
use super::Global;
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use anyhow::Result;
use std::io::{self, Write};
use std::process::ExitCode;

/// `ftr cachestat` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr cachestat                    # one line per second until Ctrl-C\n    ftr cachestat -T 5 3             # 5 s lines with a TIME column, 3 of them\n    ftr cachestat -p 181             # only what process 181 does\n    ftr cachestat --method tracepoint # use the filemap tracepoints even where kprobes work\n    ftr -v cachestat                 # say why earlier methods were skipped"
)]
pub struct Args {
    /// Print a TIME column (HH:MM:SS).
    #[arg(short = 'T', long)]
    pub timestamp: bool,
    /// Count only process PID (all its threads).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Use METHOD instead of the best one that works here.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Print a line every INTERVAL seconds.
    #[arg(value_name = "INTERVAL", default_value_t = 1.0)]
    pub interval: f64,
    /// Exit after COUNT lines.
    #[arg(value_name = "COUNT")]
    pub count: Option<u64>,
}

/// The column header, with TIME first under `-T` (BCC's widths).
pub fn header(timestamp: bool) -> String {
    let time = if timestamp {
        format!("{:<8} ", "TIME")
    } else {
        String::new()
    };
    format!(
        "{time}{:>8} {:>8} {:>8} {:>8} {:>12} {:>10}",
        "HITS", "MISSES", "DIRTIES", "HITRATIO", "BUFFERS_MB", "CACHED_MB"
    )
}

/// One line of BCC's layout for `counts`, with memory sizes from `mem`.
pub fn line(counts: &Counts, mem: MemInfo, time: Option<&str>) -> String {
    let d = counts.derive();
    let time = time.map(|t| format!("{t:<8} ")).unwrap_or_default();
    format!(
        "{time}{:>8} {:>8} {:>8} {:>7.2}% {:>12.0} {:>10.0}",
        d.hits,
        d.misses,
        d.dirties,
        100.0 * d.ratio,
        mem.buffers_kb as f64 / 1024.0,
        mem.cached_kb as f64 / 1024.0
    )
}

/// The aggregator: BCC's four counters since the last line.
pub struct Cachestat {
    decoder: cache::CacheDecoder,
    filter: cache::ProcessFilter,
    counts: Counts,
    timestamp: bool,
}

impl Aggregate for Cachestat {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some((role, n)) = self.decoder.decode(ev) {
            if self.filter.process_of(ev.pid).is_some() {
                self.counts.add(role, n);
            }
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let time = self.timestamp.then(hms_now);
        writeln!(out, "{}", line(&self.counts, MemInfo::now(), time.as_deref()))?;
        self.counts = Counts::default();
        Ok(())
    }
}

/// Runs cachestat.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let iv = IntervalArgs {
        interval: Some(args.interval),
        count: args.count,
        timestamp: false,
    };
    iv.validate()?;
    if let Some(p) = args.pid {
        if p <= 0 {
            anyhow::bail!("-p needs a positive process id, not {p}");
        }
    }
    let (cs, decoder) = cache::start(g, args.method, args.buffer_kb)?;
    cs.announce();
    let mut agg = Cachestat {
        decoder,
        filter: cache::ProcessFilter::new(args.pid),
        counts: Counts::default(),
        timestamp: args.timestamp,
    };
    cs.run_to_stdout(&stop, &iv, Some(&header(args.timestamp)), &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_layout() {
        assert_eq!(
            header(false),
            "    HITS   MISSES  DIRTIES HITRATIO   BUFFERS_MB  CACHED_MB"
        );
        assert_eq!(
            header(true),
            "TIME         HITS   MISSES  DIRTIES HITRATIO   BUFFERS_MB  CACHED_MB"
        );
        let c = Counts {
            accessed: 1200,
            added: 100,
            dirtied: 4,
            buffer_dirtied: 0,
        };
        let mem = MemInfo {
            buffers_kb: 277 * 1024,
            cached_kb: 4367 * 1024 + 100,
        };
        assert_eq!(
            line(&c, mem, None),
            "    1104       96        4   92.00%          277       4367"
        );
        assert_eq!(
            line(&Counts::default(), mem, Some("10:00:01")),
            "10:00:01        0        0        0    0.00%          277       4367"
        );
    }
}
