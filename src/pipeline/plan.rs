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
    /// A uprobe (or uretprobe) opened through the perf uprobe PMU, sampled
    /// with registers and callchains; leaves nothing in uprobe_events.
    UprobePmu(&'static str),
    /// The function tracer filtered by set_ftrace_filter.
    FunctionTracer,
    /// The function tracer filtered to this kernel function (which must
    /// be listed in available_filter_functions).
    TracedFunction(&'static str),
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
            Mechanism::UprobePmu(s) => write!(f, "uprobe PMU {s}"),
            Mechanism::FunctionTracer => write!(f, "function tracer"),
            Mechanism::TracedFunction(s) => write!(f, "function {s}"),
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
    /// (need, chosen alternative, why earlier ones were skipped).
    pub chosen: Vec<(&'static str, Alternative, Vec<String>)>,
    /// (need, why every alternative failed).
    pub unmet: Vec<(&'static str, Vec<String>)>,
}

impl Resolution {
    /// Whether every need is met.
    pub fn ok(&self) -> bool {
        self.unmet.is_empty()
    }

    /// The alternative chosen for `need`.
    pub fn chosen(&self, need: &str) -> Option<&Alternative> {
        self.chosen.iter().find(|(w, _, _)| *w == need).map(|(_, a, _)| a)
    }

    /// The tracepoints (`sys:event`) of every chosen alternative, in plan order.
    pub fn tracepoints(&self) -> Vec<ftr_tracefs::EventName> {
        self.chosen
            .iter()
            .flat_map(|(_, a, _)| a.uses.iter())
            .filter_map(|m| match m {
                Mechanism::Tracepoint(t) => ftr_tracefs::EventName::parse(t),
                _ => None,
            })
            .collect()
    }

    /// An error naming every unmet need and why each alternative failed.
    pub fn error(&self) -> Option<String> {
        if self.ok() {
            return None;
        }
        Some(
            self.unmet
                .iter()
                .map(|(what, why)| format!("no way to get {what} on this kernel (tried {})", why.join("; ")))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// What the kernel offers. Each part is probed on first use, so a tool
/// that needs only tracepoints pays for a few stat(2) calls, and `ftr
/// doctor` (which asks about everything) pays for every trial once.
pub struct KernelEnv {
    tracing: Result<TracingDir, String>,
    caps: OnceLock<Capabilities>,
    pmu: OnceLock<PmuCapabilities>,
    functions: OnceLock<HashSet<String>>,
}

impl KernelEnv {
    /// An environment over `tracing` (or the reason there is none).
    pub fn new(tracing: Result<TracingDir, String>) -> KernelEnv {
        KernelEnv {
            tracing,
            caps: OnceLock::new(),
            pmu: OnceLock::new(),
            functions: OnceLock::new(),
        }
    }

    /// The tracing directory, or why there is none.
    pub fn tracing(&self) -> Result<&TracingDir, String> {
        self.tracing.as_ref().map_err(|e| format!("no tracefs: {e}"))
    }

    /// tracefs capabilities, probed by trial on first use (in a scratch instance).
    pub fn caps(&self) -> Result<&Capabilities, String> {
        let t = self.tracing()?;
        Ok(self.caps.get_or_init(|| Capabilities::probe(t)))
    }

    /// perf_event_open / BPF capabilities, probed on first use.
    pub fn pmu(&self) -> &PmuCapabilities {
        self.pmu.get_or_init(PmuCapabilities::probe)
    }

    /// Kernel functions that can be probed (available_filter_functions,
    /// else /proc/kallsyms text symbols), loaded on first use.
    fn functions(&self) -> &HashSet<String> {
        self.functions.get_or_init(|| {
            let from_filter = self
                .tracing
                .as_ref()
                .ok()
                .and_then(|t| std::fs::read_to_string(t.path("available_filter_functions")).ok());
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
            Mechanism::Tracefs => self.tracing().map(drop),
            Mechanism::FileOnly => Ok(()),
            Mechanism::Tracepoint(t) => {
                let dir = self.tracing()?.events_dir().join(t.replacen(':', "/", 1));
                if dir.join("format").is_file() {
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
            Mechanism::UprobePmu(_) => {
                let p = &self.pmu().uprobe_pmu;
                if p.is_usable() {
                    Ok(())
                } else {
                    Err(format!("uprobe PMU {p}"))
                }
            }
            Mechanism::FunctionTracer => {
                let c = self.caps()?;
                usable("function tracer", &c.function_tracer)?;
                usable("set_ftrace_filter", &c.ftrace_filter)
            }
            Mechanism::TracedFunction(f) => {
                self.check(&Mechanism::FunctionTracer)?;
                if self.functions().contains(*f) {
                    Ok(())
                } else {
                    Err(format!("no traceable function {f} (inlined, renamed or absent)"))
                }
            }
            Mechanism::FunctionGraphTracer => {
                usable("function_graph tracer", &self.caps()?.function_graph_tracer)
            }
            Mechanism::FunctionProfiler => usable("function profiler", &self.caps()?.function_profiler),
            Mechanism::PerfCounters => {
                if self.pmu().hardware_counters.is_usable() || self.pmu().software_counters.is_usable() {
                    Ok(())
                } else {
                    Err("perf counters unavailable".to_owned())
                }
            }
            Mechanism::PerfSampling => {
                if self.pmu().software_counters.is_usable() {
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
                        found = Some(alt.clone());
                        break;
                    }
                    Err(why) => skipped.push(format!("{}: {why}", alt.name)),
                }
            }
            match found {
                Some(alt) => r.chosen.push((need.what, alt, skipped)),
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
