//! Attaching deadlock's probes and turning their samples into lock events:
//! uprobes on the lock and unlock functions (defined in an ftr_PID_N
//! uprobe_events group, sampled through perf so each hit carries
//! registers and a callchain), uprobe + uretprobe pairs on conditional
//! locks, and sched:sched_process_fork with a callchain for thread
//! creation.
//!
//! The events sample the mutex (first argument register), frame-pointer
//! callchains and the top 8 bytes of the user stack: at a function's first
//! instruction the caller has not been pushed as a frame yet, so its
//! return address is the word at sp and the chain alone would skip it.
//!
//! Thread creation stops there too: libc keeps no frame records, so the
//! chain of a sched_process_fork sample ends in clone3 → __clone_internal.
//! Unless `--call-graph fp`, a fork sample carries a stack copy (each
//! event has its own sample shape, see `shape`) and its stack is unwound
//! with DWARF CFI too, kept when longer than the chain; `--call-graph
//! dwarf` copies and unwinds every lock's stack so.

use crate::tools::common::mmap_maps::map_entry;
use crate::tools::common::sampled_stacks::{CallGraph, StackWalker};
use crate::tools::common::uprobe_sources::sampled_uprobe;
use anyhow::{bail, Context, Result};
use ftr_pmu::{
    Record, RegisterArch, SampleRate, SampleShape, SampleSource, SampleTarget, Sampler, SamplerBuilder,
};
use ftr_symbols::{resolve_uprobe, ProbeContext, UprobeTarget};
use ftr_tracefs::{Endian, ProbeGroup, TracingDir};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The user stack bytes copied per sample: enough for the return address.
const STACK_TOP_BYTES: u32 = 64;
/// Deepest user chain kept per acquisition.
const MAX_FRAMES: u16 = 64;
/// Ring pages per CPU: 4 MiB, room for about 12k samples (regs, stack
/// top, callchain: ~330 bytes each) between drains.
const RING_PAGES: usize = 1024;
/// Bytes of a sample besides its stack copy (regs, callchain, raw).
const SAMPLE_BYTES: u32 = 330;
/// At most 16 MiB per CPU, however big the stack copies (the rings are
/// per CPU: on a big machine this is what costs).
const MAX_RING_PAGES: usize = 4 * 1024;
/// The stack copy by default, for unwinding thread creation: glibc's
/// pthread_create alone keeps ~600 bytes of frame below its caller's;
/// 2 KiB reaches the creating function and a few of its callers. Only
/// fork samples carry it (locks only with `--call-graph dwarf`).
pub const FORK_STACK_COPY: u32 = 2048;

/// Ring pages per CPU holding as many samples as RING_PAGES holds with
/// the 64-byte stack top, up to MAX_RING_PAGES.
fn ring_pages(stack_copy: u32) -> usize {
    let bytes = SAMPLE_BYTES + stack_copy.max(STACK_TOP_BYTES);
    let scaled = RING_PAGES * bytes as usize / (SAMPLE_BYTES + STACK_TOP_BYTES) as usize;
    scaled.next_power_of_two().min(MAX_RING_PAGES)
}

/// What a sample of `role` carries: acquisitions and thread creations
/// their stacks (callchain, registers, a stack copy of `lock_copy` bytes
/// for locks and of the mode's copy for thread creation, which DWARF
/// unwinds unless the mode is fp); an unlock or a trylock's return only
/// the registers with the mutex or the result; the fork tracepoint also
/// its RAW fields (the child's pid).
fn shape(role: Role, arch: RegisterArch, lock_copy: u32, call_graph: CallGraph) -> SampleShape {
    let regs = SampleShape {
        regs_user: arch.call_mask(),
        ..SampleShape::default()
    };
    match role {
        Role::Unlock | Role::ConditionalReturn => regs,
        Role::Lock | Role::ConditionalEntry => SampleShape {
            callchain: true,
            stack_user: lock_copy,
            ..regs
        },
        Role::Fork => SampleShape {
            callchain: true,
            raw: true,
            stack_user: call_graph.stack_copy().max(STACK_TOP_BYTES),
            ..regs
        },
    }
}

