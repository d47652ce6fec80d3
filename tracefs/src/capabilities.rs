//! What this kernel's tracefs offers, found by looking at files and by
//! trial writes in a scratch instance, never by kernel version: a tracer
//! can be listed in `available_tracers` and still be refused (lockdown
//! patches answer EPERM), and distributions backport features freely.

use crate::control::{can_open_for_append, read_text, write_control, WriteMode};
use crate::error::ErrorKind;
use crate::guard::{Guard, Undo};
use crate::instance::Instance;
use crate::locate::{Located, TracingDir};
use crate::probes::{ProbeDef, ProbeGroup, ProbeKind};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Whether one feature can be used here, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Works; the detail says how it was proven.
    Usable(String),
    /// Not present in this kernel (which file is absent).
    Missing(String),
    /// Present but the kernel or the file mode refuses it (errno and why).
    Refused(String),
}

impl Support {
    /// Whether the feature can be used.
    pub fn is_usable(&self) -> bool {
        matches!(self, Support::Usable(_))
    }

    /// The evidence text.
    pub fn detail(&self) -> &str {
        match self {
            Support::Usable(s) | Support::Missing(s) | Support::Refused(s) => s,
        }
    }

    /// One word for tables: `yes`, `missing`, `refused`.
    pub fn word(&self) -> &'static str {
        match self {
            Support::Usable(_) => "yes",
            Support::Missing(_) => "missing",
            Support::Refused(_) => "refused",
        }
    }
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.word(), self.detail())
    }
}

/// Everything ftr needs to know about this kernel's tracefs.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// The tracing directory probed.
    pub root: PathBuf,
    /// How it was found.
    pub located: Located,
    /// Number of events in `available_events`.
    pub events: usize,
    /// Private buffers under `instances/`.
    pub instances: Support,
    /// `snapshot` (CONFIG_TRACER_SNAPSHOT).
    pub snapshot: Support,
    /// `kprobe_events`, proven by defining and deleting a probe.
    pub kprobe_events: Support,
    /// `uprobe_events`, proven by defining and deleting a probe.
    pub uprobe_events: Support,
    /// The `function` tracer, proven by selecting it in a scratch instance.
    pub function_tracer: Support,
    /// The `function_graph` tracer, likewise.
    pub function_graph_tracer: Support,
    /// `set_ftrace_filter` opens for writing.
    pub ftrace_filter: Support,
    /// `function_profile_enabled` + `trace_stat/` (CONFIG_FUNCTION_PROFILER).
    pub function_profiler: Support,
    /// `dynamic_events` (4.20+).
    pub dynamic_events: Support,
    /// `error_log` (5.2+).
    pub error_log: Support,
    /// `buffer_subbuf_size_kb` (6.8+).
    pub subbuf_size: Support,
    /// The lockdown mode from securityfs, when it is mounted.
    pub lockdown: Option<String>,
}

fn exists(root: &Path, rel: &str, missing: &str) -> Support {
    if root.join(rel).exists() {
        Support::Usable(format!("{rel} present"))
    } else {
        Support::Missing(format!("no {rel}{missing}"))
    }
}

fn refusal(what: &str, e: &crate::Error) -> Support {
    let text = crate::error_chain(e);
    match e.kind() {
        ErrorKind::PermissionDenied => Support::Refused(format!("{what}: {text} (lockdown or not root)")),
        ErrorKind::NotFound | ErrorKind::Unsupported => Support::Missing(format!("{what}: {text}")),
        _ => Support::Refused(format!("{what}: {text}")),
    }
}

fn io_refusal(what: &str, e: &io::Error) -> Support {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Support::Missing(format!("{what}: {e}")),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            Support::Refused(format!("{what}: {e} (lockdown or not root)"))
        }
        _ => Support::Refused(format!("{what}: {e}")),
    }
}

