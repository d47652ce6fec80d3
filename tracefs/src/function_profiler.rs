//! The function profiler (CONFIG_FUNCTION_PROFILER): per-CPU hit counts of
//! the functions in the top-level `set_ftrace_filter`, kept in the kernel
//! and read from `trace_stat/functionN` (perf-tools funccount's method).
//! It is global: there is one per kernel, driven from the top level.

use crate::control::{read_text, write_control, WriteMode};
use crate::error::Result;
use crate::guard::{Guard, Undo};
use crate::instance::{filter_patterns, FunctionFilter, Instance};
use crate::locate::TracingDir;
use std::collections::HashMap;
use std::path::PathBuf;

/// Parses one `trace_stat/functionN` file into (function, hits). The
/// header (`  Function  Hit  Time  Avg  s^2`) and its dashes are skipped,
/// as is anything whose second column is not a count.
pub fn parse_function_stat(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_ascii_whitespace();
            let name = w.next()?;
            let hits = w.next()?.parse().ok()?;
            Some((name.to_owned(), hits))
        })
        .collect()
}

/// A running profile. Dropping it turns the profiler off and puts the
/// top-level filter back.
#[derive(Debug)]
pub struct FunctionProfiler {
    // Field order: the profiler goes off before the filter is widened.
    enabled: Guard,
    top: Instance,
    stat_dir: PathBuf,
}

impl FunctionProfiler {
    /// Limits the top-level filter to `patterns` and turns the profiler
    /// on. Refuses (Busy) when the top level is in use: another tracer
    /// selected, or a filter someone else set.
    pub fn start(tracing: &TracingDir, patterns: &[&str]) -> Result<FunctionProfiler> {
        let tracer = read_text(&tracing.path("current_tracer"))?;
        let filter = read_text(&tracing.path("set_ftrace_filter"))?;
        if tracer.trim() != "nop" || !filter_patterns(&filter).is_empty() {
            return Err(crate::Error::Write {
                path: tracing.path("function_profile_enabled"),
                value: "1".into(),
                detail: format!(
                    " (the top level is in use: current_tracer {}, set_ftrace_filter {})",
                    tracer.trim(),
                    if filter_patterns(&filter).is_empty() {
                        "unset"
                    } else {
                        "set"
                    }
                ),
                source: std::io::Error::from_raw_os_error(libc::EBUSY),
            });
        }
        let top = Instance::top_level(tracing);
        top.set_function_filter(FunctionFilter::Trace, patterns)?;
        let enabled = Guard::new();
        let path = tracing.path("function_profile_enabled");
        enabled.record(Undo::Write {
            path: path.clone(),
            value: "0".into(),
        });
        write_control(&path, "1", WriteMode::Replace)?;
        Ok(FunctionProfiler {
            enabled,
            top,
            stat_dir: tracing.path("trace_stat"),
        })
    }

    /// Hits per function since the profiler started, summed over CPUs.
    pub fn read(&self) -> Result<HashMap<String, u64>> {
        let mut total = HashMap::new();
        let dir = std::fs::read_dir(&self.stat_dir).map_err(|source| crate::Error::Read {
            path: self.stat_dir.clone(),
            source,
        })?;
        for e in dir.flatten() {
            if !e.file_name().to_string_lossy().starts_with("function") {
                continue;
            }
            for (name, hits) in parse_function_stat(&read_text(&e.path())?) {
                *total.entry(name).or_insert(0) += hits;
            }
        }
        Ok(total)
    }

    /// Turns the profiler off and restores the filter, reporting failures.
    pub fn stop(self) -> Result<()> {
        let FunctionProfiler { enabled, top, .. } = self;
        enabled.undo().map_err(|mut e| e.remove(0))?;
        top.remove()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_trace_stat() {
        let text = "  Function                               Hit    Time            Avg             s^2\n  \
--------                               ---    ----            ---             ---\n  \
vfs_read                               1342    1029.493 us     0.767 us        1.203 us    \n  \
vfs_write                              12\n";
        assert_eq!(
            parse_function_stat(text),
            vec![("vfs_read".to_owned(), 1342), ("vfs_write".to_owned(), 12)]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".*") {
            let _ = parse_function_stat(&s);
        }
    }
}
