//! `ftr memleak`: outstanding user-space allocations by call stack (BCC
//! memleak), from uprobes and uretprobes on the allocator opened through
//! the perf uprobe PMU: each hit is a sample carrying the thread, the
//! argument or return registers and the frame-pointer callchain, so no
//! BPF and nothing in uprobe_events is needed.

mod allocators;
mod kernel;
pub mod kmem;
mod maps;
mod probes;
mod render;
mod summary;
mod tracker;

use crate::pipeline::plan::{alt, need, Mechanism as M, ProbePlan};
use crate::pipeline::stop::Stop;
use crate::pipeline::tasks::process_alive;
use crate::tools::common::sampled_stacks::{CallGraph, StackWalker};
use crate::tools::common::sampling_loop::{sample_with_reports, IntervalReports, ReportReason, ReportTiming};
use crate::tools::Global;
use allocators::Kind;
use anyhow::{anyhow, bail, Context, Result};
use ftr_pmu::{Origin, Record, RegisterArch, SampleTarget, SamplerStats, Workload};
use ftr_symbols::Symbolizer;
use ftr_tracefs::ProbeGroup;
use maps::ProcessMaps;
use render::{Report, StackLine};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tracker::{Filters, Tracker};

const EXAMPLES: &str = "EXAMPLES:
    ftr memleak -p $(pidof allocs)        # outstanding allocations every 5 seconds
    ftr memleak -ap $(pidof allocs) 10    # with addresses and sizes, every 10 seconds
    ftr memleak -c './allocs 100'         # run the command, report when it exits
    ftr memleak -p 1234 -o 60000          # only allocations older than a minute
    ftr memleak -p 1234 -s 5              # trace roughly every 5th allocation
    ftr memleak -p 1234 -O jemalloc       # probe jemalloc instead of libc
    ftr memleak --call-graph dwarf -c ./a # unwind stacks of code built without frame pointers
    ftr memleak                           # outstanding kernel allocations (kernel mode)
    ftr memleak --percpu -o 0 10 1        # kernel mode with per-CPU allocations, one report";

/// Report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    Size,
    Count,
}

/// Trace outstanding memory allocations that weren't freed (BCC memleak).
#[derive(Debug, clap::Args)]
#[command(
    after_help = EXAMPLES,
    group(clap::ArgGroup::new("target").multiple(false).args(["pid", "command"]))
)]
pub struct Args {
    /// Trace process PID (and the threads it starts).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<i32>,
    /// Execute COMMAND (split at spaces) and trace it from its exec.
    #[arg(short = 'c', long = "command", value_name = "COMMAND")]
    pub command: Option<String>,
    /// Show each outstanding allocation's address and size too.
    #[arg(short = 'a', long = "show-allocs")]
    pub show_allocs: bool,
    /// Ignore allocations younger than MS milliseconds.
    #[arg(short = 'o', long = "older", value_name = "MS", default_value_t = 500)]
    pub older: u64,
    /// Show only the per-stack totals (ignores -o and -a).
    #[arg(long = "combined-only")]
    pub combined_only: bool,
    /// Trace every N-th allocation (by timestamp) to lower the overhead.
    #[arg(short = 's', long = "sample-rate", value_name = "N", default_value_t = 1)]
    pub sample_rate: u64,
    /// Show only the N stacks with the most outstanding bytes.
    #[arg(short = 'T', long = "top", value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Capture only allocations of at least SIZE bytes.
    #[arg(short = 'z', long = "min-size", value_name = "SIZE")]
    pub min_size: Option<u64>,
    /// Capture only allocations of at most SIZE bytes.
    #[arg(short = 'Z', long = "max-size", value_name = "SIZE")]
    pub max_size: Option<u64>,
    /// Probe the allocator functions of OBJ (a library name or path).
    #[arg(short = 'O', long = "obj", value_name = "OBJ", default_value = "c")]
    pub obj: String,
    /// Walk user stacks by MODE: fp (frame pointers), or dwarf[,SIZE] (DWARF CFI over a SIZE-byte stack copy per hit).
    #[arg(long = "call-graph", value_name = "MODE", value_parser = CallGraph::parse, default_value = "fp")]
    pub call_graph: CallGraph,
    /// Sort stacks by KEY.
    #[arg(long = "sort", value_name = "KEY", value_enum, default_value_t = SortKey::Size)]
    pub sort: SortKey,
    /// Print each report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Kernel mode (no -p/-c): trace per-CPU allocations too.
    #[arg(long, conflicts_with = "target")]
    pub percpu: bool,
    /// Print a report every INTERVAL seconds.
    #[arg(value_name = "INTERVAL", default_value_t = 5.0)]
    pub interval: f64,
    /// Stop after COUNT reports.
    #[arg(value_name = "COUNT")]
    pub count: Option<u64>,
}

