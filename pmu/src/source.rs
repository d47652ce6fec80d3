//! What a sampler samples: a perf event (software clock, hardware,
//! tracepoint, PMU event), or a uprobe / kprobe created through the
//! `uprobe` / `kprobe` PMUs (Linux 4.17+) without touching
//! uprobe_events / kprobe_events, so nothing global is left behind.
//!
//! ```
//! use ftr_pmu::SampleSource;
//! let s = SampleSource::uprobe("/bin/true", 0x1234, false);
//! assert_eq!(s.name(), "uprobe:/bin/true+0x1234");
//! assert_eq!(SampleSource::cpu_clock().name(), "cpu-clock");
//! ```

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::access::read_text;
use crate::error::Error;
use crate::events::{parse_format, EventSpec, TYPE_TRACEPOINT};

/// The tracepoint's id file, relative to a tracing root.
fn tracepoint_id_path(tracing_root: &Path, system: &str, name: &str) -> PathBuf {
    tracing_root.join("events").join(system).join(name).join("id")
}

/// The id of tracepoint `system:name` from `<tracing_root>/events/SYS/NAME/id`.
///
/// Fails with [`Error::UnknownEvent`] when the file does not exist, and
/// [`Error::Read`] / [`Error::Parse`] when it cannot be read or holds no
/// number.
pub fn tracepoint_id(tracing_root: &Path, system: &str, name: &str) -> Result<u64, Error> {
    if system.contains('/') || name.contains('/') || system.starts_with('.') || name.starts_with('.') {
        return Err(Error::UnknownEvent {
            name: format!("{system}:{name}"),
            suggestions: Vec::new(),
        });
    }
    let path = tracepoint_id_path(tracing_root, system, name);
    let text = match read_text(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == crate::ErrorKind::NotFound => {
            return Err(Error::UnknownEvent {
                name: format!("{system}:{name}"),
                suggestions: Vec::new(),
            })
        }
        Err(e) => return Err(e),
    };
    text.trim().parse().map_err(|_| Error::Parse {
        what: "a tracepoint id",
        text: text.trim().to_owned(),
    })
}

/// One event to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleSource {
    /// An event from [`crate::parse_events`] or the constructors here:
    /// software, hardware, tracepoint or a sysfs PMU event.
    Event(EventSpec),
    /// A uprobe on `path` at file offset `offset` (the uprobe PMU's
    /// config1 = path, config2 = offset), or a uretprobe.
    Uprobe {
        /// The binary or library.
        path: PathBuf,
        /// The file offset of the probed instruction.
        offset: u64,
        /// Fire on return instead of entry.
        retprobe: bool,
    },
    /// A kprobe on `function + offset` (the kprobe PMU's config1 =
    /// function name, config2 = offset), or a kretprobe.
    Kprobe {
        /// The kernel function.
        function: String,
        /// Offset into it.
        offset: u64,
        /// Fire on return instead of entry.
        retprobe: bool,
    },
}

/// A probe PMU's `type` and the config bit of its `retprobe` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbePmu {
    pub(crate) type_id: u32,
    pub(crate) retprobe_bit: Option<u32>,
}

/// The attr fields that say what to sample. `keep` owns the strings
/// config1 points to; it must outlive the perf_event_open call.
pub(crate) struct ResolvedSource {
    pub(crate) type_: u32,
    pub(crate) config: u64,
    pub(crate) config1: u64,
    pub(crate) config2: u64,
    /// The event's own `:u`/`:k`/`:h` modifiers and `:p` level.
    pub(crate) exclude: crate::events::Exclude,
    pub(crate) precise: u8,
    // Never read, only held: config1 points into it.
    #[allow(dead_code)]
    pub(crate) keep: Option<CString>,
}

impl SampleSource {
    /// The `cpu-clock` software event: a per-CPU hrtimer, what perf falls
    /// back to without a hardware PMU.
    pub fn cpu_clock() -> SampleSource {
        SampleSource::Event(EventSpec::software("cpu-clock").expect("cpu-clock is a software event"))
    }

