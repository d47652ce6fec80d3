//! Private trace buffers (`instances/ftr-PID-N`), so ftr never touches
//! another user's tracing; the top level only where the kernel has no
//! instances (before 3.10), with every top-level change recorded for undo.

use crate::control::{read_text, write_control, WriteMode};
use crate::error::{Error, Result};
use crate::format::{parse_header_page, Schema};
use crate::guard::{Guard, Undo, INSTANCE_PREFIX};
use crate::locate::TracingDir;
use crate::ring::PageLayout;
use crate::Endian;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(0);

/// A trace buffer with its own events, filters, clock and per-CPU rings.
///
/// Created instances are removed when the value drops (or on signal or
/// panic, through the guard); the top level is never removed, but every
/// setting ftr changed there is written back.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    name: Option<String>,
    guard: Guard,
}

/// Prefix of the instances `ftr start` leaves running on purpose. They are
/// not `ftr-PID-N`, so reclaiming never removes them; `ftr reset` does.
pub const KEPT_PREFIX: &str = "ftr-keep-";

fn kept_dir(tracing: &TracingDir, name: &str) -> Result<PathBuf> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with('.');
    if !ok {
        return Err(Error::UnsafeValue {
            path: tracing.path("instances"),
            value: name.to_owned(),
            why: "an instance name is 1-64 letters, digits, '_', '-' or '.'",
        });
    }
    Ok(tracing.path("instances").join(format!("{KEPT_PREFIX}{name}")))
}

/// The function tracers' filter files of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionFilter {
    /// `set_ftrace_filter`: the only functions traced (and patched).
    Trace,
    /// `set_ftrace_notrace`: functions never traced.
    NoTrace,
    /// `set_graph_function`: function_graph starts its trees only here.
    Graph,
    /// `set_graph_notrace`: function_graph skips these and their callees.
    GraphNoTrace,
}

impl FunctionFilter {
    /// The control file's name.
    pub fn file(self) -> &'static str {
        match self {
            FunctionFilter::Trace => "set_ftrace_filter",
            FunctionFilter::NoTrace => "set_ftrace_notrace",
            FunctionFilter::Graph => "set_graph_function",
            FunctionFilter::GraphNoTrace => "set_graph_notrace",
        }
    }
}

