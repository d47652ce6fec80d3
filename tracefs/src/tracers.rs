//! The function tracers (`function`, `function_graph`) in a buffer: where
//! they can run, and setting them up filters first.
//!
//! Selecting either tracer without a `set_ftrace_filter` patches every
//! traceable kernel function (tens of thousands of call sites; seconds
//! under emulation), so [`TracerSetup::apply`] always writes the filters
//! before `current_tracer`.
//!
//! Instances before 6.11 offer only `function` and `nop` (their
//! `available_tracers`; writing function_graph answers EINVAL), so for
//! function_graph on such kernels the buffer is the top level, and only
//! when it is idle: its `current_tracer` is `nop` and no event is enabled
//! there. Every top-level change goes through the instance's undo log.

use crate::control::read_text;
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{FunctionFilter, Instance};
use crate::locate::TracingDir;

/// The function tracers ftr sets up.
pub const FUNCTION_TRACERS: [&str; 2] = ["function", "function_graph"];

/// What to trace with a function tracer.
#[derive(Debug, Clone, Default)]
pub struct TracerSetup {
    /// `function` or `function_graph`.
    pub tracer: String,
    /// `set_ftrace_filter`: the only functions traced.
    pub filter: Vec<String>,
    /// `set_ftrace_notrace`: functions never traced.
    pub notrace: Vec<String>,
    /// `set_graph_function`: function_graph trees start only here.
    pub graph: Vec<String>,
    /// `max_graph_depth` (function_graph only; 0 is unlimited).
    pub max_graph_depth: Option<u32>,
    /// `set_ftrace_pid`: only these tasks are traced.
    pub pids: Vec<i32>,
}

fn unavailable(tracer: &str, why: String, kind: ErrorKind) -> Error {
    Error::TracerUnavailable {
        tracer: tracer.to_owned(),
        why,
        kind,
    }
}

fn lists(text: &str, tracer: &str) -> bool {
    text.split_whitespace().any(|t| t == tracer)
}

/// A buffer that can take `tracer`: a new private instance when this
/// kernel's instances offer it, else the top level if nobody uses it,
/// with a sentence saying so. Fails with [`Error::TracerUnavailable`] when
/// the kernel lacks the tracer or the top level is busy.
pub fn buffer_for_tracer(tracing: &TracingDir, tracer: &str) -> Result<(Instance, Option<String>)> {
    if !FUNCTION_TRACERS.contains(&tracer) {
        return Err(unavailable(
            tracer,
            format!("ftr records with {} only", FUNCTION_TRACERS.join(" or ")),
            ErrorKind::InvalidInput,
        ));
    }
    let top_list = tracing.path("available_tracers");
    let listed = read_text(&top_list)?;
    if !lists(&listed, tracer) {
        return Err(unavailable(
            tracer,
            format!(
                "not in {} ({}): this kernel was built without it",
                top_list.display(),
                listed.trim()
            ),
            ErrorKind::Unsupported,
        ));
    }
    if tracing.path("instances").is_dir() {
        let i = Instance::create(tracing)?;
        let offered = i.dir().join("current_tracer").exists()
            && read_text(&i.dir().join("available_tracers"))
                .map(|t| lists(&t, tracer))
                .unwrap_or(true);
        if offered {
            return Ok((i, None));
        }
        let theirs = read_text(&i.dir().join("available_tracers")).unwrap_or_default();
        i.remove()?;
        let why = format!(
            "instances offer only `{}` here (function_graph joined them in 6.11): using the top-level buffer",
            theirs.trim()
        );
        return top_level_if_idle(tracing, tracer, why);
    }
    top_level_if_idle(
        tracing,
        tracer,
        "this kernel has no instances: using the top-level buffer".into(),
    )
}

fn top_level_if_idle(tracing: &TracingDir, tracer: &str, why: String) -> Result<(Instance, Option<String>)> {
    let current = read_text(&tracing.path("current_tracer"))?;
    if current.trim() != "nop" {
        return Err(unavailable(
            tracer,
            format!(
                "only the top-level buffer can take it here, and its current_tracer is {} (someone is tracing; not touched)",
                current.trim()
            ),
            ErrorKind::Busy,
        ));
    }
    let enabled = read_text(&tracing.path("events/enable")).unwrap_or_else(|_| "0".into());
    if enabled.trim() != "0" {
        return Err(unavailable(
            tracer,
            format!(
                "only the top-level buffer can take it here, and events are enabled there ({} reads {}; not touched)",
                tracing.path("events/enable").display(),
                enabled.trim()
            ),
            ErrorKind::Busy,
        ));
    }
    Ok((Instance::top_level(tracing), Some(why)))
}

impl TracerSetup {
    /// Stops recording in `buffer`, writes the filters and pids, then
    /// selects the tracer and empties the buffer; recording stays off
    /// until the caller turns it on. Every change is undone when `buffer`
    /// is removed (on the top level: written back, tracer first).
    pub fn apply(&self, buffer: &Instance) -> Result<()> {
        buffer.set_tracing_on(false)?;
        for (filter, patterns) in [
            (FunctionFilter::Trace, &self.filter),
            (FunctionFilter::NoTrace, &self.notrace),
            (FunctionFilter::Graph, &self.graph),
        ] {
            if !patterns.is_empty() {
                let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
                buffer.set_function_filter(filter, &patterns)?;
            }
        }
        if let Some(d) = self.max_graph_depth {
            buffer.set_max_graph_depth(d)?;
        }
        if !self.pids.is_empty() {
            buffer.set_ftrace_pids(&self.pids)?;
        }
        buffer.set_tracer(&self.tracer)?;
        buffer.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracer_lists() {
        assert!(lists("blk function nop\n", "function"));
        assert!(!lists("blk function nop\n", "function_graph"));
        assert!(!lists("", "nop"));
    }
}