/// What a probe's samples mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Lock,
    Unlock,
    ConditionalEntry,
    ConditionalReturn,
    Fork,
}

/// One thing the traced threads did, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockEvent {
    /// `tid` called a lock function on `mutex` from `stack`.
    Lock {
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// The mutex address.
        mutex: u64,
        /// The user call chain, innermost first.
        stack: Vec<u64>,
    },
    /// `tid` called an unlock function.
    Unlock {
        /// Thread.
        tid: u32,
        /// The mutex address.
        mutex: u64,
    },
    /// `tid` entered a trylock.
    ConditionalEntry {
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// The mutex address.
        mutex: u64,
        /// The user call chain.
        stack: Vec<u64>,
    },
    /// The trylock of `tid` returned `value`.
    ConditionalReturn {
        /// Process.
        pid: u32,
        /// Thread.
        tid: u32,
        /// The return value (0: the lock was taken).
        value: u64,
    },
    /// `parent` created thread `child`.
    Created {
        /// Process of the parent.
        pid: u32,
        /// The creating thread.
        parent: u32,
        /// Its name.
        parent_comm: String,
        /// The new thread.
        child: u32,
        /// Its name.
        child_comm: String,
        /// The parent's user call chain (None from a bare FORK record).
        stack: Option<Vec<u64>>,
    },
    /// Process `pid` mapped a file executable (from its exec on, for a
    /// launched command): lets stacks resolve after it exits.
    Mapped {
        /// Process.
        pid: u32,
        /// The mapping.
        map: ftr_symbols::MapEntry,
    },
    /// Thread `tid` ended.
    Exit {
        /// Thread.
        tid: u32,
    },
}

/// The functions to probe, as given on the command line.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// Lock functions (`SYM` in the library, or `LIB:SYM`).
    pub lock: Vec<String>,
    /// Unlock functions.
    pub unlock: Vec<String>,
    /// Conditional locks, counted when they return 0.
    pub conditional: Vec<String>,
    /// Aliases tried quietly (skipped when the library lacks them).
    pub optional: HashSet<String>,
    /// The library holding them (`libc` by default).
    pub library: String,
}

/// A resolved function to probe.
#[derive(Debug, Clone)]
pub struct ResolvedProbe {
    role_name: &'static str,
    spec: String,
    /// Where it is.
    pub target: UprobeTarget,
}

impl ResolvedProbe {
    /// `lock pthread_mutex_lock at /usr/lib/.../libc.so.6:0x9a0b0`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} at {}",
            self.role_name,
            self.spec,
            self.target.uprobe_events_target()
        )
    }
}

fn qualified(library: &str, sym: &str) -> String {
    if sym.contains(':') {
        sym.to_owned()
    } else {
        format!("{library}:{sym}")
    }
}

