//! `ftr profile`: on-CPU stacks sampled by a timer, counted by stack and
//! printed like BCC's profile (or folded for FlameGraph, or drawn as an
//! SVG flame graph), without BPF: perf_event_open cpu-clock sampling with
//! callchains, and DWARF unwinding for code without frame pointers.

use super::common::sampled_stacks::{CallGraph, StackWalker, DEFAULT_STACK_COPY};
use super::common::sampling_loop::{exit_code, sample_until_stopped, StackOutput};
use super::common::stacks::{StackCounts, StackParts};
use super::Global;
use crate::pipeline::plan::{alt, need, Mechanism, ProbePlan};
use crate::pipeline::stop::Stop;
use anyhow::{bail, Context, Result};
use ftr_pmu::{online_cpus, Record, SampleRate, SampleSource, SampleTarget, SamplerBuilder, Workload};
use ftr_symbols::Symbolizer;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `ftr profile`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Sample on-CPU stacks at a fixed rate and count them (bcc profile)",
    after_help = "EXAMPLES:\n    ftr profile                        # all CPUs, 49 Hz, until Ctrl-C\n    ftr profile -F 99 -d 10            # 99 Hz for 10 seconds\n    ftr profile -p 1234 -U             # one process, user stacks only\n    ftr profile -f -d 5 > out.folded   # folded stacks for flamegraph.pl\n    ftr profile --svg cpu.svg -- ./app # a command, drawn as a flame graph\n    ftr profile --call-graph dwarf -p 1234  # code built without frame pointers"
)]
pub struct Args {
    /// Sample at HZ samples per second per CPU.
    #[arg(short = 'F', long, value_name = "HZ", default_value_t = 49)]
    pub frequency: u64,
    /// Sample only this process (and the threads and children it starts).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Sample every CPU (the default without -p or a command).
    #[arg(short = 'a', long)]
    pub all_cpus: bool,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Show kernel stacks only.
    #[arg(short = 'K', long, conflicts_with = "user_only")]
    pub kernel_only: bool,
    /// Show user stacks only.
    #[arg(short = 'U', long)]
    pub user_only: bool,
    /// Print folded stacks (`comm;outer;...;inner count`) for FlameGraph.
    #[arg(short = 'f', long)]
    pub folded: bool,
    /// Write a flame graph SVG to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Walk user stacks with MODE: fp, dwarf or dwarf,SIZE (default: fp, dwarf where fp gives one frame).
    #[arg(long, value_name = "MODE", value_parser = CallGraph::parse)]
    pub call_graph: Option<CallGraph>,
    /// Include the idle task (pid 0).
    #[arg(short = 'I', long)]
    pub include_idle: bool,
    /// The command to run and profile (after `--`).
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// What profile needs from the kernel.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "samples",
            vec![alt("perf sampling", vec![Mechanism::PerfSampling])],
        )],
    }
}

/// Checked options.
struct Config {
    hz: u64,
    target: Target,
    duration: Option<Duration>,
    parts: StackParts,
    folded: bool,
    svg: Option<PathBuf>,
    call_graph: CallGraph,
    include_idle: bool,
}

enum Target {
    Cpus,
    Process(i32),
    Command(Vec<String>),
}

fn configure(args: Args) -> Result<Config> {
    let targets =
        usize::from(args.pid.is_some()) + usize::from(args.all_cpus) + usize::from(!args.command.is_empty());
    if targets > 1 {
        bail!("-p, -a and a command each choose what to sample; give one");
    }
    if args.frequency == 0 {
        bail!("-F must be at least 1");
    }
    let duration = match args.duration {
        Some(d) if !(d > 0.0 && d.is_finite()) => bail!("-d must be a positive number of seconds"),
        d => d.map(Duration::from_secs_f64),
    };
    let target = match (args.pid, args.command.is_empty()) {
        (Some(pid), _) => {
            if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                bail!("no such process: {pid}");
            }
            Target::Process(pid)
        }
        (None, false) => Target::Command(args.command),
        (None, true) => Target::Cpus,
    };
    Ok(Config {
        hz: args.frequency,
        target,
        duration,
        parts: match (args.kernel_only, args.user_only) {
            (true, _) => StackParts::KernelOnly,
            (_, true) => StackParts::UserOnly,
            _ => StackParts::Both,
        },
        folded: args.folded,
        svg: args.svg,
        call_graph: args.call_graph.unwrap_or(CallGraph::Auto(DEFAULT_STACK_COPY)),
        include_idle: args.include_idle,
    })
}

