//! `ftr memleak` without -p or -c: outstanding kernel allocations by
//! kernel stack, as BCC memleak's kernel mode reports them, from the
//! kmem (and with --percpu, percpu) tracepoints sampled through perf on
//! every CPU: each record carries its fields (RAW) and the kernel
//! callchain, so nothing is written to tracefs and no BPF is needed.

use super::kmem::{Decoder, Op, Role, TRACEPOINTS};
use super::render::{Report, StackLine};
use super::tracker::{Filters, Tracker};
use super::{print_report, summary, Args, TICK};
use crate::pipeline::plan::{alt, need, KernelEnv, Mechanism as M, Need};
use crate::pipeline::stop::Stop;
use crate::tools::common::sampling_loop::{sample_with_reports, IntervalReports, ReportReason, ReportTiming};
use crate::tools::Global;
use anyhow::{anyhow, bail, Context, Result};
use ftr_pmu::{
    online_cpus, Origin, Record, SampleRate, SampleShape, SampleSource, SampleTarget, SamplerBuilder,
    SamplerStats,
};
use ftr_symbols::Symbolizer;
use ftr_tracefs::format::Schema;
use ftr_tracefs::{Endian, TracingDir};
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The shortest time between two drains. Reading the rings and printing
/// make the kernel allocate too (pipe pages for the output, poll's
/// tables), and those allocations are themselves traced; a floor keeps
/// ftr from feeding on its own activity at any event rate, as the tracefs
/// sessions' does (pipeline/session.rs).
const MIN_DRAIN_GAP: Duration = Duration::from_millis(10);
/// Data pages per CPU ring: 16 MiB. A kernel churning allocations (an
/// eventfd create/close loop: ~1.7M hits/s, ~200 bytes each with the
/// kernel callchain) filled user mode's 4 MiB rings between two reads
/// and lost ~1 % of its hits.
const RING_PAGES: usize = 4096;

/// What kernel mode needs (a part of memleak's plan, for doctor).
pub fn allocations_need() -> Need {
    need(
        "kernel allocations",
        vec![alt(
            "kmem tracepoints sampled through perf (kernel mode)",
            vec![
                M::Tracepoint("kmem:kmalloc"),
                M::Tracepoint("kmem:kfree"),
                M::PerfSampling,
            ],
        )],
    )
}

/// The tracepoints opened: the decoder of each, by sampler event index.
struct Events {
    decoders: Vec<Decoder>,
    sources: Vec<SampleSource>,
    /// `sys:event` names this kernel does not have.
    missing: Vec<String>,
}

/// Reads the format of every tracepoint kernel mode uses (the percpu
/// ones with `percpu`); a missing event is skipped, a format that lacks
/// a field the decoder reads is an error.
fn events(tracing: &TracingDir, percpu: bool, page_size: u64) -> Result<Events> {
    let mut ev = Events {
        decoders: Vec::new(),
        sources: Vec::new(),
        missing: Vec::new(),
    };
    for t in TRACEPOINTS.iter().filter(|t| percpu || !t.percpu()) {
        let path = tracing.path(format!("events/{}/{}/format", t.system, t.name));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                ev.missing.push(format!("{}:{}", t.system, t.name));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let schema = Schema::parse(t.system, &text)
            .with_context(|| format!("parsing {}:{}'s format", t.system, t.name))?;
        ev.decoders
            .push(Decoder::new(t.role, &schema, page_size).map_err(|e| anyhow!("{e}"))?);
        ev.sources
            .push(SampleSource::tracepoint(tracing.root(), t.system, t.name)?);
    }
    let allocates = |d: &Decoder| matches!(d.role(), Role::SlabAlloc | Role::PageAlloc | Role::PercpuAlloc);
    if !ev.decoders.iter().any(allocates) {
        bail!(
            "no kernel allocator tracepoint on this kernel (tried {} under {})",
            ev.missing.join(", "),
            tracing.path("events").display()
        );
    }
    Ok(ev)
}

/// Everything fed by the rings.
struct State {
    decoders: Vec<Decoder>,
    tracker: Tracker,
    /// The latest sample time and when it was read, for -o.
    last: Option<(u64, Instant)>,
}

impl State {
    fn record(&mut self, r: &Record<'_>, o: Origin) {
        let Record::Sample(s) = r else { return };
        let (Some(ev), Some(raw), Some(time)) = (o.event, s.raw, s.time) else {
            return;
        };
        let Some(d) = self.decoders.get(ev) else { return };
        self.last = Some((time, Instant::now()));
        match d.decode(raw, Endian::host()) {
            Some(Op::Alloc { addr, size }) => {
                let ips = s.callchain.as_ref().map_or(&[][..], |c| c.kernel.as_slice());
                self.tracker.allocated(0, addr, size, ips, time);
            }
            Some(Op::Free { addr }) => self.tracker.free(addr),
            None => {}
        }
    }
}

