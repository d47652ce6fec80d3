//! `ftr record --date`: the offset from the trace clock to the wall clock,
//! measured as trace-cmd does (`get_date_to_ts` in tracecmd/trace-record.c):
//! write a marker between two CLOCK_REALTIME readings, read the marker's
//! timestamp back from the ring, keep the tightest of several tries, and
//! store the difference in microseconds as `0x...` (the DATE option, which
//! trace-cmd report and ftr report add to every timestamp).

use anyhow::{bail, Context, Result};
use ftr_tracefs::ring::PageLayout;
use ftr_tracefs::{Instance, RingReader, TracingDir};
use std::io::Write;

const TRIES: usize = 20;

fn realtime_ns() -> Result<u64> {
    // SystemTime reads CLOCK_REALTIME.
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(t.as_nanos() as u64)
}

/// Measures the DATE option's text in `instance` (tracing on, no events
/// enabled yet: the markers are drained and dropped).
pub fn date_offset(
    t: &TracingDir,
    instance: &Instance,
    reader: &mut RingReader,
    layout: &PageLayout,
) -> Result<String> {
    let id_path = t.events_dir().join("ftrace/print/id");
    let print_id: u16 = std::fs::read_to_string(&id_path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .with_context(|| format!("--date needs the ftrace:print event ({})", id_path.display()))?;
    let marker_path = instance.dir().join("trace_marker");
    let mut marker = std::fs::OpenOptions::new()
        .write(true)
        .open(&marker_path)
        .with_context(|| format!("--date writes to {}", marker_path.display()))?;
    instance.set_tracing_on(true)?;
    let mut best: Option<(u64, u64, u64)> = None; // (window, wall midpoint, trace ts)
    for _ in 0..TRIES {
        let start = realtime_ns()?;
        marker
            .write_all(b"ftr-date\n")
            .context("writing the --date marker")?;
        let end = realtime_ns()?;
        let mut ts = None;
        reader.drain(|_, page| {
            for ev in page.events().flatten() {
                if ev.common_type(layout.endian) == Some(print_id) {
                    ts = Some(ev.ts);
                }
            }
        })?;
        let (Some(ts), window) = (ts, end.saturating_sub(start)) else {
            continue;
        };
        if best.is_none_or(|(w, _, _)| window < w) {
            best = Some((window, end - window / 2, ts));
        }
    }
    instance.set_tracing_on(false)?;
    // The markers must not count as recorded events in the final stats.
    instance.clear()?;
    let Some((_, wall, ts)) = best else {
        bail!(
            "--date: none of {TRIES} markers written to {} came back",
            marker_path.display()
        );
    };
    Ok(format!("0x{:x}", wall.saturating_sub(ts) / 1000))
}
