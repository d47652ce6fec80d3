//! Where memleak's probes go: the allocator library found by name, each
//! function's file offset, and the sampler opening an entry uprobe (and a
//! uretprobe for allocating functions) for each, defined in uprobe_events
//! and sampled through perf.

use super::allocators::{AllocFn, Kind, FUNCTIONS};
use crate::tools::common::uprobe_sources::sampled_uprobe;
use anyhow::{anyhow, Result};
use ftr_pmu::{RegisterArch, SampleRate, SampleShape, SampleTarget, Sampler, SamplerBuilder};
use ftr_symbols::{find_library, resolve_uprobe, ErrorKind, ProbeContext};
use ftr_tracefs::{ProbeGroup, TracingDir};
use std::path::PathBuf;

/// Bytes of user stack copied with every hit: posix_memalign stores its
/// block through a pointer, nearly always to a local of its caller, which
/// lies just above the stack pointer at the uretprobe. BCC reads it with
/// bpf_probe_read_user; a perf sample can only carry a copy.
pub const MEMPTR_STACK: u32 = 256;

/// A function found in the library.
#[derive(Debug, Clone)]
pub struct Probed {
    pub func: AllocFn,
    pub offset: u64,
}

/// What the sampler's event `i` is: (index into `Plan::probed`, return).
#[derive(Debug, Clone)]
pub struct Plan {
    pub library: PathBuf,
    pub probed: Vec<Probed>,
    /// Functions skipped, with why (printed as notes).
    pub notes: Vec<String>,
    /// Aliases probed once (printed with -v).
    pub aliases: Vec<String>,
    pub events: Vec<(usize, bool)>,
}

/// Finds `obj` (`c`, `jemalloc`, a path) as `pid` maps it, or as the
/// loader would, and the allocator functions in it. A function missing
/// from the library is skipped with a note; a missing library fails.
pub fn plan(obj: &str, pid: Option<u32>) -> Result<Plan> {
    let library = find_library(obj, pid).map_err(|e| anyhow!("allocator library -O {obj}: {e}"))?;
    let ctx = ProbeContext {
        pid: None,
        default_binary: Some(library.clone()),
    };
    let mut probed: Vec<Probed> = Vec::new();
    let mut notes = Vec::new();
    let mut aliases = Vec::new();
    for f in FUNCTIONS {
        match resolve_uprobe(f.name, &ctx) {
            Ok(t) => {
                // glibc's aligned_alloc is memalign under another name: one
                // probe per address, or every call would count twice.
                if let Some(same) = probed.iter().find(|p| p.offset == t.offset) {
                    aliases.push(format!(
                        "{} is {} in {} (same address); probing it once",
                        f.name,
                        same.func.name,
                        library.display()
                    ));
                    continue;
                }
                if t.ifunc {
                    notes.push(format!(
                        "{} is an IFUNC in {}: not traced (the probe would fire on its resolver)",
                        f.name,
                        library.display()
                    ));
                    continue;
                }
                probed.push(Probed {
                    func: *f,
                    offset: t.offset,
                });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                notes.push(format!("{} is not in {}: not traced", f.name, library.display()))
            }
            Err(e) => return Err(anyhow!("{}: {e}", f.name)),
        }
    }
    if !probed.iter().any(|p| p.func.kind.allocates()) {
        return Err(anyhow!(
            "no allocator function (malloc, calloc, ...) in {}",
            library.display()
        ));
    }
    let mut events = Vec::new();
    for (i, p) in probed.iter().enumerate() {
        events.push((i, false));
        if p.func.kind.allocates() {
            events.push((i, true));
        }
    }
    Ok(Plan {
        library,
        probed,
        notes,
        aliases,
        events,
    })
}

/// What the sampler records and where.
pub struct Layout {
    pub target: SampleTarget,
    pub arch: RegisterArch,
    /// Bytes of user stack for DWARF unwinding (0: frame pointers only).
    pub stack_copy: u32,
    /// Enabled by the command's exec rather than by `Sampler::enable`.
    pub on_exec: bool,
    pub ring_pages: usize,
}

/// What a hit of `kind`'s entry (or return) must carry: arguments at
/// entries; at returns the return value, the callchain (one per
/// allocation, where its stack is recorded) and the stack copy DWARF
/// unwinding starts from or posix_memalign stored its block in. Entries
/// and frees skip the callchain walk and the copy: two of a malloc/free
/// pair's three hits.
fn shape(kind: Kind, ret: bool, layout: &Layout) -> SampleShape {
    let memptr = if kind == Kind::PosixMemalign {
        MEMPTR_STACK
    } else {
        0
    };
    SampleShape {
        callchain: ret,
        raw: false,
        regs_user: layout.arch.call_mask(),
        stack_user: if ret { memptr.max(layout.stack_copy) } else { 0 },
    }
}

/// Opens every probe of `plan` as `layout` says, disabled (or enabled by
/// the command's exec): every hit is a sample with the thread, time and
/// argument/return registers, and every return the user callchain and,
/// for posix_memalign or DWARF unwinding, a copy of the user stack. The
/// probes are defined in `group` (see common::uprobe_sources for why not
/// the perf uprobe PMU: its inherited events make the target's clone
/// fail).
pub fn open(tracing: &TracingDir, group: &ProbeGroup, plan: &Plan, layout: Layout) -> Result<Sampler> {
    let mut b = SamplerBuilder::new(layout.target.clone())
        .rate(SampleRate::Period(1))
        .exclude_kernel(true)
        .track_tasks(true)
        .ring_pages(layout.ring_pages)
        .enable_on_exec(layout.on_exec);
    for (n, &(i, ret)) in plan.events.iter().enumerate() {
        let p = &plan.probed[i];
        let target = format!("{}:{:#x}", plan.library.display(), p.offset);
        let event = format!("{}_{n}{}", p.func.name, if ret { "_ret" } else { "" });
        let source = sampled_uprobe(tracing, group, &event, &target, ret)?;
        b = b.shaped_source(source, shape(p.func.kind, ret, &layout));
    }
    b.open().map_err(|e| {
        let text = e.to_string();
        // The kernel keeps one uprobe per (file, offset) and refuses a
        // second user whose ref_ctr_offset differs (`ref_ctr_mismatch_warn`
        // in kernel/events/uprobes.c); BCC 0.26's memleak registers malloc
        // with a stray ref_ctr_offset, so ftr cannot probe beside it.
        let hint = if text.contains("EINVAL") {
            "; if dmesg says \"ref_ctr_offset mismatch\", another tracer (e.g. BCC memleak) holds a uprobe \
             on the same function: stop it first"
        } else {
            ""
        };
        anyhow!("opening uprobes on {}: {text}{hint}", plan.library.display())
    })
}