/// What memleak needs: uprobes on the allocator (sampled through perf
/// for registers and callchains) with -p/-c; without, the kmem
/// tracepoints sampled through perf.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: user_plan()
            .needs
            .into_iter()
            .chain([kernel::allocations_need()])
            .collect(),
    }
}

/// What user mode (-p/-c) needs.
fn user_plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "allocations",
            vec![alt(
                "allocator uprobes sampled through perf",
                vec![M::Uprobe("libc:malloc"), M::Uprobe("libc:free"), M::PerfSampling],
            )],
        )],
    }
}

/// Data pages per CPU ring: 4 MiB, ~100 ms of a malloc-bound loop's hits
/// (entries and frees ~150 bytes with their registers, returns ~500 with
/// the callchain too) if ftr is not scheduled meanwhile.
const RING_PAGES: usize = 1024;
/// Data pages of all CPUs' rings together with `--call-graph dwarf`:
/// every allocation's return then carries the whole stack copy (8 KiB by
/// default), so a 4 MiB ring holds only ~500 of them, and a malloc-bound
/// burst fills it faster than it can be read (leaky.c's 8,000 hits lost
/// ~1,000 with 16 MiB rings when every hit carried the copy, none with
/// 64 MiB). 256 MiB in all, so a big machine does not lock gigabytes.
const DWARF_PAGES_IN_ALL: usize = 64 * 1024;
/// The most and least a CPU's ring gets with `--call-graph dwarf`.
const DWARF_RING_PAGES: std::ops::RangeInclusive<usize> = RING_PAGES..=16 * 1024;

/// Pages per CPU ring for `stack_copy` bytes of stack per hit on `cpus`
/// CPUs: RING_PAGES without a copy, else a share of DWARF_PAGES_IN_ALL.
fn ring_pages(stack_copy: u32, cpus: usize) -> usize {
    if stack_copy <= probes::MEMPTR_STACK {
        return RING_PAGES;
    }
    // The kernel maps a power of two of data pages.
    let share = (DWARF_PAGES_IN_ALL / cpus.max(1)).max(1);
    (1 << share.ilog2()).clamp(*DWARF_RING_PAGES.start(), *DWARF_RING_PAGES.end())
}
/// How often the rings are read between reports.
const TICK: Duration = Duration::from_millis(100);

fn validate(a: &Args) -> Result<()> {
    if let (Some(lo), Some(hi)) = (a.min_size, a.max_size) {
        if lo > hi {
            bail!("min_size (-z) can't be greater than max_size (-Z)");
        }
    }
    if !(a.interval.is_finite() && a.interval > 0.0) {
        bail!(
            "interval must be a positive number of seconds, not {}",
            a.interval
        );
    }
    if a.count == Some(0) {
        bail!("count must be at least 1");
    }
    if a.sample_rate == 0 {
        bail!("sample rate (-s) must be at least 1");
    }
    if a.command
        .as_deref()
        .is_some_and(|c| c.split_whitespace().next().is_none())
    {
        bail!("-c needs a command");
    }
    Ok(())
}

/// Everything fed by the rings.
struct State {
    arch: RegisterArch,
    plan: probes::Plan,
    tracker: Tracker,
    maps: ProcessMaps,
    mem: HashMap<u32, Option<File>>,
    /// The latest sample time and when it was read, to place "now" on the
    /// samples' clock for -o.
    last: Option<(u64, Instant)>,
    /// Unwinds the allocations' user stacks with `--call-graph dwarf`.
    walker: StackWalker,
    /// Allocations recorded, and those whose stack has no code address past
    /// the allocating function: with frame pointers, most stacks so short
    /// mean code built without (the walk then reads junk: 0, heap).
    stacks_seen: u64,
    shallow_stacks: u64,
    /// The hint about short stacks was printed.
    hinted: bool,
}