/// The patterns a filter file lists: an unset filter reads as a comment
/// (`#### all functions enabled ####`), commands such as `f:traceoff` are
/// kept as written.
pub fn filter_patterns(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The counters of `per_cpu/cpuN/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// Events in the buffer now.
    pub entries: u64,
    /// Events overwritten (overwrite mode).
    pub overrun: u64,
    /// Events lost because a nested writer overran the commit page.
    pub commit_overrun: u64,
    /// Bytes in the buffer now.
    pub bytes: u64,
    /// Events dropped because the buffer was full (non-overwrite mode).
    pub dropped_events: u64,
    /// Events consumed by readers.
    pub read_events: u64,
}

/// Parses the text of `per_cpu/cpuN/stats`; missing lines read as 0 (old
/// kernels have fewer counters).
pub fn parse_cpu_stats(text: &str) -> CpuStats {
    let mut s = CpuStats::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<u64>() else {
            continue;
        };
        match k.trim() {
            "entries" => s.entries = v,
            "overrun" => s.overrun = v,
            "commit overrun" => s.commit_overrun = v,
            "bytes" => s.bytes = v,
            "dropped events" => s.dropped_events = v,
            "read events" => s.read_events = v,
            _ => {}
        }
    }
    s
}

/// The selected clock in `trace_clock` text: `[local] global counter` -> `local`.
pub fn selected_choice(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

impl Instance {
    /// Creates `instances/ftr-PID-N`. Fails with the kernel's errno:
    /// ENOENT when this kernel has no instances (see
    /// [`Instance::create_or_top_level`]), EPERM when not root.
    pub fn create(tracing: &TracingDir) -> Result<Instance> {
        let n = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{INSTANCE_PREFIX}{}-{n}", std::process::id());
        let dir = tracing.path("instances").join(&name);
        let guard = Guard::new();
        guard.record(Undo::RemoveInstance(dir.clone()));
        if let Err(source) = std::fs::create_dir(&dir) {
            guard.forget(&Undo::RemoveInstance(dir.clone()));
            return Err(Error::CreateInstance { path: dir, source });
        }
        Ok(Instance {
            dir,
            name: Some(name),
            guard,
        })
    }

    /// Creates `instances/ftr-keep-NAME` for `ftr start`: removed on drop
    /// (a failed setup leaves nothing) until [`Instance::keep`] says
    /// otherwise. EEXIST when a kept instance of that name exists.
    pub fn create_kept(tracing: &TracingDir, name: &str) -> Result<Instance> {
        let dir = kept_dir(tracing, name)?;
        let guard = Guard::new();
        guard.record(Undo::RemoveInstance(dir.clone()));
        if let Err(source) = std::fs::create_dir(&dir) {
            guard.forget(&Undo::RemoveInstance(dir.clone()));
            return Err(Error::CreateInstance { path: dir, source });
        }
        Ok(Instance {
            name: Some(format!("{KEPT_PREFIX}{name}")),
            dir,
            guard,
        })
    }

    /// Opens an existing kept instance (never removed on drop; see
    /// [`Instance::remove_kept`]).
    pub fn open_kept(tracing: &TracingDir, name: &str) -> Result<Instance> {
        let dir = kept_dir(tracing, name)?;
        if !dir.is_dir() {
            return Err(Error::NoKeptInstance {
                name: name.to_owned(),
                dir: tracing.path("instances"),
            });
        }
        Ok(Instance {
            name: Some(format!("{KEPT_PREFIX}{name}")),
            dir,
            guard: Guard::new(),
        })
    }

    /// Leaves this instance in place when it drops (`ftr start`).
    pub fn keep(self) {
        self.guard.forget(&Undo::RemoveInstance(self.dir.clone()));
    }

    /// Disables and removes the kept instance NAME.
    pub fn remove_kept(tracing: &TracingDir, name: &str) -> Result<()> {
        let dir = Instance::open_kept(tracing, name)?.dir;
        let guard = Guard::new();
        guard.record(Undo::RemoveInstance(dir));
        guard.undo().map_err(|mut e| e.remove(0))
    }

    /// The names of the kept instances (without the prefix), sorted.
    pub fn kept_names(tracing: &TracingDir) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(tracing.path("instances"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some(e.file_name().to_str()?.strip_prefix(KEPT_PREFIX)?.to_owned()))
            .collect();
        v.sort();
        v
    }

    /// The top-level buffer. Changes made through it are undone on drop.
    pub fn top_level(tracing: &TracingDir) -> Instance {
        Instance {
            dir: tracing.root().to_owned(),
            name: None,
            guard: Guard::new(),
        }
    }

    /// A private instance where the kernel has them, else the top level
    /// together with a sentence saying so (for the tool to print).
    pub fn create_or_top_level(tracing: &TracingDir) -> Result<(Instance, Option<String>)> {
        if !tracing.path("instances").is_dir() {
            let why = format!(
                "this kernel has no {} (added in 3.10): using the top-level buffer",
                tracing.path("instances").display()
            );
            return Ok((Instance::top_level(tracing), Some(why)));
        }
        Ok((Instance::create(tracing)?, None))
    }

    /// The instance's name, `None` for the top level.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether this is the shared top-level buffer.
    pub fn is_top_level(&self) -> bool {
        self.name.is_none()
    }

    /// The instance directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one setting; on the top level, records the old value first.
    fn set(&self, rel: &Path, value: &str, restore: impl FnOnce(&str) -> Option<String>) -> Result<()> {
        let path = self.dir.join(rel);
        if self.is_top_level() {
            let old = read_text(&path)?;
            if let Some(old) = restore(&old) {
                self.guard.record(Undo::Write {
                    path: path.clone(),
                    value: old,
                });
            }
        }
        write_control(&path, value, WriteMode::Replace)
    }

    /// Sets the per-CPU buffer size in KiB.
    pub fn set_buffer_size_kb(&self, kb: u64) -> Result<()> {
        self.set(Path::new("buffer_size_kb"), &kb.to_string(), |old| {
            // Top level shows "7 (expanded: 1408)" before first use.
            old.split_whitespace().next().map(str::to_owned)
        })
    }

    /// Selects the trace clock (`local`, `global`, `mono`, `boot`, ...).
    /// Fails with NotFound-kind [`Error::Write`] when the kernel lacks it.
    pub fn set_clock(&self, clock: &str) -> Result<()> {
        let available = read_text(&self.dir.join("trace_clock"))?;
        let known = available
            .split_whitespace()
            .any(|c| c.trim_matches(|c| c == '[' || c == ']') == clock);
        if !known {
            return Err(Error::Write {
                path: self.dir.join("trace_clock"),
                value: clock.to_owned(),
                detail: format!(" (this kernel offers: {})", available.trim()),
                source: std::io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        self.set(Path::new("trace_clock"), clock, |old| {
            selected_choice(old).map(str::to_owned)
        })
    }

    /// The selected trace clock.
    pub fn clock(&self) -> Result<String> {
        let t = read_text(&self.dir.join("trace_clock"))?;
        Ok(selected_choice(&t).unwrap_or("local").to_owned())
    }

    /// Turns recording on or off for the whole buffer.
    pub fn set_tracing_on(&self, on: bool) -> Result<()> {
        self.set(Path::new("tracing_on"), if on { "1" } else { "0" }, |old| {
            Some(old.trim().to_owned())
        })
    }

    /// Sets `buffer_percent` (5.1+): how full a CPU buffer must be before a
    /// blocked reader or poller is woken. 0 wakes on any data. A kernel
    /// without the file is not an error: it wakes on any data already.
    pub fn set_buffer_percent(&self, pct: u32) -> Result<()> {
        if !self.dir.join("buffer_percent").exists() {
            return Ok(());
        }
        self.set(Path::new("buffer_percent"), &pct.to_string(), |old| {
            Some(old.trim().to_owned())
        })
    }

    /// Selects this buffer's tracer (`function`, `function_graph`, `nop`).
    /// Instances before 6.11 do not offer function_graph (EINVAL): such a
    /// tracer must be set on the top level, where the old one is put back.
    pub fn set_tracer(&self, tracer: &str) -> Result<()> {
        self.set(Path::new("current_tracer"), tracer, |old| {
            Some(old.trim().to_owned())
        })
    }

    /// Replaces one of the function filters with `patterns` (names or globs
    /// such as `vfs_*`, written through one open file so the kernel applies them as
    /// a set). An empty list clears the filter. EINVAL when a pattern
    /// matches no traceable function. On the top level the old list is put
    /// back on drop.
    pub fn set_function_filter(&self, filter: FunctionFilter, patterns: &[&str]) -> Result<()> {
        self.set(Path::new(filter.file()), &patterns.join(" "), |old| {
            Some(filter_patterns(old).join(" "))
        })
    }

    /// Empties the buffer (every CPU) and zeroes its per-CPU statistics,
    /// as opening `trace` with O_TRUNC does.
    pub fn clear(&self) -> Result<()> {
        let path = self.dir.join("trace");
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map(drop)
            .map_err(|source| Error::Write {
                path,
                value: String::new(),
                detail: String::new(),
                source,
            })
    }

    /// Keeps only the events of these pids (`set_event_pid`, 4.4+; empty:
    /// all). NotFound-kind error on kernels without the file.
    pub fn set_event_pids(&self, pids: &[i32]) -> Result<()> {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        self.set(Path::new("set_event_pid"), &list.join(" "), |old| {
            Some(old.split_whitespace().collect::<Vec<_>>().join(" "))
        })
    }

    /// Limits the function tracers to these pids (`set_ftrace_pid`; empty:
    /// all). On the top level the old list (`no pid` when unset) is put
    /// back on drop.
    pub fn set_ftrace_pids(&self, pids: &[i32]) -> Result<()> {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        self.set(Path::new("set_ftrace_pid"), &list.join(" "), |old| {
            Some(
                old.split_whitespace()
                    .filter(|w| w.parse::<i32>().is_ok())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
    }

    /// Sets `max_graph_depth` (0: unlimited) for function_graph.
    pub fn set_max_graph_depth(&self, depth: u32) -> Result<()> {
        self.set(Path::new("max_graph_depth"), &depth.to_string(), |old| {
            Some(old.trim().to_owned())
        })
    }

    /// Limits the function tracers to these pids (`set_ftrace_pid`); an
    /// empty list traces every task again.
    pub fn set_ftrace_pid(&self, pids: &[i32]) -> Result<()> {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        self.set(Path::new("set_ftrace_pid"), &list.join(" "), |old| {
            // An unset list reads "no pid".
            Some(
                filter_patterns(old)
                    .into_iter()
                    .filter(|l| *l != "no pid")
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
    }

    /// Keeps the function tracers away from these pids
    /// (`set_ftrace_notrace_pid`, 5.9+). Returns false, changing nothing,
    /// on a kernel without the file.
    pub fn set_ftrace_notrace_pid(&self, pids: &[i32]) -> Result<bool> {
        if !self.dir.join("set_ftrace_notrace_pid").exists() {
            return Ok(false);
        }
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        self.set(Path::new("set_ftrace_notrace_pid"), &list.join(" "), |old| {
            Some(
                filter_patterns(old)
                    .into_iter()
                    .filter(|l| *l != "no pid")
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        Ok(true)
    }

    /// Turns a tracer option on or off (`options/funcgraph-proc`, ...).
    /// NotFound when this kernel lacks the option.
    pub fn set_option(&self, name: &str, on: bool) -> Result<()> {
        let rel = Path::new("options").join(name);
        if name.contains('/') || !self.dir.join(&rel).exists() {
            return Err(Error::Write {
                path: self.dir.join(&rel),
                value: name.to_owned(),
                detail: " (no such tracer option on this kernel)".into(),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        self.set(&rel, if on { "1" } else { "0" }, |old| {
            Some(old.trim().to_owned())
        })
    }

    fn event_dir(&self, system: &str, name: &str) -> Result<PathBuf> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        let dir = self.dir.join("events").join(system).join(name);
        if !valid(system) || !valid(name) || !dir.is_dir() {
            return Err(Error::NoSuchEvent {
                system: system.to_owned(),
                name: name.to_owned(),
                dir: self.dir.join("events"),
            });
        }
        Ok(dir)
    }

    /// Enables `system:name` in this buffer.
    pub fn enable_event(&self, system: &str, name: &str) -> Result<()> {
        let dir = self.event_dir(system, name)?;
        self.set(&dir.join("enable"), "1", |_| Some("0".to_owned()))
    }

    /// Disables `system:name` in this buffer.
    pub fn disable_event(&self, system: &str, name: &str) -> Result<()> {
        let dir = self.event_dir(system, name)?;
        write_control(&dir.join("enable"), "0", WriteMode::Replace)
    }

    /// Sets the kernel-side filter of `system:name` (`common_pid == 42 &&
    /// prev_state == 0`). When the kernel rejects it (EINVAL), the error
    /// carries the kernel's own explanation read back from the filter file.
    pub fn set_event_filter(&self, system: &str, name: &str, expr: &str) -> Result<()> {
        let path = self.event_dir(system, name)?.join("filter");
        let r = self.set(&path, expr, |_| Some("0".to_owned()));
        match r {
            Err(Error::Write {
                path, value, source, ..
            }) if source.raw_os_error() == Some(libc::EINVAL) => {
                let said = read_text(&path).unwrap_or_default();
                let said: Vec<&str> = said
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && *l != "none")
                    .collect();
                Err(Error::Write {
                    path,
                    value,
                    detail: if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", said.join(" "))
                    },
                    source,
                })
            }
            r => r,
        }
    }

    /// The CPUs that have a `per_cpu/cpuN` directory, ascending.
    pub fn cpus(&self) -> Result<Vec<u32>> {
        let dir = self.dir.join("per_cpu");
        let rd = std::fs::read_dir(&dir).map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
        let mut cpus: Vec<u32> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("cpu")?.parse().ok())
            .collect();
        cpus.sort_unstable();
        Ok(cpus)
    }

    /// Path of `per_cpu/cpuN/trace_pipe_raw`.
    pub fn trace_pipe_raw(&self, cpu: u32) -> PathBuf {
        self.dir.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw"))
    }

    /// Reads `per_cpu/cpuN/stats`.
    pub fn cpu_stats(&self, cpu: u32) -> Result<CpuStats> {
        Ok(parse_cpu_stats(&read_text(
            &self.dir.join(format!("per_cpu/cpu{cpu}/stats")),
        )?))
    }

    /// The sub-buffer layout from this buffer's `events/header_page`
    /// (which reflects `buffer_subbuf_size_kb` on 6.8+), in host order.
    pub fn page_layout(&self) -> Result<PageLayout> {
        let path = self.dir.join("events/header_page");
        let text = read_text(&path)?;
        parse_header_page(&text, Endian::host()).map_err(|source| Error::Format { path, source })
    }

    /// Parses `events/SYSTEM/NAME/format` of this buffer.
    pub fn schema(&self, system: &str, name: &str) -> Result<Schema> {
        let path = self.event_dir(system, name)?.join("format");
        let text = read_text(&path)?;
        Schema::parse(system, &text).map_err(|source| Error::Format { path, source })
    }

    /// Removes the instance now (disabling it first and retrying on EBUSY),
    /// or writes back top-level settings, reporting the first failure.
    pub fn remove(self) -> Result<()> {
        let r = self.guard.undo();
        r.map_err(|mut errors| errors.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_clock() {
        let s = parse_cpu_stats(
            "entries: 5\noverrun: 1\ncommit overrun: 0\nbytes: 320\noldest event ts:   260.9\nnow ts:   261.0\ndropped events: 2\nread events: 9\n",
        );
        assert_eq!(
            s,
            CpuStats {
                entries: 5,
                overrun: 1,
                commit_overrun: 0,
                bytes: 320,
                dropped_events: 2,
                read_events: 9
            }
        );
        assert_eq!(selected_choice("[local] global counter"), Some("local"));
        assert_eq!(selected_choice("local [mono] x"), Some("mono"));
        assert_eq!(selected_choice("local"), None);
        assert_eq!(selected_choice("]["), None);
    }

    #[test]
    fn filter_lists() {
        assert!(filter_patterns("#### all functions enabled ####\n").is_empty());
        assert_eq!(
            filter_patterns("vfs_read\nvfs_write\n\n"),
            ["vfs_read", "vfs_write"]
        );
        assert_eq!(FunctionFilter::Graph.file(), "set_graph_function");
    }
}
