//! deadlock: potential deadlocks (lock-order inversions) in a process, as
//! BCC's deadlock.py finds them, from uprobes on the pthread mutex
//! functions opened through the perf uprobe PMU (no BPF, no kprobe).
//!
//! Every lock call taken while the thread holds other mutexes adds an edge
//! held → acquired to a graph; a cycle in it is a lock order that can
//! deadlock. The first cycle is printed in BCC's layout and the tool exits
//! with status 1; a run that ends (Ctrl-C, the process exits) without one
//! exits 0.

mod graph;
mod probes;
mod report;

use crate::pipeline::plan::{alt, need, KernelEnv, Mechanism as M, ProbePlan};
use crate::pipeline::stop::Stop;
use crate::tools::common::kprobes::explain_unmet;
use crate::tools::common::sampled_stacks::CallGraph;
use crate::tools::Global;
use anyhow::{bail, Context, Result};
use graph::LockGraph;
use probes::{AttachTarget, LockEvent, LockProbes, ProbeSpec};
use report::Describer;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often the graph is searched for a cycle (BCC: every second).
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Longest wait for ring data between checks of the stop conditions.
const POLL: Duration = Duration::from_millis(100);

/// `ftr deadlock` options.
#[derive(Debug, clap::Args)]
#[command(
    about = "Find potential deadlocks (lock-order inversions) in a process (bcc deadlock)",
    after_help = "EXAMPLES:\n    ftr deadlock 181                     # watch pid 181 until a lock-order cycle or Ctrl-C\n    ftr deadlock -p 181 --dump-graph g.json # and write the lock graph as JSON\n    ftr deadlock -- ./server --threads 8 # run a command and watch it from its first lock\n    ftr deadlock 181 --lock-symbols my_lock --unlock-symbols my_unlock --binary /opt/app/bin/app\n                                         # trace the program's own lock functions\n",
    group(clap::ArgGroup::new("target").required(true).args(["pid_arg", "pid", "command"]))
)]
pub struct Args {
    /// Trace process PID (BCC's positional form).
    #[arg(value_name = "PID")]
    pub pid_arg: Option<i32>,
    /// Trace process PID.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<i32>,
    /// Probe the lock functions in BINARY (a path or library name) instead of libc.
    #[arg(long, value_name = "BINARY")]
    pub binary: Option<String>,
    /// Trace these lock functions (comma-separated; LIB:SYM for another file).
    #[arg(long, value_name = "SYMBOLS", value_delimiter = ',')]
    pub lock_symbols: Vec<String>,
    /// Trace these unlock functions (comma-separated; LIB:SYM for another file).
    #[arg(long, value_name = "SYMBOLS", value_delimiter = ',')]
    pub unlock_symbols: Vec<String>,
    /// Walk user stacks by MODE: fp (frame pointers), or dwarf[,SIZE] (DWARF CFI for every stack) [default: fp, and dwarf for thread creations fp cannot walk].
    #[arg(long = "call-graph", value_name = "MODE", value_parser = CallGraph::parse)]
    pub call_graph: Option<CallGraph>,
    /// Write the lock-order graph to FILE as JSON (BCC's node-link layout).
    #[arg(long, value_name = "FILE")]
    pub dump_graph: Option<PathBuf>,
    /// Run CMD and trace it from its exec (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The default lock functions: glibc's public names and their internal
/// aliases (the same code in glibc 2.34+, separate entry points in older
/// libpthread); aliases at one offset are probed once.
const LOCK: &[&str] = &["pthread_mutex_lock", "__pthread_mutex_lock"];
const UNLOCK: &[&str] = &["pthread_mutex_unlock", "__pthread_mutex_unlock"];
const CONDITIONAL: &[&str] = &[
    "pthread_mutex_trylock",
    "__pthread_mutex_trylock",
    "pthread_mutex_timedlock",
    "pthread_mutex_clocklock",
];

/// What deadlock needs from the kernel.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![
            need(
                "lock events",
                vec![alt(
                    "pthread uprobes sampled through perf",
                    vec![
                        M::Uprobe("libc:pthread_mutex_lock"),
                        M::Uprobe("libc:pthread_mutex_unlock"),
                        M::PerfSampling,
                    ],
                )],
            ),
            need(
                "thread creation",
                vec![
                    alt(
                        "sched_process_fork + perf callchains",
                        vec![M::Tracepoint("sched:sched_process_fork"), M::PerfSampling],
                    ),
                    alt("perf FORK records (no stacks)", vec![M::PerfSampling]),
                ],
            ),
        ],
    }
}

