//! `ftr offcputime`: time spent off CPU (blocked, sleeping, waiting for a
//! CPU) summed by the stack where the task left it, like BCC offcputime,
//! without BPF: sched:sched_switch sampled through perf on every CPU with
//! callchains. A task's stack is taken when it is switched out (the
//! tracepoint fires in its context); the time is counted when a later
//! switch brings it back in, on whichever CPU (records are merged in time
//! order across CPUs first).

use super::common::sampled_stacks::{CallGraph, StackWalker};
use super::common::sampling_loop::{exit_code, sample_until_stopped, StackOutput};
use super::common::sched::{Sched, SchedEvents, SWITCH};
use super::common::stacks::{StackCounts, StackParts};
use super::Global;
use crate::pipeline::plan::{alt, need, Mechanism, ProbePlan};
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use crate::pipeline::tasks::stat_field;
use anyhow::{bail, Context, Result};
use ftr_pmu::{online_cpus, Record, SampleRate, SampleSource, SampleTarget, SamplerBuilder};
use ftr_symbols::Symbolizer;
use ftr_tracefs::format::Schema;
use ftr_tracefs::Endian;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The kernel's PF_KTHREAD task flag (include/linux/sched.h), field 9 of
/// /proc/TID/stat.
const PF_KTHREAD: u64 = 0x0020_0000;

/// Arguments of `ftr offcputime`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Summarize off-CPU time by stack (bcc offcputime)",
    after_help = "EXAMPLES:\n    ftr offcputime -d 5               # all threads, 5 seconds\n    ftr offcputime -p 1234 -U         # one process, user stacks only\n    ftr offcputime -m 1000 -f         # blocks of 1 ms or more, folded\n    ftr offcputime --svg off.svg -d 10  # an off-CPU flame graph"
)]
pub struct Args {
    /// Trace this process only.
    #[arg(short = 'p', long, value_name = "PID", conflicts_with = "tid")]
    pub pid: Option<i32>,
    /// Trace this thread only.
    #[arg(short = 't', long, value_name = "TID")]
    pub tid: Option<i32>,
    /// Trace user threads only (no kernel threads).
    #[arg(short = 'u', long, conflicts_with = "kernel_threads_only")]
    pub user_threads_only: bool,
    /// Trace kernel threads only.
    #[arg(short = 'k', long)]
    pub kernel_threads_only: bool,
    /// Show user stacks only.
    #[arg(short = 'U', long, conflicts_with = "kernel_only")]
    pub user_only: bool,
    /// Show kernel stacks only.
    #[arg(short = 'K', long)]
    pub kernel_only: bool,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Count only blocks of at least US microseconds.
    #[arg(short = 'm', long, value_name = "US", default_value_t = 1)]
    pub min_block_time: u64,
    /// Count only blocks of at most US microseconds.
    #[arg(short = 'M', long, value_name = "US", default_value_t = u64::MAX)]
    pub max_block_time: u64,
    /// Print folded stacks (`comm;outer;...;inner microseconds`).
    #[arg(short = 'f', long)]
    pub folded: bool,
    /// Write a flame graph SVG to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Walk user stacks with MODE: fp (default), dwarf or dwarf,SIZE.
    #[arg(long, value_name = "MODE", value_parser = CallGraph::parse)]
    pub call_graph: Option<CallGraph>,
}

/// What offcputime needs from the kernel.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "switches",
            vec![alt(
                "sched_switch + perf callchains",
                vec![Mechanism::Tracepoint(SWITCH), Mechanism::PerfSampling],
            )],
        )],
    }
}

/// Which threads count.
#[derive(Debug, Clone, Copy)]
struct ThreadFilter {
    pid: Option<u32>,
    tid: Option<u32>,
    user_only: bool,
    kernel_only: bool,
}

/// A switched-out task waiting to come back.
struct Blocked {
    at: u64,
    /// When sched_wakeup made it runnable again.
    woken: Option<u64>,
    pid: u32,
    comm: String,
    kernel: Vec<u64>,
    user: Vec<u64>,
}