fn build_report(st: &mut State, sym: &mut Symbolizer, a: &Args, lost: u64) -> Report {
    let now_ms = summary::now_ms(&mut st.tracker, st.last);
    let out = summary::outstanding(&st.tracker, now_ms, a.older, a);
    let stacks = out
        .stacks
        .iter()
        .map(|&(id, bytes, allocations)| {
            let (_, ips) = st.tracker.stacks.get(id);
            StackLine {
                bytes,
                allocations,
                frames: sym
                    .kernel_stack(ips)
                    .iter()
                    .map(|f| (f.addr, f.to_string()))
                    .collect(),
            }
        })
        .collect();
    Report {
        time: crate::tools::common::interval::hms_now(),
        top: a.top,
        stacks,
        addresses: out.addresses.map(|v| {
            v.into_iter()
                .map(|(key, size)| (super::kmem::shown_address(key), size))
                .collect()
        }),
        lost,
        combined_only: a.combined_only,
    }
}

/// Runs kernel mode (arguments already checked).
pub fn run(g: &Global, a: &Args) -> Result<ExitCode> {
    let tracing = g.tracing()?;
    let env = KernelEnv::new(Ok(tracing.clone()));
    let plan = crate::pipeline::plan::ProbePlan {
        needs: vec![allocations_need()],
    };
    if let Some(e) = plan.resolve(&env).error() {
        bail!("memleak: {e}");
    }
    let stop = Stop::install()?;
    let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u64);
    let ev = events(&tracing, a.percpu, page_size)?;
    if !ev.missing.is_empty() {
        let folded = ev.missing.iter().any(|m| m.ends_with("_node"));
        eprintln!(
            "ftr: memleak: not on this kernel, not traced: {}{}",
            ev.missing.join(", "),
            if folded {
                " (the _node events were folded into kmalloc and kmem_cache_alloc in 6.0)"
            } else {
                ""
            }
        );
    }
    let cpus = online_cpus().context("listing online CPUs")?;
    let mut b = SamplerBuilder::new(SampleTarget::Cpus(cpus))
        .rate(SampleRate::Period(1))
        .raw(true)
        .callchain(true)
        .user_callchain(false)
        .ring_pages(RING_PAGES);
    // A free needs only its address: the kernel stack walk is for
    // allocations, where the stack is kept.
    let free_shape = SampleShape {
        raw: true,
        ..SampleShape::default()
    };
    for (s, d) in ev.sources.into_iter().zip(&ev.decoders) {
        b = if d.role().frees() {
            b.shaped_source(s, free_shape)
        } else {
            b.source(s)
        };
    }
    let mut sampler = b.open().context("opening the kmem tracepoints for sampling")?;
    for n in sampler.notes() {
        eprintln!("ftr: memleak: {n}");
    }
    let mut st = State {
        decoders: ev.decoders,
        tracker: Tracker::new(Filters {
            min_size: a.min_size,
            max_size: a.max_size,
            sample_every: a.sample_rate,
        }),
        last: None,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    sampler.enable()?;
    writeln!(out, "Attaching to kernel allocators, Ctrl+C to quit.")?;
    out.flush()?;
    let mut sym = Symbolizer::new();
    let timing = ReportTiming {
        every: Duration::from_secs_f64(a.interval),
        count: a.count,
        tick: TICK,
        min_gap: MIN_DRAIN_GAP,
    };
    let mut reports = KernelReports {
        st: &mut st,
        sym: &mut sym,
        a,
        out: &mut out,
        printed: 0,
    };
    sample_with_reports(&mut sampler, &stop, timing, &mut reports)?;
    let stats = sampler.stats();
    drop(sampler);
    let lost = stats.lost + stats.lost_samples;
    if lost > 0 {
        eprintln!("ftr: memleak: {lost} tracepoint hits lost in the kernel in all");
    }
    if g.verbose > 0 {
        eprintln!("ftr: memleak: {}", st.tracker.counts_line());
    }
    Ok(ExitCode::SUCCESS)
}

/// Kernel mode's reports, with a warning when the first interval saw
/// no hit at all.
struct KernelReports<'a> {
    st: &'a mut State,
    sym: &'a mut Symbolizer,
    a: &'a Args,
    out: &'a mut dyn Write,
    printed: u64,
}

impl IntervalReports for KernelReports<'_> {
    fn record(&mut self, r: &Record<'_>, o: Origin) {
        self.st.record(r, o);
    }

    fn report(&mut self, reason: ReportReason, stats: SamplerStats) -> Result<()> {
        if reason == ReportReason::Interval && self.printed == 0 && stats.samples == 0 {
            // A busy kernel allocates thousands of times a second. None
            // at all: a BPF program on these tracepoints that returns 0
            // (BCC memleak's do) makes the kernel drop the perf samples
            // too (perf_trace_run_bpf_submit).
            eprintln!(
                "ftr: memleak: WARNING: no kmem tracepoint hit reached ftr in {} s; if another tracer \
                 (e.g. BCC memleak) has BPF programs on the kmem tracepoints, the kernel discards \
                 perf's samples of them: stop it first",
                self.a.interval
            );
        }
        self.printed += 1;
        let r = build_report(self.st, self.sym, self.a, stats.lost + stats.lost_samples);
        print_report(self.out, self.a, &r)?;
        Ok(())
    }
}