    /// The `task-clock` software event: runs only while the task runs.
    pub fn task_clock() -> SampleSource {
        SampleSource::Event(EventSpec::software("task-clock").expect("task-clock is a software event"))
    }

    /// Tracepoint `system:name`, its id read from
    /// `<tracing_root>/events/SYS/NAME/id` (see [`tracepoint_id`]).
    pub fn tracepoint(tracing_root: &Path, system: &str, name: &str) -> Result<SampleSource, Error> {
        let id = tracepoint_id(tracing_root, system, name)?;
        Ok(SampleSource::Event(EventSpec {
            name: format!("{system}:{name}"),
            type_: TYPE_TRACEPOINT,
            config: id,
            config1: 0,
            config2: 0,
            exclude: Default::default(),
            precise: 0,
        }))
    }

    /// A uprobe (or uretprobe) at file offset `offset` of `path`.
    pub fn uprobe(path: impl Into<PathBuf>, offset: u64, retprobe: bool) -> SampleSource {
        SampleSource::Uprobe {
            path: path.into(),
            offset,
            retprobe,
        }
    }

    /// A kprobe (or kretprobe) at `function + offset`.
    pub fn kprobe(function: impl Into<String>, offset: u64, retprobe: bool) -> SampleSource {
        SampleSource::Kprobe {
            function: function.into(),
            offset,
            retprobe,
        }
    }

    /// A name for messages: `cpu-clock`, `sched:sched_switch`,
    /// `uprobe:/lib/libc.so.6+0x9a0b0`, `kretprobe:do_sys_open`.
    pub fn name(&self) -> String {
        match self {
            SampleSource::Event(spec) => spec.name.clone(),
            SampleSource::Uprobe {
                path,
                offset,
                retprobe,
            } => format!(
                "{}:{}+{offset:#x}",
                if *retprobe { "uretprobe" } else { "uprobe" },
                path.display()
            ),
            SampleSource::Kprobe {
                function,
                offset,
                retprobe,
            } => {
                let kind = if *retprobe { "kretprobe" } else { "kprobe" };
                if *offset == 0 {
                    format!("{kind}:{function}")
                } else {
                    format!("{kind}:{function}+{offset:#x}")
                }
            }
        }
    }

    /// Whether samples carry a tracepoint-style RAW record worth asking
    /// for (tracepoints, and the probe PMUs, whose events are trace events).
    pub fn has_raw(&self) -> bool {
        match self {
            SampleSource::Event(spec) => spec.type_ == TYPE_TRACEPOINT,
            _ => true,
        }
    }

    /// The event spec, for events.
    pub fn spec(&self) -> Option<&EventSpec> {
        match self {
            SampleSource::Event(spec) => Some(spec),
            _ => None,
        }
    }

    /// Turns the source into attr fields, reading the probe PMUs' type and
    /// retprobe bit under `pmu_root` (/sys/bus/event_source/devices).
    pub(crate) fn resolve(&self, pmu_root: &Path) -> Result<ResolvedSource, Error> {
        let (pmu_name, text, offset, retprobe) = match self {
            SampleSource::Event(spec) => {
                return Ok(ResolvedSource {
                    type_: spec.type_,
                    config: spec.config,
                    config1: spec.config1,
                    config2: spec.config2,
                    exclude: spec.exclude,
                    precise: spec.precise,
                    keep: None,
                })
            }
            SampleSource::Uprobe {
                path,
                offset,
                retprobe,
            } => {
                use std::os::unix::ffi::OsStrExt;
                ("uprobe", path.as_os_str().as_bytes().to_vec(), *offset, *retprobe)
            }
            SampleSource::Kprobe {
                function,
                offset,
                retprobe,
            } => ("kprobe", function.as_bytes().to_vec(), *offset, *retprobe),
        };
        let pmu = read_probe_pmu(pmu_root, pmu_name).map_err(|e| match e {
            Error::Open { hint, source, .. } => Error::Open {
                event: self.name(),
                target: "this kernel".into(),
                hint,
                source,
            },
            other => other,
        })?;
        let text = CString::new(text).map_err(|_| Error::BadEventSyntax {
            text: self.name(),
            why: "a NUL byte in the path or function name".into(),
        })?;
        let mut config = 0;
        if retprobe {
            match pmu.retprobe_bit {
                Some(bit) => config |= 1 << bit,
                None => {
                    return Err(Error::BadEventSyntax {
                        text: self.name(),
                        why: format!(
                            "the {pmu_name} PMU has no format/retprobe under {}",
                            pmu_root.join(pmu_name).display()
                        ),
                    })
                }
            }
        }
        Ok(ResolvedSource {
            type_: pmu.type_id,
            config,
            config1: text.as_ptr() as u64,
            config2: offset,
            exclude: Default::default(),
            precise: 0,
            keep: Some(text),
        })
    }
}

