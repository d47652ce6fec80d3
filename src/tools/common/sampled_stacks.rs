//! The stacks of perf samples: kernel frames from the callchain, user
//! frames from the callchain (frame pointers) or unwound from the sampled
//! registers and stack copy (DWARF CFI), and the task's name; shared by
//! every tool that aggregates sampled stacks.

use super::mmap_maps::executable_mapping;
use super::unwind::{DwarfUnwinder, StartRegs};
use crate::pipeline::comm::CommCache;
use ftr_pmu::{Record, RegisterArch, Sample, SamplerBuilder};
use ftr_symbols::Symbolizer;
use std::collections::HashSet;

/// perf's default stack copy for `--call-graph dwarf`.
pub const DEFAULT_STACK_COPY: u32 = 8192;

/// How user stacks are walked (`--call-graph`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// Frame pointers, then DWARF CFI where they give a single user frame
    /// (the default): samples carry a stack copy of this many bytes.
    Auto(u32),
    /// Frame pointers only (`fp`): no stack copy.
    Fp,
    /// DWARF CFI always (`dwarf[,SIZE]`), from a stack copy of this many bytes.
    Dwarf(u32),
}

impl CallGraph {
    /// Parses `fp`, `dwarf` or `dwarf,SIZE` as perf's `--call-graph` does.
    pub fn parse(s: &str) -> Result<CallGraph, String> {
        let (mode, size) = match s.split_once(',') {
            Some((m, size)) => (m, Some(size)),
            None => (s, None),
        };
        match (mode, size) {
            ("fp", None) => Ok(CallGraph::Fp),
            ("dwarf", None) => Ok(CallGraph::Dwarf(DEFAULT_STACK_COPY)),
            ("dwarf", Some(n)) => {
                let n: u32 = n
                    .parse()
                    .map_err(|_| format!("stack size {n:?} is not a number"))?;
                if n == 0 || !n.is_multiple_of(8) || n > ftr_pmu::MAX_USER_STACK {
                    return Err(format!(
                        "stack size {n} must be a multiple of 8 between 8 and {}",
                        ftr_pmu::MAX_USER_STACK
                    ));
                }
                Ok(CallGraph::Dwarf(n))
            }
            _ => Err(format!("{s:?} is not fp, dwarf or dwarf,SIZE")),
        }
    }

    /// Bytes of user stack each sample copies.
    pub fn stack_copy(self) -> u32 {
        match self {
            CallGraph::Auto(n) | CallGraph::Dwarf(n) => n,
            CallGraph::Fp => 0,
        }
    }

    /// Adds what this mode needs to a sampler: callchains always, user
    /// registers and a stack copy for DWARF unwinding.
    pub fn configure(self, b: SamplerBuilder) -> SamplerBuilder {
        let b = b.callchain(true);
        match (self.stack_copy(), RegisterArch::native()) {
            (0, _) | (_, None) => b,
            (n, Some(arch)) => b.user_regs(arch.unwind_mask()).user_stack(n),
        }
    }
}

/// One sample's stack: kernel and user frames innermost first.
pub struct SampledStack<'a> {
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Kernel frames.
    pub kernel: &'a [u64],
    /// User frames.
    pub user: Vec<u64>,
}

/// Turns samples into stacks and remembers task names and process maps
/// while the tasks still live.
pub struct StackWalker {
    mode: CallGraph,
    arch: Option<RegisterArch>,
    unwinder: DwarfUnwinder,
    comms: CommCache,
    seen: HashSet<u32>,
    /// Samples whose user part came from DWARF unwinding.
    pub dwarf_unwound: u64,
}

impl StackWalker {
    /// A walker for `mode`.
    pub fn new(mode: CallGraph) -> StackWalker {
        StackWalker {
            mode,
            arch: RegisterArch::native(),
            unwinder: DwarfUnwinder::new(),
            comms: CommCache::new(None),
            seen: HashSet::new(),
            dwarf_unwound: 0,
        }
    }

    /// Learns from non-sample records: a COMM record names a task (and, at
    /// exec, replaces the process's mappings).
    pub fn observe(&mut self, r: &Record<'_>, symbolizer: &mut Symbolizer) {
        self.observe_mappings(r);
        if let Record::Mmap(m) = r {
            if let Some(map) = executable_mapping(m) {
                symbolizer.add_mapping(m.pid, map);
            }
        }
        if let Record::Comm(c) = r {
            self.comms.learn(c.tid as i32, &String::from_utf8_lossy(c.comm));
            if c.exec && c.pid == c.tid {
                symbolizer.forget_process(c.pid);
                self.seen.remove(&c.pid);
            }
        }
    }

