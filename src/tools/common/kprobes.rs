//! What kprobe users share: proving the kernel has `kprobe_events`,
//! checking a definition against this kernel's README and symbol table,
//! and defining it in a private probe group (removed on exit by its guard).

use crate::pipeline::plan::{KernelEnv, Mechanism, ProbePlan};
use anyhow::{anyhow, bail, Result};
use ftr_tracefs::{KprobeFeatures, KprobeSpec, KprobeTargets, ProbeGroup, TracingDir};

/// This kernel's kprobe syntax and probeable functions.
pub struct KprobeEnv {
    /// What the README says `kprobe_events` accepts.
    pub features: KprobeFeatures,
    /// Functions that can take a probe.
    pub targets: KprobeTargets,
}

impl KprobeEnv {
    /// Fails with one line when the kernel has no usable `kprobe_events`
    /// (`what` says what the probe was for); else loads the README and the
    /// symbol tables.
    pub fn load(t: &TracingDir, what: &str) -> Result<KprobeEnv> {
        let file = t.path("kprobe_events");
        if !file.exists() {
            bail!(
                "this kernel has no {} (CONFIG_KPROBE_EVENTS off): cannot {what}",
                file.display()
            );
        }
        let readme = std::fs::read_to_string(t.path("README")).unwrap_or_default();
        Ok(KprobeEnv {
            features: KprobeFeatures::from_readme(&readme),
            targets: KprobeTargets::for_running_kernel(t.root()),
        })
    }

    /// Checks `spec` against this kernel before anything is written.
    pub fn check(&self, spec: &KprobeSpec) -> Result<()> {
        spec.check(&self.features).map_err(|e| anyhow!("{e}"))?;
        self.targets.check(&spec.symbol).map_err(|e| anyhow!("{e}"))
    }

    /// Defines `spec` in `group`, returning its event name; the kernel's
    /// own reason (error_log) is part of the error.
    pub fn define(&self, group: &ProbeGroup, spec: &KprobeSpec) -> Result<String> {
        self.check(spec)?;
        group.add_kprobe(spec).map_err(|e| {
            anyhow!(
                "defining the kprobe on {}: {}",
                spec.target(),
                ftr_tracefs::error_chain(&e)
            )
        })
    }
}

/// Why a plan could not be met, with the evidence behind each refusal
/// (the capability trial's own words): one line naming every mechanism
/// tried.
pub fn explain_unmet(env: &KernelEnv, plan: &ProbePlan) -> Option<String> {
    let res = plan.resolve(env);
    res.error()?;
    let mut parts = Vec::new();
    for need in &plan.needs {
        for alt in &need.alternatives {
            for m in &alt.uses {
                if let Err(why) = env.check(m) {
                    let evidence = env.caps().ok().and_then(|c| {
                        let s = match m {
                            Mechanism::FunctionProfiler => &c.function_profiler,
                            Mechanism::FunctionTracer if !c.function_tracer.is_usable() => &c.function_tracer,
                            Mechanism::FunctionTracer => &c.ftrace_filter,
                            Mechanism::FunctionGraphTracer => &c.function_graph_tracer,
                            Mechanism::Kprobe(_) if !c.kprobe_events.is_usable() => &c.kprobe_events,
                            _ => return None,
                        };
                        Some(s.detail().to_owned())
                    });
                    parts.push(match evidence {
                        Some(e) => format!("{}: {why} ({e})", alt.name),
                        None => format!("{}: {why}", alt.name),
                    });
                    break;
                }
            }
        }
    }
    Some(format!("tried {}", parts.join("; ")))
}