impl State {
    fn record(&mut self, r: &Record<'_>, o: Origin) {
        match r {
            Record::Sample(s) => {
                let (Some(ev), Some(pid), Some(tid), Some(time)) = (o.event, s.pid, s.tid, s.time) else {
                    return;
                };
                let Some(&(i, ret)) = self.plan.events.get(ev) else {
                    return;
                };
                let Some(regs) = s.regs_user.as_ref() else { return };
                self.last = Some((time, Instant::now()));
                let kind = self.plan.probed[i].func.kind;
                if !ret {
                    let arg = |n| self.arch.argument(regs, n).unwrap_or(0);
                    let e = kind.entry([arg(0), arg(1), arg(2)]);
                    self.tracker
                        .entry(tid, kind, e.size, e.freed, e.memptr.unwrap_or(0), time);
                    return;
                }
                let value = self.arch.return_value(regs).unwrap_or(0);
                let block = if kind == Kind::PosixMemalign {
                    match self.tracker.pending_memptr(tid, kind) {
                        Some(memptr) if value == 0 => self
                            .stack_word(s.stack_user, regs, memptr)
                            .or_else(|| self.read_word(pid, memptr)),
                        _ => None,
                    }
                } else {
                    kind.returned(value)
                };
                // At a uretprobe the registers are the caller's just after
                // the call returned (the kernel restores the return address
                // before running the handlers: handle_trampoline in
                // kernel/events/uprobes.c), so both the callchain and the
                // unwinding start at the allocating function.
                let fp = s.callchain.as_ref().map_or_else(Vec::new, |c| c.user.clone());
                let ips = self.walker.user_frames(pid, s, fp, 1);
                if !self.hinted {
                    self.stacks_seen += 1;
                    if !ips.get(1).is_some_and(|&ip| self.maps.is_code(pid, ip)) {
                        self.shallow_stacks += 1;
                    }
                }
                self.tracker.ret(pid, tid, kind, block, &ips, time);
            }
            Record::Mmap(m) => {
                self.walker.observe_mappings(r);
                self.maps.note(m)
            }
            Record::Comm(c) if c.exec => {
                self.walker.observe_mappings(r);
                self.maps.exec(c.pid)
            }
            Record::Exit(t) => self.tracker.thread_exited(t.tid),
            _ => {}
        }
    }

    /// Says once, on stderr, that frame-pointer stacks look cut short when
    /// most allocations' stacks had a single frame in code (the allocating
    /// function's: the walk found no frame record past it).
    fn hint_shallow_stacks(&mut self, mode: CallGraph) {
        if mode != CallGraph::Fp || self.hinted || self.shallow_stacks * 2 <= self.stacks_seen {
            return;
        }
        self.hinted = true;
        eprintln!(
            "ftr: memleak: {} of {} allocation stacks stop after one frame: the program or its libraries lack \
             frame pointers; --call-graph dwarf unwinds them",
            self.shallow_stacks, self.stacks_seen
        );
    }

    /// The word at user address `addr` when the sample's stack copy (taken
    /// from the stack pointer up) holds it.
    fn stack_word(&self, stack: Option<&[u8]>, regs: &ftr_pmu::UserRegs, addr: u64) -> Option<u64> {
        let sp = self.arch.unwind_regs(regs)?.sp;
        let at = usize::try_from(addr.checked_sub(sp)?).ok()?;
        let b = stack?.get(at..at.checked_add(8)?)?;
        Some(u64::from_ne_bytes(b.try_into().ok()?)).filter(|&a| a != 0)
    }

    /// posix_memalign's result, read from the word it stored (BCC reads
    /// it in the uretprobe; here the process must still be running).
    fn read_word(&mut self, pid: u32, addr: u64) -> Option<u64> {
        let f = self
            .mem
            .entry(pid)
            .or_insert_with(|| File::open(format!("/proc/{pid}/mem")).ok())
            .as_ref()?;
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, addr).ok()?;
        Some(u64::from_ne_bytes(b)).filter(|&a| a != 0)
    }
}