    /// Learns only what unwinding needs from a non-sample record, for a
    /// tool that names tasks and symbolizes on its own: an executable
    /// MMAP adds a module, an exec forgets the old image.
    pub fn observe_mappings(&mut self, r: &Record<'_>) {
        match r {
            // A mapping made while sampling: known now even if the process
            // is gone by the time its stacks are unwound.
            Record::Mmap(m) if self.mode != CallGraph::Fp => {
                if let Some(map) = executable_mapping(m) {
                    self.unwinder.add_mapping(m.pid, &map);
                }
            }
            Record::Comm(c) if c.exec && c.pid == c.tid => self.unwinder.forget_process(c.pid),
            _ => {}
        }
    }

    /// The name of thread `tid`.
    pub fn comm(&mut self, tid: u32) -> &str {
        self.comms.get(tid as i32)
    }

    /// The stack of a sample, None without a pid. The first sample of a
    /// process reads its maps into `symbolizer` (and the unwinder), so it
    /// can be symbolized after it exits.
    pub fn stack<'s>(&mut self, s: &'s Sample<'_>, symbolizer: &mut Symbolizer) -> Option<SampledStack<'s>> {
        let (pid, tid) = (s.pid?, s.tid.unwrap_or(s.pid?));
        let chain = s.callchain.as_ref();
        let kernel = chain.map_or(&[][..], |c| &c.kernel[..]);
        let user = chain.map_or_else(Vec::new, |c| c.user.clone());
        // The unwinder reads a process's mappings at its first unwind, in
        // this same callback, so while it lives; the symbolizer's are read
        // here, as symbolization waits until sampling ends.
        if pid != 0 && self.seen.insert(pid) {
            if let Some(&ip) = user.first() {
                let _ = symbolizer.locate(pid, ip);
            }
        }
        let user = self.user_frames(pid, s, user, 1);
        Some(SampledStack {
            pid,
            tid,
            kernel,
            user,
        })
    }

    /// The user frames of sample `s` of process `pid`, given `fp`, those
    /// the caller read from its frame-pointer callchain: the frames DWARF
    /// unwinding finds instead with `dwarf`, and with the automatic mode
    /// where `fp` has at most `shallow` frames and unwinding finds more.
    /// `fp` as given without registers or stack copy in the sample.
    pub fn user_frames(&mut self, pid: u32, s: &Sample<'_>, fp: Vec<u64>, shallow: usize) -> Vec<u64> {
        let unwind = match self.mode {
            CallGraph::Fp => false,
            CallGraph::Auto(_) => fp.len() <= shallow,
            CallGraph::Dwarf(_) => true,
        };
        if unwind {
            if let Some(u) = self.dwarf(pid, s) {
                if matches!(self.mode, CallGraph::Dwarf(_)) || u.len() > fp.len() {
                    self.dwarf_unwound += 1;
                    return u;
                }
            }
        }
        fp
    }

    fn dwarf(&mut self, pid: u32, s: &Sample<'_>) -> Option<Vec<u64>> {
        let r = self.arch?.unwind_regs(s.regs_user.as_ref()?)?;
        let stack = s.stack_user.unwrap_or_default();
        let regs = StartRegs {
            ip: r.ip,
            sp: r.sp,
            fp: r.fp,
            lr: r.lr,
        };
        Some(self.unwinder.unwind(pid, regs, stack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_graph_flags_read_like_perf() {
        assert_eq!(CallGraph::parse("fp"), Ok(CallGraph::Fp));
        assert_eq!(CallGraph::parse("dwarf"), Ok(CallGraph::Dwarf(8192)));
        assert_eq!(CallGraph::parse("dwarf,16384"), Ok(CallGraph::Dwarf(16384)));
        assert!(CallGraph::parse("dwarf,7").is_err());
        assert!(CallGraph::parse("dwarf,x").is_err());
        assert!(CallGraph::parse("lbr").is_err());
        assert!(CallGraph::parse("fp,8").is_err());
    }
}