/// Resolves every function to a file offset, aliases at the same offset
/// once. Fails naming the function and library when a required one is
/// missing, or when the process does not map the library it resolved to.
pub fn resolve(spec: &ProbeSpec, pid: Option<u32>) -> Result<Vec<(FunctionRole, ResolvedProbe)>> {
    let ctx = ProbeContext {
        pid,
        default_binary: None,
    };
    let mut out: Vec<(FunctionRole, ResolvedProbe)> = Vec::new();
    let mut seen: HashSet<(PathBuf, u64, FunctionRole)> = HashSet::new();
    // Unlock first: enabled before the locks, so no release of a traced
    // acquisition is missed (BCC attaches in the same order for this).
    let groups = [
        (FunctionRole::Unlock, "unlock", &spec.unlock),
        (FunctionRole::Lock, "lock", &spec.lock),
        (FunctionRole::Conditional, "trylock", &spec.conditional),
    ];
    for (role, role_name, names) in groups {
        for name in names {
            let full = qualified(&spec.library, name);
            let target = match resolve_uprobe(&full, &ctx) {
                Ok(t) => t,
                Err(_) if spec.optional.contains(name) => continue,
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot probe {role_name} function {name}"))
                    )
                }
            };
            if target.ifunc {
                bail!(
                    "{name} in {} is an IFUNC: a probe there fires once at load time, not per call",
                    target.path.display()
                );
            }
            if seen.insert((target.path.clone(), target.offset, role)) {
                out.push((
                    role,
                    ResolvedProbe {
                        role_name,
                        spec: name.clone(),
                        target,
                    },
                ));
            }
        }
    }
    if let Some(pid) = pid {
        let maps = ftr_symbols::read_maps(pid).with_context(|| format!("reading the maps of pid {pid}"))?;
        for (_, p) in &out {
            if !maps_file(&maps, &p.target.path) {
                bail!(
                    "pid {pid} does not map {} (statically linked, or another libc?): name the library with the lock functions with --binary",
                    p.target.path.display()
                );
            }
        }
    }
    Ok(out)
}

/// Whether `maps` hold `path` (compared by device and inode, so a symlinked
/// path still matches).
fn maps_file(maps: &[ftr_symbols::MapEntry], path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(path).ok().map(|m| m.ino());
    maps.iter().any(|m| match &m.backing {
        ftr_symbols::MapBacking::File { path: p, .. } => {
            p == path || (want.is_some() && std::fs::metadata(p).ok().map(|x| x.ino()) == want)
        }
        _ => false,
    })
}

/// The role a resolved function plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionRole {
    /// Takes the mutex.
    Lock,
    /// Releases it.
    Unlock,
    /// Takes it when it returns 0.
    Conditional,
}

/// The fields of sched:sched_process_fork this tool reads.
struct ForkFields {
    parent_comm: ftr_tracefs::format::FieldRef,
    child_pid: ftr_tracefs::format::FieldRef,
    child_comm: ftr_tracefs::format::FieldRef,
}

/// The open probes.
pub struct LockProbes {
    // Dropped before the group: the probes cannot go while events use them.
    sampler: Option<Sampler>,
    group: Option<ProbeGroup>,
    roles: Vec<Role>,
    arch: RegisterArch,
    fork: Option<ForkFields>,
    call_graph: CallGraph,
    walker: StackWalker,
}

/// Where the probes go.
#[derive(Debug, Clone, Copy)]
pub enum AttachTarget {
    /// Every thread of a running process, and threads it creates.
    Process(i32),
    /// A command held before exec (see `ftr_pmu::Workload`): it and its
    /// threads, from its exec on.
    Launched(i32),
}