/// Builds a report: stacks with their outstanding bytes older than
/// `older_ms` (0 when the traced command has exited: nothing can free
/// them any more), symbolized.
fn build_report(st: &mut State, sym: &mut Symbolizer, a: &Args, older_ms: u64, lost: u64) -> Report {
    let now_ms = summary::now_ms(&mut st.tracker, st.last);
    let summary::Outstanding { stacks, addresses } = summary::outstanding(&st.tracker, now_ms, older_ms, a);
    let lines = stacks
        .iter()
        .map(|&(id, bytes, allocations)| {
            let (pid, ips) = st.tracker.stacks.get(id);
            if let Some(m) = st.maps.get(pid) {
                sym.set_process_maps(pid, m.clone());
            }
            let frames = sym
                .user_stack(pid, ips)
                .into_iter()
                .map(|f| (f.addr, f.to_string()))
                .collect();
            StackLine {
                bytes,
                allocations,
                frames,
            }
        })
        .collect();
    Report {
        time: crate::tools::common::interval::hms_now(),
        top: a.top,
        stacks: lines,
        addresses,
        lost,
        combined_only: a.combined_only,
    }
}

fn print_report(out: &mut dyn Write, a: &Args, r: &Report) -> io::Result<()> {
    if a.json {
        render::write_json(out, r)?;
    } else {
        render::write_text(out, r)?;
    }
    out.flush()?;
    if r.lost > 0 {
        eprintln!(
            "ftr: memleak: {} probe hits lost so far (ring full): the figures above miss some allocations \
             (a lower bound) and may hold blocks whose free was lost",
            r.lost
        );
    }
    Ok(())
}

