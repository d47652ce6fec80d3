//! Probe plans: what a tool needs, in order of preference, and which
//! alternative this kernel can serve. `ftr doctor` shows the same choice a
//! tool makes when it starts, because both call [`ProbePlan::resolve`].

use ftr_pmu::PmuCapabilities;
use ftr_tracefs::{Capabilities, TracingDir};
use std::collections::HashSet;
use std::sync::OnceLock;

/// One kernel mechanism a tool can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// Reading tracefs files (listing, formats).
    Tracefs,
    /// A tracepoint, `sys:event`.
    Tracepoint(&'static str),
    /// A kprobe on a kernel function.
    Kprobe(&'static str),
    /// A uprobe (or uretprobe) on a user-space function.
    Uprobe(&'static str),
    /// The function tracer filtered by set_ftrace_filter.
    FunctionTracer,
    /// The function_graph tracer.
    FunctionGraphTracer,
    /// The function profiler (trace_stat/function*).
    FunctionProfiler,
    /// perf_event_open counting of hardware PMCs.
    PerfCounters,
    /// perf_event_open sampling with callchains.
    PerfSampling,
    /// A trace.dat file: needs nothing from the kernel.
    FileOnly,
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mechanism::Tracefs => write!(f, "tracefs"),
            Mechanism::Tracepoint(t) => write!(f, "tracepoint {t}"),
            Mechanism::Kprobe(s) => write!(f, "kprobe {s}"),
            Mechanism::Uprobe(s) => write!(f, "uprobe {s}"),
            Mechanism::FunctionTracer => write!(f, "function tracer"),
            Mechanism::FunctionGraphTracer => write!(f, "function_graph tracer"),
            Mechanism::FunctionProfiler => write!(f, "function profiler"),
            Mechanism::PerfCounters => write!(f, "perf counters"),
            Mechanism::PerfSampling => write!(f, "perf sampling"),
            Mechanism::FileOnly => write!(f, "trace.dat file"),
        }
    }
}

/// One way to meet a need: every mechanism in it must work.
#[derive(Debug, Clone)]
pub struct Alternative {
    /// Short name shown to the user ("kprobes", "tracepoints").
    pub name: &'static str,
    /// What it needs.
    pub uses: Vec<Mechanism>,
}

/// Something a tool needs, with its alternatives best first.
#[derive(Debug, Clone)]
pub struct Need {
    /// What for ("request start", "page accesses").
    pub what: &'static str,
    /// Ways to get it, best first.
    pub alternatives: Vec<Alternative>,
}

/// A tool's needs.
#[derive(Debug, Clone, Default)]
pub struct ProbePlan {
    /// Every need must be met.
    pub needs: Vec<Need>,
}

/// The alternative chosen for each need, or why none works.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// (need, chosen alternative name, why earlier ones were skipped).
    pub chosen: Vec<(&'static str, &'static str, Vec<String>)>,
    /// (need, why every alternative failed).
    pub unmet: Vec<(&'static str, Vec<String>)>,
}

impl Resolution {
    /// Whether every need is met.
    pub fn ok(&self) -> bool {
        self.unmet.is_empty()
    }
}

/// What the kernel offers, probed once and shared by every plan.
pub struct KernelEnv {
    /// tracefs capabilities (None when there is no tracefs at all).
    pub tracefs: Option<(TracingDir, Capabilities)>,
    /// Why there is no tracefs.
    pub tracefs_error: Option<String>,
    /// perf_event_open / BPF capabilities.
    pub pmu: PmuCapabilities,
    events: HashSet<String>,
    functions: OnceLock<HashSet<String>>,
}