impl LockProbes {
    /// Defines every probe in a fresh uprobe_events group and opens it
    /// as a perf tracepoint on `target` (disabled for a running process;
    /// enabled by the exec of a launched one). With `fork_stacks`, thread
    /// creation comes from sched:sched_process_fork with its callchain;
    /// without (or when that fails, and `notes` says why) from FORK
    /// records, without stacks. `call_graph` says which stacks are
    /// unwound with DWARF: none (`Fp`), thread creations (`Auto`, kept
    /// when longer than the chain), all (`Dwarf`).
    ///
    /// Why uprobe_events and not the perf uprobe PMU: an event of the PMU
    /// cannot be inherited. `perf_uprobe_init` (kernel/trace/
    /// trace_event_perf.c) copies the path from the user pointer in
    /// attr.config1 each time an event is initialised, inherited copies
    /// included, and for those it runs in the traced process's clone, where
    /// the pointer means nothing: clone fails with EFAULT and the traced
    /// program cannot create threads ("fork: Bad address"). A tracefs
    /// uprobe is a trace event, and its perf events inherit like any
    /// tracepoint's, so threads created later are traced from their first
    /// call.
    pub fn open(
        target: AttachTarget,
        probes: &[(FunctionRole, ResolvedProbe)],
        tracing: &TracingDir,
        fork_stacks: bool,
        call_graph: CallGraph,
        notes: &mut Vec<String>,
    ) -> Result<LockProbes> {
        let Some(arch) = RegisterArch::native() else {
            bail!("no user register set for this architecture: the mutex argument cannot be read");
        };
        let (sample_target, on_exec) = match target {
            AttachTarget::Process(pid) => (SampleTarget::Process { pid, inherit: true }, false),
            AttachTarget::Launched(pid) => (SampleTarget::Task { pid, inherit: true }, true),
        };
        // Only the stacks that are unwound carry a full copy; a lock's
        // (fp mode) needs just the caller's return address at [sp].
        let lock_copy = match call_graph {
            CallGraph::Dwarf(n) => n.max(STACK_TOP_BYTES),
            CallGraph::Auto(_) | CallGraph::Fp => STACK_TOP_BYTES,
        };
        let mut builder = SamplerBuilder::new(sample_target)
            .rate(SampleRate::Period(1))
            .max_stack(MAX_FRAMES)
            .ring_pages(ring_pages(lock_copy))
            .track_tasks(true)
            .enable_on_exec(on_exec);
        let group = ProbeGroup::new(tracing);
        let mut roles = Vec::new();
        for (i, (role, p)) in probes.iter().enumerate() {
            let target = p.target.uprobe_events_target();
            let mut define = |event: String, ret: bool, as_role: Role| -> Result<SampleSource> {
                let source = sampled_uprobe(tracing, &group, &event, &target, ret)
                    .with_context(|| format!("probing {}", p.describe()))?;
                roles.push(as_role);
                Ok(source)
            };
            let sources = match role {
                FunctionRole::Lock => vec![define(format!("lock_{i}"), false, Role::Lock)?],
                FunctionRole::Unlock => vec![define(format!("unlock_{i}"), false, Role::Unlock)?],
                FunctionRole::Conditional => vec![
                    define(format!("trylock_{i}"), false, Role::ConditionalEntry)?,
                    define(format!("trylock_{i}_ret"), true, Role::ConditionalReturn)?,
                ],
            };
            let n_sources = sources.len();
            for (s, &r) in sources.into_iter().zip(&roles[roles.len() - n_sources..]) {
                builder = builder.shaped_source(s, shape(r, arch, lock_copy, call_graph));
            }
        }
        let fork = if fork_stacks {
            match fork_source(tracing) {
                Ok((source, fields)) => {
                    builder = builder.shaped_source(source, shape(Role::Fork, arch, lock_copy, call_graph));
                    roles.push(Role::Fork);
                    Some(fields)
                }
                Err(e) => {
                    notes.push(format!(
                        "thread creation without stacks ({e:#}): FORK records only"
                    ));
                    None
                }
            }
        } else {
            notes.push(
                "no sched:sched_process_fork here: thread creation from FORK records, without stacks".into(),
            );
            None
        };
        let sampler = builder.open().context("opening the lock probes")?;
        notes.extend(sampler.notes().iter().cloned());
        Ok(LockProbes {
            sampler: Some(sampler),
            group: Some(group),
            roles,
            arch,
            fork,
            call_graph,
            walker: StackWalker::new(call_graph),
        })
    }

    /// Closes the perf events, then deletes the uprobes (in that order:
    /// the kernel refuses to delete a probe a perf event still uses).
    pub fn close(mut self) -> Result<()> {
        self.sampler.take();
        if let Some(g) = self.group.take() {
            g.remove().context("deleting deadlock's uprobes")?;
        }
        Ok(())
    }

    fn sampler(&self) -> &Sampler {
        self.sampler.as_ref().expect("open until close")
    }