/// Runs profile.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let cfg = configure(args)?;
    let workload = match &cfg.target {
        Target::Command(argv) => Some(Workload::prepare(argv, Stop::unblock_in_child)?),
        _ => None,
    };
    let target = match (&cfg.target, &workload) {
        (_, Some(w)) => SampleTarget::Task {
            pid: w.pid(),
            inherit: true,
        },
        (Target::Process(pid), _) => SampleTarget::Process {
            pid: *pid,
            inherit: true,
        },
        _ => SampleTarget::Cpus(online_cpus().context("listing online CPUs")?),
    };
    // A stack copy per sample fills rings fast: give them room.
    let pages = if cfg.call_graph.stack_copy() > 0 { 256 } else { 64 };
    let builder = SamplerBuilder::new(target)
        .source(SampleSource::cpu_clock())
        .rate(SampleRate::Frequency(cfg.hz))
        .track_tasks(true)
        .ring_pages(pages)
        .enable_on_exec(workload.is_some());
    let mut sampler = cfg
        .call_graph
        .configure(builder)
        .open()
        .context("opening cpu-clock sampling")?;
    for note in sampler.notes() {
        eprintln!("ftr: {note}");
    }
    let mut child = match workload {
        // The exec enables the events (enable_on_exec), so the command's
        // own samples start at its first instruction and ftr's are none.
        Some(w) => Some(w.start()?),
        None => {
            sampler.enable()?;
            None
        }
    };
    // -d counts from here, once sampling runs.
    let stop = stop.with_duration(cfg.duration);
    if !cfg.folded {
        eprintln!(
            "Sampling at {} Hertz of {} by {} stack{}... Hit Ctrl-C to end.",
            cfg.hz,
            match &cfg.target {
                Target::Cpus => "all threads".to_owned(),
                Target::Process(p) => format!("PID {p}"),
                Target::Command(c) => format!("'{}'", c.join(" ")),
            },
            match cfg.parts {
                StackParts::Both => "user + kernel",
                StackParts::KernelOnly => "kernel",
                StackParts::UserOnly => "user",
            },
            match cfg.duration {
                Some(d) => format!(" for {} secs", d.as_secs_f64()),
                None => String::new(),
            }
        );
    }
    let mut symbolizer = Symbolizer::new();
    let mut walker = StackWalker::new(cfg.call_graph);
    let mut counts = StackCounts::new();
    let mut handle = |r: &Record<'_>, _| match r {
        Record::Sample(s) => {
            if s.pid == Some(0) && !cfg.include_idle {
                return;
            }
            if let Some(st) = walker.stack(s, &mut symbolizer) {
                let (pid, tid, kernel, user) = (st.pid, st.tid, st.kernel, st.user);
                let comm = walker.comm(tid).to_owned();
                counts.add(pid, &comm, kernel, &user, 1);
            }
        }
        other => walker.observe(other, &mut symbolizer),
    };
    let status = sample_until_stopped(&mut sampler, &stop, child.as_mut(), false, &mut handle)?;
    drop(sampler);
    if g.verbose > 0 {
        eprintln!(
            "ftr: {} samples, {} distinct stacks, {} user stacks unwound with DWARF CFI",
            counts.total(),
            counts.len(),
            walker.dwarf_unwound
        );
    }
    let stacks = counts.symbolize(&mut symbolizer, cfg.parts);
    StackOutput {
        folded: cfg.folded,
        svg: cfg.svg,
        title: "CPU Flame Graph",
        count_name: "samples",
    }
    .write(&stacks)?;
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Args {
        let mut argv = vec!["ftr", "profile"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Profile(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn flags_read_like_bcc_and_perf() {
        let a = parse(&["-F", "99", "-p", "1", "-U", "-f", "--call-graph", "dwarf,4096"]);
        assert_eq!(
            (a.frequency, a.pid, a.user_only, a.folded),
            (99, Some(1), true, true)
        );
        assert_eq!(a.call_graph, Some(CallGraph::Dwarf(4096)));
        let a = parse(&["--", "ls", "-l"]);
        assert_eq!(a.command, vec!["ls", "-l"]);
        assert_eq!(a.frequency, 49);
        let cfg = configure(parse(&["-d", "2"])).unwrap();
        assert_eq!(cfg.duration, Some(Duration::from_secs(2)));
        assert_eq!(cfg.call_graph, CallGraph::Auto(DEFAULT_STACK_COPY));
        assert!(matches!(cfg.target, Target::Cpus));
        assert!(configure(parse(&["-a", "--", "ls"])).is_err());
        assert!(Cli::try_parse_from(["ftr", "profile", "-K", "-U"]).is_err());
    }
}
