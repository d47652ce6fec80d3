//! `ftr funccount`: count kernel function calls matching a pattern (bcc /
//! perf-tools funccount). Mechanisms, best first: the function profiler
//! (counts kept in the kernel), the `function` tracer filtered by
//! set_ftrace_filter in a private instance (one event per call, counted
//! here by address), kprobes on each matching function (capped).

use super::common::interval::hms_now;
use super::common::interval::{run_summaries_to_stdout, Aggregate, IntervalArgs};
use super::common::kprobes::{explain_unmet, KprobeEnv};
use super::common::ksyms::{running_kernel_symbols, sym_name};
use super::Global;
use crate::pipeline::plan::{alt, need, KernelEnv, Mechanism as M, ProbePlan};
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::pipeline::stop::Stop;
use anyhow::{anyhow, bail, Context, Result};
use ftr_symbols::KernelSymbols;
use ftr_tracefs::{
    glob_match, parse_kprobe_spec, EventName, FunctionFilter, FunctionProfiler, Instance, ProbeGroup,
    TracingDir,
};
use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The most functions the kprobe method probes: each is a definition and
/// an enable in the kernel (bcc caps its kprobe funccount at 1000; this
/// method is a last resort, so it stays small and says when it cut).
pub const KPROBE_CAP: usize = 64;

/// `ftr funccount` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr funccount 'vfs_*'            # count VFS calls until Ctrl-C\n    ftr funccount -i 1 'tcp_send*'    # per second\n    ftr funccount -d 5 -p 1234 'vfs_read'\n    ftr -v funccount 'ext4_*'         # say which mechanism counts and why"
)]
pub struct Args {
    /// Functions to count: a name or a glob (`vfs_*`, `*_read`).
    #[arg(value_name = "PATTERN")]
    pub pattern: String,
    /// Print counts every SECS seconds.
    #[arg(short = 'i', long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Count only calls made by process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Print a timestamp (HH:MM:SS) before each summary.
    #[arg(short = 'T', long)]
    pub timestamp: bool,
}

/// funccount's plan; `first` is a function the pattern matches (what the
/// kprobe alternative needs to exist).
pub fn plan(first: &'static str) -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "function calls",
            vec![
                alt("function profiler", vec![M::FunctionProfiler]),
                alt("function tracer", vec![M::FunctionTracer]),
                alt("kprobes", vec![M::Kprobe(first)]),
            ],
        )],
    }
}

/// Patterns go into set_ftrace_filter as written: only name and glob
/// characters, so no filter command (`:mod:`, `!`) or second pattern can
/// be smuggled in.
fn check_pattern(p: &str) -> Result<()> {
    if p.is_empty()
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*' | b'?'))
    {
        bail!("{p:?} is not a function name or glob (letters, digits, _ . * ?)");
    }
    Ok(())
}

/// Kernel functions matching `pattern`, from available_filter_functions
/// (what the function tracer can count), else kallsyms' text symbols.
fn matching_functions(t: &TracingDir, pattern: &str) -> Vec<String> {
    let names: Vec<String> = match std::fs::read_to_string(t.path("available_filter_functions")) {
        Ok(text) => text
            .lines()
            .filter_map(|l| l.split_ascii_whitespace().next())
            .map(str::to_owned)
            .collect(),
        Err(_) => std::fs::read_to_string(ftr_tracefs::KALLSYMS)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_ascii_whitespace();
                let (_, ty, name) = (w.next()?, w.next()?, w.next()?);
                matches!(ty, "t" | "T").then(|| name.to_owned())
            })
            .collect(),
    };
    let mut found: Vec<String> = names.into_iter().filter(|n| glob_match(pattern, n)).collect();
    found.sort();
    found.dedup();
    found
}

/// Writes `FUNC  COUNT` rows, ascending by count as bcc and perf-tools do.
pub fn write_counts(out: &mut dyn Write, counts: &HashMap<String, u64>) -> io::Result<()> {
    let mut rows: Vec<(&String, &u64)> = counts.iter().filter(|(_, c)| **c > 0).collect();
    rows.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    writeln!(out, "{:<36} {:>8}", "FUNC", "COUNT")?;
    for (f, c) in rows {
        writeln!(out, "{f:<36} {c:>8}")?;
    }
    Ok(())
}

/// Counts `function` events by the address of the traced function.
struct ByAddress {
    pid: Option<i32>,
    counts: HashMap<u64, u64>,
    syms: KernelSymbols,
}