    /// Starts the probes (a running process).
    pub fn enable(&self) -> Result<()> {
        Ok(self.sampler().enable()?)
    }

    /// Stops the probes; what they wrote can still be drained.
    pub fn disable(&self) -> Result<()> {
        Ok(self.sampler().disable()?)
    }

    /// Waits up to `timeout` for data or `wake`; true when every traced
    /// task has exited.
    pub fn wait(&self, timeout: Duration, wake: std::os::fd::BorrowedFd<'_>) -> Result<bool> {
        Ok(self.sampler().wait(Some(timeout), Some(wake))?.hangup)
    }

    /// Hands the events now readable to `f`, in time order across CPUs
    /// (a release on one CPU must come after the acquisition on another).
    /// With `last`, also those held back for ordering.
    pub fn drain(&mut self, last: bool, mut f: impl FnMut(LockEvent)) -> Result<()> {
        let decoder = Decoder {
            roles: &self.roles,
            arch: self.arch,
            fork: self.fork.as_ref(),
            unwind_locks: matches!(self.call_graph, CallGraph::Dwarf(_)),
        };
        let walker = &mut self.walker;
        let sampler = self.sampler.as_mut().expect("open until close");
        let mut handle = |r: &Record<'_>, o: ftr_pmu::Origin| {
            if let Some(e) = decoder.decode(r, o, walker) {
                f(e);
            }
        };
        sampler.drain_ordered(&mut handle)?;
        if last {
            sampler.flush_ordered(&mut handle)?;
        }
        Ok(())
    }

    /// Records lost in the kernel (rings full).
    pub fn lost(&self) -> u64 {
        let s = self.sampler().stats();
        s.lost + s.lost_samples
    }

    /// Samples read.
    pub fn samples(&self) -> u64 {
        self.sampler().stats().samples
    }
}

fn fork_source(t: &TracingDir) -> Result<(SampleSource, ForkFields)> {
    let format = std::fs::read_to_string(t.path("events/sched/sched_process_fork/format"))
        .context("reading sched:sched_process_fork's format")?;
    let schema = ftr_tracefs::format::Schema::parse("sched", &format)?;
    let field = |name: &str| {
        schema
            .field(name)
            .with_context(|| format!("sched:sched_process_fork has no field {name}"))
    };
    let fields = ForkFields {
        parent_comm: field("parent_comm")?,
        child_pid: field("child_pid")?,
        child_comm: field("child_comm")?,
    };
    let source = SampleSource::tracepoint(t.root(), "sched", "sched_process_fork")?;
    Ok((source, fields))
}

/// How samples become lock events.
struct Decoder<'a> {
    roles: &'a [Role],
    arch: RegisterArch,
    fork: Option<&'a ForkFields>,
    /// Lock stacks are unwound with DWARF (else frame pointers).
    unwind_locks: bool,
}