fn probe_spec(args: &Args) -> ProbeSpec {
    let own = |given: &[String], defaults: &[&str]| -> (Vec<String>, bool) {
        if given.is_empty() {
            (defaults.iter().map(|s| s.to_string()).collect(), true)
        } else {
            (given.to_vec(), false)
        }
    };
    let (lock, default_lock) = own(&args.lock_symbols, LOCK);
    let (unlock, default_unlock) = own(&args.unlock_symbols, UNLOCK);
    // Custom lock functions replace the pthread ones, trylock included.
    let conditional: Vec<String> = if args.lock_symbols.is_empty() {
        CONDITIONAL.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let mut optional: HashSet<String> = conditional.iter().cloned().collect();
    for (list, defaulted, first) in [
        (&lock, default_lock, LOCK[0]),
        (&unlock, default_unlock, UNLOCK[0]),
    ] {
        if defaulted {
            optional.extend(list.iter().filter(|s| *s != first).cloned());
        }
    }
    optional.remove(CONDITIONAL[0]);
    ProbeSpec {
        lock,
        unlock,
        conditional,
        optional,
        library: args.binary.clone().unwrap_or_else(|| "libc".to_owned()),
    }
}

/// Runs deadlock.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let pid = match (args.pid_arg, args.pid, args.command.is_empty()) {
        (Some(_), Some(_), _) => bail!("give the pid once (positional or -p)"),
        (Some(p), None, true) | (None, Some(p), true) => Some(p),
        (None, None, false) => None,
        _ => bail!("give a pid or a command, not both"),
    };
    if let Some(p) = pid {
        if p <= 0 || !std::path::Path::new(&format!("/proc/{p}")).exists() {
            bail!("no process with pid {p}");
        }
    }
    let tracing = g.tracing_for_writing()?;
    let env = KernelEnv::new(Ok(tracing.clone()));
    let plan = plan();
    let resolution = plan.resolve(&env);
    if resolution.chosen("lock events").is_none() {
        let why = explain_unmet(&env, &plan).unwrap_or_default();
        bail!("cannot trace mutexes: {why}");
    }
    let fork_stacks = resolution
        .chosen("thread creation")
        .is_some_and(|a| a.uses.iter().any(|m| matches!(m, M::Tracepoint(_))));
    let spec = probe_spec(&args);
    let resolved = probes::resolve(&spec, pid.map(|p| p as u32))?;
    let mut notes = Vec::new();
    if g.verbose > 0 {
        for (_, p) in &resolved {
            eprintln!("ftr: probing {}", p.describe());
        }
    }
    let workload = if args.command.is_empty() {
        None
    } else {
        Some(ftr_pmu::Workload::prepare(&args.command, Stop::unblock_in_child)?)
    };
    let target = match (&workload, pid) {
        (Some(w), _) => AttachTarget::Launched(w.pid()),
        (None, Some(p)) => AttachTarget::Process(p),
        (None, None) => unreachable!("checked above"),
    };
    let call_graph = args
        .call_graph
        .unwrap_or(CallGraph::Auto(probes::FORK_STACK_COPY));
    let mut lock_probes = LockProbes::open(target, &resolved, &tracing, fork_stacks, call_graph, &mut notes)?;
    for n in &notes {
        eprintln!("ftr: {n}");
    }
    let mut child = match workload {
        Some(w) => Some(w.start()?),
        None => {
            lock_probes.enable()?;
            None
        }
    };
    eprintln!("Tracing... Hit Ctrl-C to end.");
    let mut state = State {
        launched: child.is_some(),
        graph: LockGraph::new(),
        describer: Describer::new(),
        edges_checked: 0,
    };
    let mut next_check = Instant::now() + CHECK_EVERY;
    let mut found = None;
    loop {
        let gone = lock_probes.wait(POLL, stop.wake_fd())?;
        lock_probes.drain(false, |e| state.feed(e))?;
        let exited = gone
            || match (&mut child, pid) {
                (Some(c), _) => c.try_wait()?.is_some(),
                (None, Some(p)) => !std::path::Path::new(&format!("/proc/{p}")).exists(),
                (None, None) => true,
            };
        if Instant::now() >= next_check {
            next_check += CHECK_EVERY;
            found = state.check();
            if found.is_some() {
                break;
            }
        }
        if exited || stop.requested() {
            break;
        }
    }
    lock_probes.disable()?;
    lock_probes.drain(true, |e| state.feed(e))?;
    if found.is_none() {
        found = state.check_all();
    }
    let lost = lock_probes.lost();
    let samples = lock_probes.samples();
    lock_probes.close()?;
    if let Some(path) = &args.dump_graph {
        let json = report::graph_json(&state.graph, &state.describer);
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if g.verbose > 0 {
        eprintln!(
            "Mutexes: {}, Edges: {} ({} lock calls, {} unlock calls, {} samples)",
            state.graph.node_count(),
            state.graph.edge_count(),
            state.graph.acquisitions,
            state.graph.releases,
            samples
        );
    }
    if lost > 0 {
        eprintln!(
            "ftr: {lost} events lost (rings full): the lock graph may be incomplete, and a lost unlock can add edges that never held"
        );
    }
    if state.graph.acquisitions == 0 {
        eprintln!("ftr: saw no lock calls: does the target use these lock functions (see --binary)?");
    }
    let code = match found {
        Some(cycle) => {
            let mut out = std::io::stdout().lock();
            report::print_cycle(&mut out, &state.graph, &mut state.describer, &cycle)?;
            1
        }
        None => {
            println!("No potential deadlocks detected.");
            0
        }
    };
    if let Some(mut c) = child {
        // The command runs on untraced; ftr returns with it.
        while c.try_wait()?.is_none() && !stop.requested() {
            std::thread::sleep(POLL);
        }
    }
    Ok(ExitCode::from(code))
}