/// The selected tracer must be written as a trial: lockdown kernels list
/// `function` yet refuse it. The trial runs in a scratch instance (4.x+
/// instances have their own current_tracer), else at the top level only when
/// it is idle (`nop`), and the old tracer is put back either way.
fn probe_tracer(tracing: &TracingDir, scratch: Option<&Instance>, tracer: &str) -> Support {
    let listed = read_text(&tracing.path("available_tracers")).unwrap_or_default();
    if !listed.split_whitespace().any(|t| t == tracer) {
        return Support::Missing(format!(
            "{tracer} is not in available_tracers ({})",
            listed.trim()
        ));
    }
    // An instance lists only the tracers it allows (function_graph joined
    // them in 6.11; before, instances answer EINVAL and only the top level
    // takes it).
    let in_instance = |i: &&Instance| {
        i.dir().join("current_tracer").exists()
            && read_text(&i.dir().join("available_tracers"))
                .map(|t| t.split_whitespace().any(|t| t == tracer))
                .unwrap_or(true)
    };
    let (file, place) = match scratch {
        Some(i) if in_instance(&i) => (i.dir().join("current_tracer"), "a scratch instance"),
        _ => {
            let top = tracing.path("current_tracer");
            let place = if scratch.is_some() {
                "the top level (instances do not offer it on this kernel)"
            } else {
                "the top level"
            };
            if read_text(&top).map(|t| t.trim() != "nop").unwrap_or(true) {
                return Support::Refused(format!(
                    "{tracer} is listed but only {place} could take it, and it is busy, so it was not tried"
                ));
            }
            (top, place)
        }
    };
    // A signal or a panic between the two writes must still put `nop`
    // back (at the top level it is everyone's tracer). Undos run newest
    // first: the tracer goes back to nop before the filter is widened again.
    let guard = Guard::new();
    let narrowed = file
        .parent()
        .and_then(|dir| narrow_filter(&dir.join("set_ftrace_filter"), &guard));
    guard.record(Undo::Write {
        path: file.clone(),
        value: "nop".into(),
    });
    match write_control(&file, tracer, WriteMode::Replace) {
        Ok(()) => {
            drop(guard);
            let only = narrowed
                .map(|f| format!(" (filtered to {f})"))
                .unwrap_or_default();
            Support::Usable(format!("selected {tracer} in {place}{only}"))
        }
        Err(e) => refusal(&format!("writing {tracer} to current_tracer in {place}"), &e),
    }
}

/// Rarely called functions, one of which every kernel since 2.6 has.
const TRIAL_FUNCTIONS: [&str; 4] = ["ksys_sync", "sys_sync", "vfs_fsync", "do_fsync"];

/// Narrows an unfiltered `set_ftrace_filter` to one rarely called function
/// for the trial, so that selecting the tracer patches one call site instead
/// of every function in the kernel (tens of thousands of text pokes: ~5 s
/// each way under QEMU's software emulation, long enough for soft-lockup
/// warnings). A filter someone already set is left alone, and so is a file
/// that cannot be written (the trial then patches everything). Returns the
/// function chosen.
fn narrow_filter(filter: &Path, guard: &Guard) -> Option<&'static str> {
    let current = read_text(filter).ok()?;
    if !crate::instance::filter_patterns(&current).is_empty() {
        return None;
    }
    can_open_for_append(filter).ok()?;
    guard.record(Undo::Write {
        path: filter.to_owned(),
        value: String::new(),
    });
    for f in TRIAL_FUNCTIONS {
        if write_control(filter, f, WriteMode::Replace).is_ok() {
            return Some(f);
        }
    }
    guard.forget(&Undo::Write {
        path: filter.to_owned(),
        value: String::new(),
    });
    None
}