impl Aggregate for ByAddress {
    fn event(&mut self, ev: &Event<'_>) {
        if self.pid.is_some_and(|p| p != ev.pid) {
            return;
        }
        if let Some(ip) = ev.schema.field("ip").and_then(|f| f.u64(ev.data, ev.endian)) {
            *self.counts.entry(ip).or_insert(0) += 1;
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut by_name: HashMap<String, u64> = HashMap::new();
        for (ip, c) in self.counts.drain() {
            *by_name.entry(sym_name(&self.syms, ip)).or_insert(0) += c;
        }
        writeln!(out)?;
        write_counts(out, &by_name)
    }
}

/// Counts kprobe events by the function each probe sits on.
struct ByProbe {
    functions: HashMap<String, String>,
    counts: HashMap<String, u64>,
}

impl Aggregate for ByProbe {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(f) = self.functions.get(&ev.schema.name) {
            *self.counts.entry(f.clone()).or_insert(0) += 1;
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out)?;
        write_counts(out, &std::mem::take(&mut self.counts))
    }
}

fn positive(flag: &str, v: Option<f64>) -> Result<()> {
    if let Some(v) = v {
        if !(v.is_finite() && v > 0.0) {
            bail!("{flag} needs a positive number of seconds, not {v}");
        }
    }
    Ok(())
}

/// Runs funccount.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    check_pattern(&args.pattern)?;
    positive("-i", args.interval)?;
    positive("-d", args.duration)?;
    let stop = Stop::install()?.with_duration(args.duration.map(Duration::from_secs_f64));
    let t = g.tracing_for_writing()?;
    let functions = matching_functions(&t, &args.pattern);
    let Some(first) = functions.first() else {
        bail!(
            "no kernel function matches {:?} (available_filter_functions, /proc/kallsyms)",
            args.pattern
        );
    };
    // The plan's mechanisms name static strings; this one lives until exit.
    let first: &'static str = Box::leak(first.clone().into_boxed_str());
    let env = KernelEnv::new(Ok(t.clone()));
    let plan = plan(first);
    if let Some(e) = explain_unmet(&env, &plan) {
        bail!("cannot count calls of {:?}: {e}", args.pattern);
    }
    let res = plan.resolve(&env);
    let (_, chosen, skipped) = &res.chosen[0];
    if g.verbose > 0 {
        for s in skipped {
            eprintln!("ftr: skipped {s}");
        }
        eprintln!("ftr: counting with the {}", chosen.name);
    }
    let iv = IntervalArgs {
        interval: args.interval,
        count: None,
        timestamp: args.timestamp,
    };
    // The profiler counts every task and lives at the (maybe busy) top
    // level: with -p, or when it cannot start, the next mechanism counts.
    let mut profiler_refused = None;
    if chosen.name == "function profiler" {
        if args.pid.is_some() {
            profiler_refused = Some("-p needs per-task events".to_owned());
        } else {
            match FunctionProfiler::start(&t, &[&args.pattern]) {
                Ok(prof) => return run_profiler(prof, &args, &stop),
                Err(e) => profiler_refused = Some(ftr_tracefs::error_chain(&e)),
            }
        }
    }
    let tracer = chosen.name == "function tracer" || env.check(&M::FunctionTracer).is_ok();
    let kprobes = env.check(&M::Kprobe(first)).is_ok();
    if let Some(why) = &profiler_refused {
        if !tracer && !kprobes {
            bail!(
                "cannot count calls of {:?}: the function profiler is refused ({why}) and neither the function tracer nor kprobes are usable",
                args.pattern
            );
        }
        if g.verbose > 0 {
            eprintln!("ftr: skipped the function profiler: {why}");
        }
    }
    if tracer {
        run_tracer(g, &t, &args, &stop, &iv, functions.len())
    } else {
        run_kprobes(g, &t, &args, &stop, &iv, &functions)
    }
}

