//! `ftr tp`: print tracepoint events live, one line each, as
//! `comm-pid [cpu] secs.usecs: event: field=value ...` (perf-tools tpoint),
//! with filters applied in the kernel.

use super::common::{kernel_losses, output_result};
use super::Global;
use crate::pipeline::comm::CommCache;
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::pipeline::stop::Stop;
use anyhow::{bail, Result};
use ftr_tracefs::{exact_events, list_events, select_events, EventName};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr tp` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr tp sched:sched_process_exec                 # every exec\n    ftr tp 'sched:sched_switch' -p 1234 -d 5         # one process, 5 seconds\n    ftr tp block:block_rq_issue --filter 'bytes > 65536'\n    ftr tp 'syscalls:sys_enter_open*' --json"
)]
pub struct Args {
    /// Events to print: SYS:EVENT, globs allowed (`sched:*`).
    #[arg(required = true, value_name = "SYS:EVENT")]
    pub events: Vec<String>,
    /// Apply the kernel filter EXPR to every event (`prev_pid > 0`).
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Trace only process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Use trace clock CLOCK (local, global, mono, boot, ...).
    #[arg(short = 'C', long, value_name = "CLOCK")]
    pub clock: Option<String>,
    /// Print one JSON object per event.
    #[arg(long)]
    pub json: bool,
}

fn resolve_events(all: &[EventName], specs: &[String]) -> Result<Vec<EventName>> {
    let mut out: Vec<EventName> = Vec::new();
    for spec in specs {
        let found = select_events(all, spec);
        if found.is_empty() {
            let sys = spec.split(':').next().unwrap_or(spec);
            let near: Vec<String> = all
                .iter()
                .filter(|e| e.system == sys)
                .take(5)
                .map(|e| e.to_string())
                .collect();
            if near.is_empty() {
                bail!("no event matches {spec:?} (see `ftr list -e`)");
            }
            bail!("no event matches {spec:?}; {sys} has e.g. {}", near.join(", "));
        }
        for e in found {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
    }
    Ok(out)
}

fn print_line(out: &mut dyn Write, comms: &mut CommCache, ev: &Event<'_>, json: bool) -> std::io::Result<()> {
    let comm = comms.get(ev.pid);
    if json {
        writeln!(out, "{}", event_json(comm, ev))
    } else {
        write_event_line(out, comm, ev)
    }
}

/// Writes `comm-pid [cpu] secs.usecs: name:`, the start of every event line.
pub fn write_event_prefix(out: &mut dyn Write, comm: &str, ev: &Event<'_>) -> std::io::Result<()> {
    write!(
        out,
        "{comm:>16}-{:<7} [{:03}] {:>5}.{:06}: {}:",
        ev.pid,
        ev.cpu,
        ev.ts / 1_000_000_000,
        ev.ts % 1_000_000_000 / 1000,
        ev.schema.name
    )
}

/// Writes one event as `comm-pid [cpu] secs.usecs: name: field=value ...`.
pub fn write_event_line(out: &mut dyn Write, comm: &str, ev: &Event<'_>) -> std::io::Result<()> {
    write_event_prefix(out, comm, ev)?;
    for (name, r) in ev.fields {
        write!(out, " {name}={}", r.value(ev.data, ev.endian))?;
    }
    writeln!(out)
}

/// One event as a JSON object: ts, cpu, pid, comm, event, fields.
pub fn event_json(comm: &str, ev: &Event<'_>) -> serde_json::Value {
    let mut fields = serde_json::Map::new();
    for (name, r) in ev.fields {
        let v = match r.value(ev.data, ev.endian) {
            ftr_tracefs::format::Value::Signed(i) => serde_json::json!(i),
            ftr_tracefs::format::Value::Unsigned(u) => serde_json::json!(u),
            other => serde_json::json!(other.to_string()),
        };
        fields.insert(name.clone(), v);
    }
    serde_json::json!({
        "ts": ev.ts, "cpu": ev.cpu, "pid": ev.pid, "comm": comm,
        "event": format!("{}:{}", ev.schema.system, ev.schema.name), "fields": fields,
    })
}

/// Runs tp.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("-d needs a positive number of seconds, not {d}");
        }
    }
    let stop = Stop::install()?.with_duration(args.duration.map(Duration::from_secs_f64));
    let t = g.tracing_for_writing()?;
    let events = match exact_events(&t, &args.events) {
        Some(events) => events,
        None => resolve_events(&list_events(&t)?, &args.events)?,
    };
    let cfg = SessionConfig {
        events: events.clone(),
        filter: args.filter.clone(),
        pid: args.pid,
        buffer_kb: args.buffer_kb,
        clock: args.clock.clone(),
        ordered: true,
        ..Default::default()
    };
    let mut session = Session::start(&t, &cfg)?;
    if let Some(n) = &session.note {
        eprintln!("ftr: {n}");
    }
    // Lets the test suite prove that a panic after setup still cleans up.
    if std::env::var_os("FTR_TEST_PANIC_AFTER_SETUP").is_some() {
        panic!("FTR_TEST_PANIC_AFTER_SETUP is set");
    }
    let names: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    eprintln!("Tracing {}. Hit Ctrl-C to end.", names.join(", "));
    let mut comms = CommCache::new(Some(t.path("saved_cmdlines")));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error: Option<std::io::Error> = None;
    let stats = session.run(
        &stop,
        Duration::from_millis(100),
        &mut |ev| {
            if write_error.is_none() {
                if let Err(e) = print_line(&mut out, &mut comms, ev, args.json) {
                    write_error = Some(e);
                    stop.request();
                }
            }
        },
        &mut super::common::print_missed,
    );
    let flushed = out.flush();
    // tp prints its own loss line (below), not report_losses' warning.
    let overruns = kernel_losses(&session);
    let finished = session.finish();
    let stats = stats?;
    finished?;
    output_result(write_error, flushed)?;
    eprintln!(
        "{} events; {} lost{}",
        stats.events,
        stats.lost_events,
        if overruns > 0 || stats.lost_pages > stats.lost_events.min(stats.lost_pages) {
            format!(
                " (kernel counted {overruns} overrun/dropped; {} pages reported losses)",
                stats.lost_pages
            )
        } else {
            String::new()
        }
    );
    if stats.bad_pages > 0 {
        eprintln!("ftr: {} pages did not decode to the end", stats.bad_pages);
    }
    Ok(ExitCode::SUCCESS)
}