impl KernelEnv {
    /// Probes everything (trial writes happen in scratch instances).
    pub fn probe(tracing: Result<TracingDir, String>) -> KernelEnv {
        let (tracefs, tracefs_error) = match tracing {
            Ok(t) => {
                let caps = Capabilities::probe(&t);
                (Some((t, caps)), None)
            }
            Err(e) => (None, Some(e)),
        };
        let events = tracefs
            .as_ref()
            .and_then(|(t, _)| ftr_tracefs::list_events(t).ok())
            .map(|v| v.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        KernelEnv {
            tracefs,
            tracefs_error,
            pmu: PmuCapabilities::probe(),
            events,
            functions: OnceLock::new(),
        }
    }

    fn caps(&self) -> Result<&Capabilities, String> {
        self.tracefs.as_ref().map(|(_, c)| c).ok_or_else(|| {
            format!(
                "no tracefs: {}",
                self.tracefs_error.as_deref().unwrap_or("not found")
            )
        })
    }

    /// Kernel functions that can be probed (available_filter_functions,
    /// else /proc/kallsyms text symbols), loaded on first use.
    fn functions(&self) -> &HashSet<String> {
        self.functions.get_or_init(|| {
            let from_filter = self
                .tracefs
                .as_ref()
                .and_then(|(t, _)| std::fs::read_to_string(t.path("available_filter_functions")).ok());
            let text =
                from_filter.unwrap_or_else(|| std::fs::read_to_string("/proc/kallsyms").unwrap_or_default());
            text.lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    let first = w.next()?;
                    // kallsyms: "addr type name [module]"; filter functions: "name [module]".
                    match (w.next(), w.next()) {
                        (Some(ty), Some(name)) if ty.len() == 1 => Some(name.to_owned()),
                        _ => Some(first.to_owned()),
                    }
                })
                .collect()
        })
    }

    /// Whether `m` works here, or why not.
    pub fn check(&self, m: &Mechanism) -> Result<(), String> {
        let usable = |name: &str, s: &ftr_tracefs::Support| {
            if s.is_usable() {
                Ok(())
            } else {
                // Short: doctor prints the evidence in its feature table.
                Err(format!("{name} {}", s.word()))
            }
        };
        match m {
            Mechanism::Tracefs => self.caps().map(drop),
            Mechanism::FileOnly => Ok(()),
            Mechanism::Tracepoint(t) => {
                self.caps()?;
                if self.events.contains(*t) {
                    Ok(())
                } else {
                    Err(format!("no tracepoint {t}"))
                }
            }
            Mechanism::Kprobe(f) => {
                usable("kprobe_events", &self.caps()?.kprobe_events)?;
                if self.functions().contains(*f) {
                    Ok(())
                } else {
                    Err(format!("no kernel function {f} (inlined, renamed or absent)"))
                }
            }
            Mechanism::Uprobe(_) => usable("uprobe_events", &self.caps()?.uprobe_events),
            Mechanism::FunctionTracer => {
                let c = self.caps()?;
                usable("function tracer", &c.function_tracer)?;
                usable("set_ftrace_filter", &c.ftrace_filter)
            }
            Mechanism::FunctionGraphTracer => {
                usable("function_graph tracer", &self.caps()?.function_graph_tracer)
            }
            Mechanism::FunctionProfiler => usable("function profiler", &self.caps()?.function_profiler),
            Mechanism::PerfCounters => {
                if self.pmu.hardware_counters.is_usable() || self.pmu.software_counters.is_usable() {
                    Ok(())
                } else {
                    Err("perf counters unavailable".to_owned())
                }
            }
            Mechanism::PerfSampling => {
                if self.pmu.software_counters.is_usable() {
                    Ok(())
                } else {
                    Err("perf sampling unavailable".to_owned())
                }
            }
        }
    }
}

impl ProbePlan {
    /// Picks, for each need, the first alternative whose mechanisms all work.
    pub fn resolve(&self, env: &KernelEnv) -> Resolution {
        let mut r = Resolution {
            chosen: Vec::new(),
            unmet: Vec::new(),
        };
        for need in &self.needs {
            let mut skipped = Vec::new();
            let mut found = None;
            for alt in &need.alternatives {
                match alt.uses.iter().try_for_each(|m| env.check(m)) {
                    Ok(()) => {
                        found = Some(alt.name);
                        break;
                    }
                    Err(why) => skipped.push(format!("{}: {why}", alt.name)),
                }
            }
            match found {
                Some(name) => r.chosen.push((need.what, name, skipped)),
                None => r.unmet.push((need.what, skipped)),
            }
        }
        r
    }
}

/// Shorthand for building plans: `need("what", [alt("name", [m, ...]), ...])`.
pub fn need(what: &'static str, alternatives: Vec<Alternative>) -> Need {
    Need { what, alternatives }
}

/// Shorthand for one alternative.
pub fn alt(name: &'static str, uses: Vec<Mechanism>) -> Alternative {
    Alternative { name, uses }
}
