//! Uprobes for perf sampling, defined in an `ftr_PID_N` group of
//! uprobe_events and opened as perf tracepoints.
//!
//! Not through the perf uprobe PMU: its events cannot be inherited.
//! `perf_uprobe_init` (kernel/trace/trace_event_perf.c) copies the probe
//! path from the user pointer in attr.config1 every time an event is
//! initialised, inherited copies included, and for those it runs inside
//! the traced process's clone, where that pointer means nothing: clone
//! fails with EFAULT and the traced program cannot create threads. A
//! tracefs uprobe is a trace event whose perf events inherit like any
//! tracepoint's. The group is removed when ftr ends (and reclaimed by the
//! next ftr after a SIGKILL), after the sampler that uses it is closed.

use anyhow::{Context, Result};
use ftr_pmu::SampleSource;
use ftr_tracefs::{ProbeDef, ProbeGroup, ProbeKind, TracingDir};

/// Defines `event` in `group` at `target` (`PATH:0xOFFSET`, a return probe
/// with `ret`) and returns it as a perf sample source.
pub fn sampled_uprobe(
    tracing: &TracingDir,
    group: &ProbeGroup,
    event: &str,
    target: &str,
    ret: bool,
) -> Result<SampleSource> {
    group
        .add(&ProbeDef {
            kind: ProbeKind::Uprobe,
            ret,
            event: event.to_owned(),
            target: target.to_owned(),
            args: Vec::new(),
        })
        .with_context(|| format!("defining a uprobe on {target}"))?;
    Ok(SampleSource::tracepoint(tracing.root(), group.name(), event)?)
}