impl Decoder<'_> {
    fn decode(&self, r: &Record<'_>, o: ftr_pmu::Origin, walker: &mut StackWalker) -> Option<LockEvent> {
        let (roles, arch, fork) = (self.roles, self.arch, self.fork);
        let s = match r {
            Record::Sample(s) => s,
            Record::Fork(t) => {
                return Some(LockEvent::Created {
                    pid: t.ppid,
                    parent: t.ptid,
                    parent_comm: String::new(),
                    child: t.tid,
                    child_comm: String::new(),
                    stack: None,
                })
            }
            Record::Exit(t) => return Some(LockEvent::Exit { tid: t.tid }),
            Record::Mmap(m) => {
                walker.observe_mappings(r);
                return map_entry(m).map(|map| LockEvent::Mapped { pid: m.pid, map });
            }
            Record::Comm(_) => {
                walker.observe_mappings(r);
                return None;
            }
            _ => return None,
        };
        let role = *roles.get(o.event?)?;
        let (pid, tid) = (s.pid?, s.tid?);
        let mut stack = || {
            let fp = entry_stack(s);
            if self.unwind_locks {
                walker.user_frames(pid, s, fp, 0)
            } else {
                fp
            }
        };
        let regs = s.regs_user.as_ref();
        match role {
            Role::Lock => Some(LockEvent::Lock {
                pid,
                tid,
                mutex: arch.argument(regs?, 0)?,
                stack: stack(),
            }),
            Role::Unlock => Some(LockEvent::Unlock {
                tid,
                mutex: arch.argument(regs?, 0)?,
            }),
            Role::ConditionalEntry => Some(LockEvent::ConditionalEntry {
                pid,
                tid,
                mutex: arch.argument(regs?, 0)?,
                stack: stack(),
            }),
            Role::ConditionalReturn => Some(LockEvent::ConditionalReturn {
                pid,
                tid,
                value: arch.return_value(regs?)?,
            }),
            Role::Fork => {
                let f = fork?;
                let raw = s.raw?;
                let child = f.child_pid.i64(raw, Endian::host())? as u32;
                let comm = f.parent_comm.str(raw, Endian::host())?.into_owned();
                let child_comm = f.child_comm.str(raw, Endian::host())?.into_owned();
                // glibc's clone3 makes the syscall without touching the stack,
                // so the word at sp is its return address into pthread_create,
                // as at a function's entry. Past it the frame-pointer walk
                // often loops on one bogus frame (libc keeps no frame records):
                // keep one. So the walk stops in libc, after clone3 and
                // __clone_internal and maybe such a bogus frame: unwind
                // with CFI too (forks are rare) and keep the longer stack.
                let mut user = entry_stack(s);
                user.dedup();
                let user = walker.user_frames(pid, s, user, usize::MAX);
                Some(LockEvent::Created {
                    pid,
                    parent: tid,
                    parent_comm: comm,
                    child,
                    child_comm,
                    stack: Some(user),
                })
            }
        }
    }
}

/// The call chain of a sample taken at a function's first instruction:
/// the ip, the caller's return address from the top of the stack copy,
/// then the frame-pointer chain's return addresses.
fn entry_stack(s: &ftr_pmu::Sample<'_>) -> Vec<u64> {
    let user = s
        .callchain
        .as_ref()
        .map(|c| c.user.as_slice())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(user.len() + 1);
    let ip = user.first().copied().or(s.ip);
    out.extend(ip);
    let top = s
        .stack_user
        .and_then(|b| b.get(..8))
        .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")));
    if let Some(ret) = top.filter(|&r| r != 0) {
        out.push(ret);
    }
    out.extend(user.iter().skip(1).copied());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_stacks_put_the_return_address_after_the_ip() {
        let stack = 0x40_1100u64.to_ne_bytes();
        let s = ftr_pmu::Sample {
            ip: Some(0x7f00),
            callchain: Some(ftr_pmu::Callchain {
                kernel: vec![],
                user: vec![0x7f00, 0x40_1200],
                other: vec![],
            }),
            stack_user: Some(&stack),
            ..Default::default()
        };
        assert_eq!(entry_stack(&s), vec![0x7f00, 0x40_1100, 0x40_1200]);
    }

    #[test]
    fn rings_grow_with_the_stack_copy_up_to_16_mib() {
        assert_eq!(ring_pages(0), RING_PAGES);
        assert_eq!(ring_pages(STACK_TOP_BYTES), RING_PAGES);
        assert_eq!(ring_pages(FORK_STACK_COPY), MAX_RING_PAGES);
        assert_eq!(ring_pages(ftr_pmu::MAX_USER_STACK), MAX_RING_PAGES);
    }

    #[test]
    fn qualified_names_keep_an_explicit_library() {
        assert_eq!(qualified("libc", "pthread_mutex_lock"), "libc:pthread_mutex_lock");
        assert_eq!(qualified("libc", "/bin/x:my_lock"), "/bin/x:my_lock");
    }
}