/// Runs memleak.
pub fn run(g: &Global, a: Args) -> Result<ExitCode> {
    validate(&a)?;
    if a.pid.is_none() && a.command.is_none() {
        return kernel::run(g, &a);
    }
    let arch = RegisterArch::native()
        .ok_or_else(|| anyhow!("memleak: no user register layout for this architecture"))?;
    let tracing = g.tracing().map_err(|e| format!("{e:#}"));
    let env = crate::pipeline::plan::KernelEnv::new(tracing);
    let res = user_plan().resolve(&env);
    if let Some(e) = res.error() {
        bail!("memleak: {e}");
    }
    let stop = Stop::install()?;
    let pid = match a.pid {
        Some(p) if p <= 0 || !std::path::Path::new(&format!("/proc/{p}")).exists() => {
            bail!("no process with pid {p}")
        }
        p => p.map(|p| p as u32),
    };
    let plan = probes::plan(&a.obj, pid)?;
    for n in &plan.notes {
        eprintln!("ftr: memleak: {n}");
    }
    if g.verbose > 0 {
        for n in &plan.aliases {
            eprintln!("ftr: memleak: {n}");
        }
    }
    let argv: Vec<String> = a
        .command
        .as_deref()
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let held = if argv.is_empty() {
        None
    } else {
        Some(
            Workload::prepare(&argv, Stop::unblock_in_child)
                .with_context(|| format!("starting {}", argv[0]))?,
        )
    };
    let target = match (&held, pid) {
        (Some(w), _) => SampleTarget::Task {
            pid: w.pid(),
            inherit: true,
        },
        (None, Some(p)) => SampleTarget::Process {
            pid: p as i32,
            inherit: true,
        },
        (None, None) => unreachable!("kernel mode returned above"),
    };
    let tracing = g.tracing_for_writing()?;
    let group = ProbeGroup::new(&tracing);
    let cpus = ftr_pmu::online_cpus().map_or(1, |c| c.len());
    let ring_pages = ring_pages(a.call_graph.stack_copy(), cpus);
    let opened = probes::open(
        &tracing,
        &group,
        &plan,
        probes::Layout {
            target,
            arch,
            stack_copy: a.call_graph.stack_copy(),
            on_exec: held.is_some(),
            ring_pages,
        },
    );
    let mut sampler = match opened {
        Ok(s) => s,
        Err(e) => {
            let _ = group.remove();
            return Err(e);
        }
    };
    for n in sampler.notes() {
        eprintln!("ftr: memleak: {n}");
    }
    let mut st = State {
        arch,
        plan,
        tracker: Tracker::new(Filters {
            min_size: a.min_size,
            max_size: a.max_size,
            sample_every: a.sample_rate,
        }),
        maps: ProcessMaps::default(),
        mem: HashMap::new(),
        last: None,
        walker: StackWalker::new(a.call_graph),
        stacks_seen: 0,
        shallow_stacks: 0,
        hinted: false,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut child = None;
    match held {
        Some(w) => {
            child = Some(w.start()?);
            writeln!(
                out,
                "Executing '{}' and tracing the resulting process.",
                argv.join(" ")
            )?;
            out.flush()?;
        }
        None => {
            let p = pid.expect("a pid without -c");
            st.maps.read(p);
            sampler.enable()?;
            writeln!(out, "Attaching to pid {p}, Ctrl+C to quit.")?;
            out.flush()?;
        }
    }
    let mut sym = Symbolizer::new();
    let timing = ReportTiming {
        every: Duration::from_secs_f64(a.interval),
        count: a.count,
        tick: TICK,
        min_gap: Duration::ZERO,
    };
    let mut reports = UserReports {
        st: &mut st,
        sym: &mut sym,
        a: &a,
        child: &mut child,
        out: &mut out,
    };
    let result = sample_with_reports(&mut sampler, &stop, timing, &mut reports);
    let stats = sampler.stats();
    // The probes cannot go while perf events still use them.
    drop(sampler);
    let removed = group
        .remove()
        .map_err(|e| anyhow::anyhow!("removing the uprobes: {}", ftr_tracefs::error_chain(&e)));
    if let Some(c) = child.as_mut() {
        // Ctrl-C reached the command too (same process group); reap it.
        let _ = c.wait();
    }
    result?;
    removed?;
    if stats.lost > 0 {
        eprintln!(
            "ftr: memleak: {} probe hits lost in the kernel in all",
            stats.lost
        );
    }
    if g.verbose > 0 {
        eprintln!("ftr: memleak: {}", st.tracker.counts_line());
    }
    Ok(ExitCode::SUCCESS)
}

/// User mode's reports: `-o` ageing until the target has gone (nothing
/// can free its blocks then), the hint about shallow stacks after each.
struct UserReports<'a> {
    st: &'a mut State,
    sym: &'a mut Symbolizer,
    a: &'a Args,
    child: &'a mut Option<std::process::Child>,
    out: &'a mut dyn Write,
}

impl IntervalReports for UserReports<'_> {
    fn record(&mut self, r: &Record<'_>, o: Origin) {
        self.st.record(r, o);
    }

    fn report(&mut self, reason: ReportReason, stats: SamplerStats) -> Result<()> {
        let older = if reason == ReportReason::TargetGone {
            0
        } else {
            self.a.older
        };
        let r = build_report(self.st, self.sym, self.a, older, stats.lost + stats.lost_samples);
        print_report(self.out, self.a, &r)?;
        self.st.hint_shallow_stacks(self.a.call_graph);
        Ok(())
    }

    fn target_gone(&mut self) -> Result<bool> {
        Ok(match (self.child.as_mut(), self.a.pid) {
            (Some(c), _) => c.try_wait()?.is_some(),
            (None, Some(p)) => !process_alive(p),
            (None, None) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwarf_rings_share_a_budget_between_4_and_64_mib() {
        assert_eq!(ring_pages(0, 2), RING_PAGES);
        assert_eq!(ring_pages(probes::MEMPTR_STACK, 2), RING_PAGES);
        assert_eq!(ring_pages(8192, 1), 16 * 1024);
        assert_eq!(ring_pages(8192, 4), 16 * 1024);
        assert_eq!(ring_pages(8192, 6), 8 * 1024);
        assert_eq!(ring_pages(8192, 64), RING_PAGES);
        assert_eq!(ring_pages(8192, 100_000), RING_PAGES);
    }
}