fn is_kernel_thread(tid: u32, cache: &mut HashMap<u32, bool>) -> bool {
    *cache.entry(tid).or_insert_with(|| {
        std::fs::read_to_string(format!("/proc/{tid}/stat"))
            .ok()
            .and_then(|s| stat_field(&s, 9)?.parse::<u64>().ok())
            .is_some_and(|f| f & PF_KTHREAD != 0)
    })
}

/// Runs offcputime.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    if args.min_block_time > args.max_block_time {
        bail!("-m must not exceed -M");
    }
    let duration = match args.duration {
        Some(d) if !(d > 0.0 && d.is_finite()) => bail!("-d must be a positive number of seconds"),
        d => d.map(Duration::from_secs_f64),
    };
    for (flag, id) in [("-p", args.pid), ("-t", args.tid)] {
        if let Some(id) = id {
            if id <= 0 || !std::path::Path::new(&format!("/proc/{id}")).exists() {
                bail!("{flag}: no such process: {id}");
            }
        }
    }
    let tracing = g.tracing()?;
    let format_path = tracing.path("events/sched/sched_switch/format");
    let format = std::fs::read_to_string(&format_path).with_context(|| {
        format!(
            "sched:sched_switch is unavailable: reading {}",
            format_path.display()
        )
    })?;
    let schema = Schema::parse("sched", &format).context("parsing sched:sched_switch's format")?;
    // Wakeups end a block whose switch-in the kernel did not record (this
    // 6.18 writes no sched_switch when an idle CPU 1 picks a task up).
    let wake_path = tracing.path("events/sched/sched_wakeup/format");
    let wake_schema = std::fs::read_to_string(&wake_path)
        .ok()
        .and_then(|f| Schema::parse("sched", &f).ok());
    let mut events = SchedEvents::from_schemas(std::iter::once(&schema).chain(wake_schema.as_ref()))?;
    let source = SampleSource::tracepoint(tracing.root(), "sched", "sched_switch")?;
    let call_graph = args.call_graph.unwrap_or(CallGraph::Fp);
    let builder =
        SamplerBuilder::new(SampleTarget::Cpus(online_cpus().context("listing online CPUs")?)).source(source);
    let builder = match &wake_schema {
        Some(_) => builder.source(SampleSource::tracepoint(tracing.root(), "sched", "sched_wakeup")?),
        None => builder,
    };
    let builder = builder
        .rate(SampleRate::Period(1))
        .raw(true)
        .track_tasks(true)
        .ring_pages(if call_graph.stack_copy() > 0 { 256 } else { 128 });
    let mut sampler = call_graph
        .configure(builder)
        .open()
        .context("opening sched:sched_switch sampling")?;
    for note in sampler.notes() {
        eprintln!("ftr: {note}");
    }
    let parts = match (args.kernel_only, args.user_only) {
        (true, _) => StackParts::KernelOnly,
        (_, true) => StackParts::UserOnly,
        _ => StackParts::Both,
    };
    let filter = ThreadFilter {
        pid: args.pid.map(|p| p as u32),
        tid: args.tid.map(|t| t as u32),
        user_only: args.user_threads_only,
        kernel_only: args.kernel_threads_only,
    };
    if !args.folded {
        eprintln!(
            "Tracing off-CPU time (us) of {} by {} stack{}... Hit Ctrl-C to end.",
            match (filter.pid, filter.tid, filter.user_only, filter.kernel_only) {
                (Some(p), _, _, _) => format!("PID {p}"),
                (_, Some(t), _, _) => format!("TID {t}"),
                (_, _, true, _) => "user threads".to_owned(),
                (_, _, _, true) => "kernel threads".to_owned(),
                _ => "all threads".to_owned(),
            },
            match parts {
                StackParts::Both => "user + kernel",
                StackParts::KernelOnly => "kernel",
                StackParts::UserOnly => "user",
            },
            match duration {
                Some(d) => format!(" for {} secs", d.as_secs_f64()),
                None => String::new(),
            }
        );
    }
    sampler.enable()?;
    // -d counts from here: opening every CPU's event can take a while on a
    // loaded machine, and that time traced nothing.
    let stop = stop.with_duration(duration);
    let mut symbolizer = Symbolizer::new();
    let mut walker = StackWalker::new(call_graph);
    let mut counts = StackCounts::new();
    let mut blocked: HashMap<u32, Blocked> = HashMap::new();
    let mut kthreads: HashMap<u32, bool> = HashMap::new();
    let (min_ns, max_ns) = (
        args.min_block_time.saturating_mul(1000),
        args.max_block_time.saturating_mul(1000),
    );
    let mut allowed = |pid: u32, tid: u32| {
        tid != 0
            && filter.pid.is_none_or(|p| p == pid)
            && filter.tid.is_none_or(|t| t == tid)
            && (!filter.user_only || !is_kernel_thread(tid, &mut kthreads))
            && (!filter.kernel_only || is_kernel_thread(tid, &mut kthreads))
    };
    let mut unseen_switch_ins = 0u64;
    let handle = |r: &Record<'_>, origin: ftr_pmu::Origin| {
        let Record::Sample(s) = r else {
            walker.observe(r, &mut symbolizer);
            return;
        };
        let (Some(raw), Some(time)) = (s.raw, s.time) else {
            return;
        };
        let is_wakeup = origin.event == Some(1);
        let ev = Event {
            cpu: s.cpu.unwrap_or(0),
            ts: time,
            schema: match (&wake_schema, is_wakeup) {
                (Some(w), true) => w,
                _ => &schema,
            },
            data: raw,
            endian: Endian::host(),
            pid: s.tid.unwrap_or(0) as i32,
            fields: &[],
        };
        let (prev_pid, prev_comm, next_pid) = match events.decode(&ev) {
            Some(Sched::Switch {
                prev_pid,
                prev_comm,
                next_pid,
                ..
            }) => (prev_pid, prev_comm, next_pid),
            Some(Sched::Wakeup { pid, .. }) => {
                if let Some(b) = blocked.get_mut(&(pid as u32)) {
                    b.woken.get_or_insert(time);
                }
                return;
            }
            _ => return,
        };
        let mut end_block = |b: Blocked, end: u64| {
            let off = end.saturating_sub(b.at);
            if (min_ns..=max_ns).contains(&off) {
                counts.add(b.pid, &b.comm, &b.kernel, &b.user, off / 1000);
            }
        };
        if let Some(b) = blocked.remove(&(next_pid as u32)) {
            end_block(b, time);
        }
        let prev = prev_pid as u32;
        // Switched out again without a recorded switch-in (this 6.18 VM
        // records nothing that happens in CPU 1's idle task: neither the
        // switch from idle nor a wakeup from its interrupts): the block
        // ended at its wakeup if one was seen (without the run-queue
        // wait), else before this switch-out (with the short run since).
        if let Some(b) = blocked.remove(&prev) {
            unseen_switch_ins += 1;
            let end = b.woken.unwrap_or(time);
            end_block(b, end);
        }
        let tgid = s.pid.unwrap_or(prev);
        if allowed(tgid, prev) {
            if let Some(st) = walker.stack(s, &mut symbolizer) {
                blocked.insert(
                    prev,
                    Blocked {
                        at: time,
                        woken: None,
                        pid: tgid,
                        comm: prev_comm.to_string(),
                        kernel: st.kernel.to_vec(),
                        user: st.user,
                    },
                );
            }
        }
    };
    let status = sample_until_stopped(&mut sampler, &stop, None, true, handle)?;
    if unseen_switch_ins > 0 {
        eprintln!(
            "ftr: {unseen_switch_ins} switch-ins were not recorded by this kernel (an idle CPU picking a task up); those blocks end at their wakeup, or failing that at the task's next switch-out"
        );
    }
    let switches = sampler.stats().samples;
    drop(sampler);
    if g.verbose > 0 {
        eprintln!(
            "ftr: {switches} switches read, {} us off CPU in {} distinct stacks; {} tasks still off CPU at the end (not counted)",
            counts.total(),
            counts.len(),
            blocked.len()
        );
    }
    let stacks = counts.symbolize(&mut symbolizer, parts);
    StackOutput {
        folded: args.folded,
        svg: args.svg,
        title: "Off-CPU Time Flame Graph",
        count_name: "us",
    }
    .write(&stacks)?;
    Ok(exit_code(status))
}