/// Proves a dynamic-event file by defining one probe and deleting it.
fn probe_dynamic(tracing: &TracingDir, kind: ProbeKind) -> Support {
    let file = kind.events_file();
    let path = tracing.path(file);
    if !path.exists() {
        let why = match kind {
            ProbeKind::Kprobe => " (CONFIG_KPROBE_EVENTS off)",
            ProbeKind::Uprobe => " (CONFIG_UPROBE_EVENTS off)",
        };
        return Support::Missing(format!("no {}{why}", path.display()));
    }
    if let Err(e) = can_open_for_append(&path) {
        return io_refusal(&format!("opening {file}"), &e);
    }
    let targets: Vec<String> = match kind {
        // Symbols present on every kernel since 2.6; the first that exists wins.
        ProbeKind::Kprobe => ["vfs_read", "ksys_read", "sys_read", "do_sys_open"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        // Offset 0 of our own binary: a uprobe is only inserted once enabled,
        // and this one never is.
        ProbeKind::Uprobe => match std::fs::canonicalize("/proc/self/exe") {
            Ok(p) if !p.to_string_lossy().contains(char::is_whitespace) => {
                vec![format!("{}:0x0", p.display())]
            }
            _ => vec!["/bin/sh:0x0".into()],
        },
    };
    let group = ProbeGroup::new(tracing);
    let mut last = None;
    for target in targets {
        let def = ProbeDef {
            kind,
            ret: false,
            event: "ftr_trial".into(),
            target: target.clone(),
            args: vec![],
        };
        match group.add(&def) {
            Ok(()) => {
                return match group.remove() {
                    Ok(()) => Support::Usable(format!("defined and deleted a probe on {target}")),
                    Err(e) => refusal(&format!("deleting the trial probe on {target}"), &e),
                };
            }
            Err(e) => last = Some((target, e)),
        }
    }
    match last {
        Some((target, e)) => refusal(&format!("defining a probe on {target}"), &e),
        None => Support::Missing(format!("no target to try for {file}")),
    }
}

impl Capabilities {
    /// Probes the kernel behind `tracing`. Trial writes happen in a scratch
    /// instance that is removed before this returns; nothing is left behind.
    pub fn probe(tracing: &TracingDir) -> Capabilities {
        let root = tracing.root().to_owned();
        let events = read_text(&tracing.path("available_events"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let (instances, scratch) = if !tracing.path("instances").is_dir() {
            (
                Support::Missing("no instances/ directory (added in 3.10)".into()),
                None,
            )
        } else {
            match Instance::create(tracing) {
                Ok(i) => (
                    Support::Usable("created and removed a scratch instance".into()),
                    Some(i),
                ),
                Err(e) => (refusal("creating an instance", &e), None),
            }
        };
        let function_tracer = probe_tracer(tracing, scratch.as_ref(), "function");
        let function_graph_tracer = probe_tracer(tracing, scratch.as_ref(), "function_graph");
        let ftrace_filter = match can_open_for_append(&tracing.path("set_ftrace_filter")) {
            Ok(()) => Support::Usable("set_ftrace_filter opens for writing".into()),
            Err(e) => io_refusal("opening set_ftrace_filter", &e),
        };
        let function_profiler = if !tracing.path("function_profile_enabled").exists() {
            Support::Missing("no function_profile_enabled (CONFIG_FUNCTION_PROFILER off)".into())
        } else {
            match can_open_for_append(&tracing.path("function_profile_enabled")) {
                Ok(()) if tracing.path("trace_stat").is_dir() => {
                    Support::Usable("function_profile_enabled opens for writing".into())
                }
                Ok(()) => Support::Missing("no trace_stat/ directory".into()),
                Err(e) => io_refusal("opening function_profile_enabled", &e),
            }
        };
        let caps = Capabilities {
            events,
            instances,
            snapshot: exists(&root, "snapshot", " (CONFIG_TRACER_SNAPSHOT off)"),
            kprobe_events: probe_dynamic(tracing, ProbeKind::Kprobe),
            uprobe_events: probe_dynamic(tracing, ProbeKind::Uprobe),
            function_tracer,
            function_graph_tracer,
            ftrace_filter,
            function_profiler,
            dynamic_events: exists(&root, "dynamic_events", " (before 4.20)"),
            error_log: exists(&root, "error_log", " (before 5.2)"),
            subbuf_size: exists(
                &root,
                "buffer_subbuf_size_kb",
                " (before 6.8: sub-buffers are one page)",
            ),
            lockdown: std::fs::read_to_string("/sys/kernel/security/lockdown")
                .ok()
                .and_then(|t| crate::instance::selected_choice(&t).map(str::to_owned)),
            root,
            located: tracing.located().clone(),
        };
        if let Some(i) = scratch {
            if let Err(e) = i.remove() {
                eprintln!("ftr: {}", crate::error_chain(&e));
            }
        }
        caps
    }

    /// Every feature as (name, support), in a stable order for reports.
    pub fn features(&self) -> Vec<(&'static str, &Support)> {
        vec![
            ("instances", &self.instances),
            ("uprobe_events", &self.uprobe_events),
            ("kprobe_events", &self.kprobe_events),
            ("function tracer", &self.function_tracer),
            ("function_graph tracer", &self.function_graph_tracer),
            ("set_ftrace_filter", &self.ftrace_filter),
            ("function profiler", &self.function_profiler),
            ("snapshot", &self.snapshot),
            ("dynamic_events", &self.dynamic_events),
            ("error_log", &self.error_log),
            ("buffer_subbuf_size_kb", &self.subbuf_size),
        ]
    }
}