fn run_profiler(prof: FunctionProfiler, args: &Args, stop: &Stop) -> Result<ExitCode> {
    eprintln!(
        "Tracing \"{}\" with the function profiler... Ctrl-C to end.",
        args.pattern
    );
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut before: HashMap<String, u64> = HashMap::new();
    let every = args.interval.map(Duration::from_secs_f64);
    let result = (|| -> Result<()> {
        loop {
            let until = every.map(|e| Instant::now() + e);
            while !stop.requested() && until.is_none_or(|u| Instant::now() < u) {
                let mut wait = stop.remaining().unwrap_or(Duration::from_millis(200));
                if let Some(u) = until {
                    wait = wait.min(u.saturating_duration_since(Instant::now()));
                }
                wait_for(stop, wait.min(Duration::from_millis(200)));
            }
            let now = prof.read()?;
            let delta: HashMap<String, u64> = now
                .iter()
                .map(|(f, c)| (f.clone(), c.saturating_sub(before.get(f).copied().unwrap_or(0))))
                .collect();
            before = now;
            writeln!(out)?;
            if args.timestamp {
                writeln!(out, "{}", hms_now())?;
            }
            write_counts(&mut out, &delta)?;
            out.flush()?;
            if stop.requested() {
                return Ok(());
            }
        }
    })();
    let stopped = prof
        .stop()
        .map_err(|e| anyhow!("stopping the function profiler: {}", ftr_tracefs::error_chain(&e)));
    result?;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

fn start_session(
    g: &Global,
    t: &TracingDir,
    cfg: &SessionConfig,
    setup: impl FnOnce(&Instance) -> Result<()>,
) -> Result<Session> {
    let session = Session::start_with(t, cfg, setup)?;
    if let Some(n) = &session.note {
        eprintln!("ftr: {n}");
    }
    if g.verbose > 1 {
        if let Some(name) = session.instance().name() {
            eprintln!("ftr: instance {name}");
        }
    }
    Ok(session)
}

fn wait_for(stop: &Stop, d: Duration) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(stop.wake_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::from(d.as_millis().min(60_000) as u16);
    let _ = poll(&mut fds, ms);
}

fn run_tracer(
    g: &Global,
    t: &TracingDir,
    args: &Args,
    stop: &Stop,
    iv: &IntervalArgs,
    matched: usize,
) -> Result<ExitCode> {
    let cfg = SessionConfig {
        decode_only: vec![EventName {
            system: "ftrace".into(),
            name: "function".into(),
        }],
        ..Default::default()
    };
    // Narrow first: selecting the tracer patches only what the filter lists.
    let session = start_session(g, t, &cfg, |inst| {
        inst.set_function_filter(FunctionFilter::Trace, &[&args.pattern])
            .with_context(|| format!("limiting the function tracer to {:?}", args.pattern))?;
        if let Some(p) = args.pid {
            inst.set_ftrace_pid(&[p])
                .context("limiting the function tracer to one process")?;
        }
        inst.set_tracer("function")
            .context("selecting the function tracer")
    })?;
    eprintln!(
        "Tracing {matched} functions for \"{}\" with the function tracer... Ctrl-C to end.",
        args.pattern
    );
    let mut agg = ByAddress {
        pid: args.pid,
        counts: HashMap::new(),
        syms: running_kernel_symbols(),
    };
    run_summaries_to_stdout(session, stop, iv, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

fn run_kprobes(
    g: &Global,
    t: &TracingDir,
    args: &Args,
    stop: &Stop,
    iv: &IntervalArgs,
    functions: &[String],
) -> Result<ExitCode> {
    let env = KprobeEnv::load(t, &format!("count calls of {:?}", args.pattern))?;
    let group = ProbeGroup::new(t);
    let mut probes: HashMap<String, String> = HashMap::new();
    let mut events = Vec::new();
    let mut skipped = 0usize;
    for f in functions {
        if probes.len() >= KPROBE_CAP {
            break;
        }
        let Ok(spec) = parse_kprobe_spec(&format!("p:{f}")) else {
            skipped += 1;
            continue;
        };
        if env.targets.check(f).is_err() {
            skipped += 1;
            continue;
        }
        // Some listed functions still refuse a probe (notrace neighbours,
        // __init text): skip them rather than give up on the rest.
        match group.add_kprobe(&spec) {
            Ok(ev) => {
                events.push(EventName {
                    system: group.name().to_owned(),
                    name: ev.clone(),
                });
                probes.insert(ev, f.clone());
            }
            Err(_) => skipped += 1,
        }
    }
    if probes.is_empty() {
        bail!(
            "cannot count calls of {:?}: none of its {} functions took a kprobe",
            args.pattern,
            functions.len()
        );
    }
    let cut = functions.len().saturating_sub(probes.len() + skipped);
    eprintln!(
        "Tracing {} functions for \"{}\" with kprobes{}{}... Ctrl-C to end.",
        probes.len(),
        args.pattern,
        if cut > 0 {
            format!(" ({cut} more match; kprobes are capped at {KPROBE_CAP})")
        } else {
            String::new()
        },
        if skipped > 0 {
            format!(" ({skipped} refused a probe)")
        } else {
            String::new()
        }
    );
    let cfg = SessionConfig {
        events,
        pid: args.pid,
        ..Default::default()
    };
    let session = start_session(g, t, &cfg, |_| Ok(()))?;
    let mut agg = ByProbe {
        functions: probes,
        counts: HashMap::new(),
    };
    run_summaries_to_stdout(session, stop, iv, &mut agg)?;
    group
        .remove()
        .map_err(|e| anyhow!("removing the kprobes: {}", ftr_tracefs::error_chain(&e)))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_names_or_globs() {
        assert!(check_pattern("vfs_*").is_ok());
        assert!(check_pattern("foo.isra.0").is_ok());
        for bad in ["", "a b", "!vfs_read", "vfs_read:mod:ext4", "a\nb"] {
            assert!(check_pattern(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_sort_ascending() {
        let mut m = HashMap::new();
        m.insert("vfs_write".to_owned(), 3);
        m.insert("vfs_read".to_owned(), 10);
        m.insert("vfs_open".to_owned(), 0);
        let mut out = Vec::new();
        write_counts(&mut out, &m).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].starts_with("vfs_write") && rows[2].starts_with("vfs_read"));
    }
}