/// The graph and what has been learnt to describe it.
struct State {
    /// The command was launched here: its MMAP2 records cover every
    /// mapping from its exec, so they can stand in for its maps.
    launched: bool,
    graph: LockGraph,
    describer: Describer,
    edges_checked: usize,
}

impl State {
    fn feed(&mut self, e: LockEvent) {
        let new = match e {
            LockEvent::Lock {
                pid,
                tid,
                mutex,
                stack,
            } => {
                let id = self.graph.intern(&stack);
                let new = self.graph.acquire(tid, mutex, id);
                (pid, new)
            }
            LockEvent::Unlock { tid, mutex } => {
                self.graph.release(tid, mutex);
                return;
            }
            LockEvent::ConditionalEntry {
                pid: _,
                tid,
                mutex,
                stack,
            } => {
                let id = self.graph.intern(&stack);
                self.graph.conditional_enter(tid, mutex, id);
                return;
            }
            LockEvent::ConditionalReturn { pid, tid, value } => {
                (pid, self.graph.conditional_return(tid, value))
            }
            LockEvent::Created {
                pid,
                parent,
                parent_comm,
                child,
                child_comm,
                stack,
            } => {
                let stack = stack.map(|s| self.graph.intern(&s));
                if let Some(id) = stack {
                    self.describer.describe_stack(pid, id, self.graph.stack(id));
                }
                self.describer.note_thread(pid, parent, Some(&parent_comm));
                self.describer.note_thread(pid, child, Some(&child_comm));
                self.graph.created(
                    child,
                    graph::Creation {
                        parent_tid: parent,
                        parent_comm,
                        stack,
                    },
                );
                return;
            }
            LockEvent::Mapped { pid, map } => {
                if self.launched {
                    self.describer.add_mapping(pid, map);
                }
                return;
            }
            LockEvent::Exit { tid } => {
                self.graph.thread_exit(tid);
                return;
            }
        };
        let (pid, edges) = new;
        // Described now: the process (and its maps) may be gone by the
        // time the cycle is printed.
        for edge in edges {
            let info = self.graph.edge(edge.from, edge.to).expect("just added").clone();
            self.describer.note_thread(pid, info.tid, None);
            for id in [info.held_stack, info.acquired_stack] {
                self.describer.describe_stack(pid, id, self.graph.stack(id));
            }
            for m in [edge.from, edge.to] {
                self.describer.describe_mutex(pid, m);
            }
        }
    }

    /// A cycle, if edges were added since the last look.
    fn check(&mut self) -> Option<Vec<u64>> {
        if self.graph.edge_count() == self.edges_checked {
            return None;
        }
        self.check_all()
    }

    fn check_all(&mut self) -> Option<Vec<u64>> {
        self.edges_checked = self.graph.edge_count();
        self.graph.find_cycle()
    }
}