/// Reads `<root>/<name>/type` and `<root>/<name>/format/retprobe`.
pub(crate) fn read_probe_pmu(pmu_root: &Path, name: &str) -> Result<ProbePmu, Error> {
    let dir = pmu_root.join(name);
    let type_path = dir.join("type");
    let type_id = match read_text(&type_path) {
        Ok(t) => t.trim().parse().map_err(|_| Error::Parse {
            what: "a PMU type",
            text: t.trim().to_owned(),
        })?,
        Err(e) if e.kind() == crate::ErrorKind::NotFound => {
            return Err(Error::Open {
                event: name.to_owned(),
                target: "this kernel".into(),
                hint: format!(
                    "{} absent: the {name} PMU needs Linux 4.17+ built with CONFIG_{}_EVENTS",
                    type_path.display(),
                    name.to_uppercase()
                ),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            })
        }
        Err(e) => return Err(e),
    };
    let retprobe_bit = read_text(&dir.join("format/retprobe"))
        .ok()
        .and_then(|t| parse_format(&t))
        .and_then(|(word, ranges)| (word == 0).then(|| ranges.first().map(|r| r.0)).flatten());
    Ok(ProbePmu {
        type_id,
        retprobe_bit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fields_of_probe_sources() {
        let root = std::env::temp_dir().join(format!("ftr-pmu-source-{}", std::process::id()));
        std::fs::create_dir_all(root.join("uprobe/format")).unwrap();
        std::fs::write(root.join("uprobe/type"), "8\n").unwrap();
        std::fs::write(root.join("uprobe/format/retprobe"), "config:0\n").unwrap();
        let r = SampleSource::uprobe("/bin/true", 0x10, true)
            .resolve(&root)
            .unwrap();
        assert_eq!((r.type_, r.config, r.config2), (8, 1, 0x10));
        assert_eq!(r.keep.as_ref().unwrap().as_bytes(), b"/bin/true");
        assert_eq!(r.config1, r.keep.as_ref().unwrap().as_ptr() as u64);
        let err = SampleSource::kprobe("vfs_read", 0, false)
            .resolve(&root)
            .err()
            .unwrap();
        assert!(err.to_string().contains("kprobe PMU needs Linux 4.17+"), "{err}");
        assert!(
            err.to_string()
                .starts_with("could not open event kprobe:vfs_read"),
            "{err}"
        );
        assert_eq!(
            SampleSource::kprobe("vfs_read", 0, true).name(),
            "kretprobe:vfs_read"
        );
        std::fs::write(root.join("tp_id"), "").unwrap();
        std::fs::create_dir_all(root.join("events/sched/sched_switch")).unwrap();
        std::fs::write(root.join("events/sched/sched_switch/id"), "316\n").unwrap();
        assert_eq!(tracepoint_id(&root, "sched", "sched_switch").unwrap(), 316);
        assert!(matches!(
            tracepoint_id(&root, "sched", "nope"),
            Err(Error::UnknownEvent { .. })
        ));
        assert!(tracepoint_id(&root, "..", "x").is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
