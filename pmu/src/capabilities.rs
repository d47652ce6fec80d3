//! What the running kernel lets ftr do through perf_event_open(2) and bpf(2).
//!
//! [`PmuCapabilities::probe`] makes real trial calls: it opens (and at once
//! closes) one event of each kind ftr uses and loads one trivial BPF program.
//! Each answer is a [`Probe`]: usable, missing (the kernel lacks it) or
//! refused (it is there, but a setting or privilege forbids it), with words
//! that name the file or the sysctl involved, so a tool can pick a fallback
//! and tell the user what to change.
//!
//! ```
//! use ftr_pmu::{PmuCapabilities, Probe};
//!
//! let caps = PmuCapabilities::probe();
//! match &caps.tracepoint_events {
//!     Probe::Usable(how) => println!("tracepoints via perf: {how}"),
//!     Probe::Missing(why) | Probe::Refused(why) => println!("no perf tracepoints: {why}"),
//! }
//! ```
//!
//! The parsing is pure (see [`parse_paranoid`](crate::parse_paranoid)) and every root can be moved
//! with [`PmuCapabilities::probe_at`], for tests and captured snapshots.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use crate::access::{
    classify_bpf_error, classify_perf_error, errno_text, read_text, Access, MAX_PARANOID_RAW_TRACEPOINT,
    MAX_PARANOID_USER_TASK,
};
use crate::error::Error;
use crate::sys;

/// One directory per PMU, each with a `type` file, relative to the sys root.
const EVENT_SOURCE_DEVICES: &str = "bus/event_source/devices";
/// The kernel's BTF, relative to the sys root.
const BTF_VMLINUX: &str = "kernel/btf/vmlinux";
/// The online CPU list, relative to the sys root.
const CPU_ONLINE: &str = "devices/system/cpu/online";
/// The tracepoint the trial open uses, relative to a tracing root.
const SCHED_SWITCH_ID: &str = "events/sched/sched_switch/id";
/// Where tracefs lives: its own mount (4.1+), then the debugfs path that is
/// the only one on older kernels such as RHEL7's 3.10.
const TRACING_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The answer to "can ftr use this here?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// It works; the text says how (e.g. "type 8").
    Usable(String),
    /// This kernel lacks it; the text says which file or syscall is absent.
    Missing(String),
    /// It exists but was refused; the text gives the errno and the setting
    /// or privilege that limits it, e.g. "EACCES (Permission denied):
    /// kernel.perf_event_paranoid=3 and no CAP_PERFMON; set
    /// kernel.perf_event_paranoid<=2 or run as root".
    Refused(String),
}

impl Probe {
    /// Whether the feature can be used.
    pub fn is_usable(&self) -> bool {
        matches!(self, Probe::Usable(_))
    }

    /// The detail text, whichever the outcome.
    pub fn detail(&self) -> &str {
        match self {
            Probe::Usable(s) | Probe::Missing(s) | Probe::Refused(s) => s,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Usable(s) => write!(f, "usable ({s})"),
            Probe::Missing(s) => write!(f, "missing: {s}"),
            Probe::Refused(s) => write!(f, "refused: {s}"),
        }
    }
}

/// One PMU registered with perf, from
/// `/sys/bus/event_source/devices/<name>/type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PmuInfo {
    /// The directory name: `cpu`, `software`, `tracepoint`, `uprobe`, ...
    pub name: String,
    /// The value for `perf_event_attr.type`.
    pub type_id: u32,
}

/// What perf_event_open(2) and bpf(2) offer on one kernel, for one process.
///
/// The trial calls run with the caller's privileges, so the same kernel can
/// answer differently for root and for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmuCapabilities {
    /// `kernel.perf_event_paranoid`, or `None` when unreadable (no
    /// CONFIG_PERF_EVENTS, or /proc not mounted).
    pub paranoid: Option<i32>,
    /// Counting `instructions:u` of the current task (hardware PMU).
    pub hardware_counters: Probe,
    /// Counting `task-clock:u` of the current task (software events).
    pub software_counters: Probe,
    /// CPU-wide raw samples of the tracepoint `sched:sched_switch`, as the
    /// tracing tools use them.
    pub tracepoint_events: Probe,
    /// The kprobe PMU (4.17+): perf-created kprobes without kprobe_events.
    pub kprobe_pmu: Probe,
    /// The uprobe PMU (4.17+): perf-created uprobes without uprobe_events.
    pub uprobe_pmu: Probe,
    /// Loading a trivial BPF socket-filter program.
    pub bpf_prog_load: Probe,
    /// Kernel BTF at /sys/kernel/btf/vmlinux.
    pub btf: Probe,
    /// Every PMU in /sys/bus/event_source/devices, sorted by name.
    pub pmus: Vec<PmuInfo>,
}

impl PmuCapabilities {
    /// Probes the running kernel through /proc, /sys and the tracefs mount
    /// at /sys/kernel/tracing (else /sys/kernel/debug/tracing).
    ///
    /// Never fails: whatever cannot be determined is reported as a
    /// [`Probe::Missing`] or [`Probe::Refused`] with the reason. Nothing is
    /// left behind; every descriptor opened is closed before returning.
    /// It does not mount tracefs: with no tracefs mounted,
    /// `tracepoint_events` is missing and says so.
    pub fn probe() -> PmuCapabilities {
        let roots = TRACING_ROOTS.map(Path::new);
        PmuCapabilities::probe_at(Path::new("/proc"), Path::new("/sys"), &roots)
    }

    /// Like [`probe`](Self::probe), but reads files under the given roots:
    /// `proc_root` instead of /proc, `sys_root` instead of /sys, and the
    /// first of `tracing_roots` holding `events/sched/sched_switch/id`.
    ///
    /// The trial syscalls still go to the running kernel; only what is read
    /// from files (the tracepoint id, PMU types, BTF, sysctls used in the
    /// hints) comes from the roots.
    pub fn probe_at(proc_root: &Path, sys_root: &Path, tracing_roots: &[&Path]) -> PmuCapabilities {
        let access = Access::read(proc_root, sys_root);
        let pmus = read_pmus(&sys_root.join(EVENT_SOURCE_DEVICES));
        let first_cpu = read_text(&sys_root.join(CPU_ONLINE))
            .ok()
            .and_then(|text| parse_first_cpu(&text))
            .unwrap_or(0);
        PmuCapabilities {
            paranoid: access.paranoid,
            hardware_counters: probe_hardware(&access, &pmus, sys_root),
            software_counters: probe_software(&access),
            tracepoint_events: probe_tracepoint(&access, tracing_roots, first_cpu),
            kprobe_pmu: probe_pmu_type(sys_root, "kprobe", "CONFIG_KPROBE_EVENTS"),
            uprobe_pmu: probe_pmu_type(sys_root, "uprobe", "CONFIG_UPROBE_EVENTS"),
            bpf_prog_load: probe_bpf(&access),
            btf: probe_btf(&sys_root.join(BTF_VMLINUX)),
            pmus,
        }
    }
}

impl PmuCapabilities {
    /// Every probe with a short name, in a fixed order, for tables and JSON
    /// (`ftr doctor`). `paranoid` and `pmus` are not probes and not listed.
    pub fn features(&self) -> Vec<(&'static str, &Probe)> {
        vec![
            ("perf hardware counters", &self.hardware_counters),
            ("perf software counters", &self.software_counters),
            ("perf tracepoints", &self.tracepoint_events),
            ("perf kprobe PMU", &self.kprobe_pmu),
            ("perf uprobe PMU", &self.uprobe_pmu),
            ("BPF program load", &self.bpf_prog_load),
            ("BTF", &self.btf),
        ]
    }
}

impl fmt::Display for PmuCapabilities {
    /// One line per capability, then the PMU list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.paranoid {
            Some(p) => writeln!(f, "{:<24}{p}", "perf_event_paranoid")?,
            None => writeln!(f, "{:<24}unknown", "perf_event_paranoid")?,
        }
        for (name, probe) in self.features() {
            writeln!(f, "{name:<24}{probe}")?;
        }
        let pmus: Vec<String> = self
            .pmus
            .iter()
            .map(|p| format!("{}={}", p.name, p.type_id))
            .collect();
        write!(f, "{:<24}{}", "PMUs", pmus.join(" "))
    }
}

/// Parses a sysfs `type` file or a tracepoint `id` file: one unsigned
/// decimal number.
fn parse_number<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, Error> {
    text.trim().parse().map_err(|_| Error::Parse {
        what,
        text: text.trim().to_owned(),
    })
}

/// The first CPU of a sysfs CPU list such as "0-3,8-11" or "2,4".
fn parse_first_cpu(text: &str) -> Option<i32> {
    let first = text.trim().split([',', '-']).next()?;
    first.parse().ok()
}

/// A core CPU PMU, the one that serves PERF_TYPE_HARDWARE: `cpu` on x86,
/// `cpu_core`/`cpu_atom` on hybrid x86, `armv8_pmuv3_0`, `armv7_cortex_a15`
/// and the like on Arm.
fn core_pmu(pmus: &[PmuInfo]) -> Option<&str> {
    pmus.iter()
        .map(|p| p.name.as_str())
        .find(|n| *n == "cpu" || n.starts_with("cpu_") || n.starts_with("armv") || n.contains("pmuv3"))
}

fn probe_hardware(access: &Access, pmus: &[PmuInfo], sys_root: &Path) -> Probe {
    let attr = sys::PerfEventAttr {
        type_: sys::PERF_TYPE_HARDWARE,
        config: sys::PERF_COUNT_HW_INSTRUCTIONS,
        flags: sys::ATTR_DISABLED | sys::ATTR_EXCLUDE_KERNEL | sys::ATTR_EXCLUDE_HV,
        ..sys::PerfEventAttr::default()
    };
    let core = core_pmu(pmus);
    match sys::perf_event_open(&attr, 0, -1, None, 0) {
        Ok(_fd) => Probe::Usable(match core {
            Some(name) => format!("instructions:u via the {name} PMU"),
            None => "instructions:u".to_owned(),
        }),
        Err(err) => {
            let missing = match core {
                Some(name) => format!("the {name} PMU cannot count instructions"),
                None => format!(
                    "no hardware PMU: no cpu, cpu_core or armv* under {} \
                     (a virtual machine without a virtual PMU?)",
                    sys_root.join(EVENT_SOURCE_DEVICES).display()
                ),
            };
            classify_perf_error(&err, MAX_PARANOID_USER_TASK, access, &missing)
        }
    }
}

fn probe_software(access: &Access) -> Probe {
    let attr = sys::PerfEventAttr {
        type_: sys::PERF_TYPE_SOFTWARE,
        config: sys::PERF_COUNT_SW_TASK_CLOCK,
        flags: sys::ATTR_DISABLED | sys::ATTR_EXCLUDE_KERNEL | sys::ATTR_EXCLUDE_HV,
        ..sys::PerfEventAttr::default()
    };
    match sys::perf_event_open(&attr, 0, -1, None, 0) {
        Ok(_fd) => Probe::Usable("task-clock:u".to_owned()),
        Err(err) => classify_perf_error(
            &err,
            MAX_PARANOID_USER_TASK,
            access,
            "the kernel refused a software task-clock counter",
        ),
    }
}

/// Finds sched:sched_switch's id under the first tracing root that has it
/// and opens it the way the tracing tools do: CPU-wide, one raw sample per
/// event, disabled. That needs `perf_event_paranoid=-1` or CAP_PERFMON
/// (`perf_trace_event_perm` in kernel/trace/trace_event_perf.c).
fn probe_tracepoint(access: &Access, tracing_roots: &[&Path], cpu: i32) -> Probe {
    let mut refused = None;
    for root in tracing_roots {
        let path = root.join(SCHED_SWITCH_ID);
        let text = match read_text(&path) {
            Ok(text) => text,
            // ENOTDIR: a root that is a file; io::ErrorKind::NotADirectory
            // is newer than the workspace's rust-version.
            Err(Error::Read { source, .. })
                if source.kind() == io::ErrorKind::NotFound
                    || source.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                continue
            }
            Err(Error::Read { source, .. }) => {
                // Debugfs refuses under lockdown and tracefs is root-only
                // (0700) on most kernels; try the next root, but remember.
                refused.get_or_insert(format!(
                    "{}: could not read {} (tracefs and debugfs are root-only{})",
                    errno_text(&source),
                    path.display(),
                    access.lockdown_clause()
                ));
                continue;
            }
            Err(err) => return Probe::Missing(err.to_string()),
        };
        let id: u64 = match parse_number(&text, "a tracepoint id") {
            Ok(id) => id,
            Err(err) => return Probe::Missing(format!("{}: {err}", path.display())),
        };
        let attr = sys::PerfEventAttr {
            type_: sys::PERF_TYPE_TRACEPOINT,
            config: id,
            sample_period: 1,
            sample_type: sys::PERF_SAMPLE_RAW,
            flags: sys::ATTR_DISABLED,
            ..sys::PerfEventAttr::default()
        };
        return match sys::perf_event_open(&attr, -1, cpu, None, 0) {
            Ok(_fd) => Probe::Usable(format!(
                "sched:sched_switch id {id}, CPU-wide raw samples on cpu {cpu}"
            )),
            Err(err) => classify_perf_error(
                &err,
                MAX_PARANOID_RAW_TRACEPOINT,
                access,
                &format!("the kernel refused tracepoint id {id} from {}", path.display()),
            ),
        };
    }
    if let Some(why) = refused {
        return Probe::Refused(why);
    }
    let tried: Vec<String> = tracing_roots
        .iter()
        .map(|root| root.join(SCHED_SWITCH_ID).display().to_string())
        .collect();
    Probe::Missing(format!(
        "none of {} exists (tracefs not mounted? mount -t tracefs nodev /sys/kernel/tracing)",
        tried.join(", ")
    ))
}

/// The kprobe or uprobe PMU: present when sysfs lists its type.
fn probe_pmu_type(sys_root: &Path, name: &str, config: &str) -> Probe {
    let path = sys_root.join(EVENT_SOURCE_DEVICES).join(name).join("type");
    match read_text(&path).and_then(|t| parse_number::<u32>(&t, "a PMU type")) {
        Ok(type_id) => Probe::Usable(format!("type {type_id}")),
        Err(err) if err.kind() == crate::ErrorKind::NotFound => Probe::Missing(format!(
            "{} absent (kernel older than 4.17 or built without {config})",
            path.display()
        )),
        Err(err) => Probe::Missing(format!("{}: {err}", path.display())),
    }
}

fn probe_bpf(access: &Access) -> Probe {
    match sys::bpf_prog_load_trivial() {
        Ok(_fd) => Probe::Usable("socket filter loaded".to_owned()),
        Err(err) => classify_bpf_error(&err, access),
    }
}

fn probe_btf(path: &Path) -> Probe {
    match fs::metadata(path) {
        Ok(meta) => Probe::Usable(format!("{}, {} bytes", path.display(), meta.len())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Probe::Missing(format!(
            "{} absent (kernel older than 5.4 or built without CONFIG_DEBUG_INFO_BTF)",
            path.display()
        )),
        Err(err) => Probe::Refused(format!("{}: could not stat {}", errno_text(&err), path.display())),
    }
}

/// Every `<dir>/<name>/type`, sorted by name; unreadable entries are skipped.
fn read_pmus(dir: &Path) -> Vec<PmuInfo> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut pmus: Vec<PmuInfo> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let text = read_text(&entry.path().join("type")).ok()?;
            let type_id = parse_number(&text, "a PMU type").ok()?;
            Some(PmuInfo { name, type_id })
        })
        .collect();
    pmus.sort();
    pmus
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "ftr-pmu-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn cpu_list_and_number_parsers() {
        assert_eq!(parse_first_cpu("0-1\n"), Some(0));
        assert_eq!(parse_first_cpu("2-3,8\n"), Some(2));
        assert_eq!(parse_first_cpu("5\n"), Some(5));
        assert_eq!(parse_first_cpu("\n"), None);
        assert_eq!(parse_number::<u64>("316\n", "id").unwrap(), 316);
        assert!(parse_number::<u32>("-1", "type").is_err());
    }

    #[test]
    fn core_pmu_recognises_x86_hybrid_and_arm() {
        let pmu = |name: &str| PmuInfo {
            name: name.into(),
            type_id: 10,
        };
        assert_eq!(core_pmu(&[pmu("software"), pmu("cpu")]), Some("cpu"));
        assert_eq!(core_pmu(&[pmu("cpu_atom"), pmu("cpu_core")]), Some("cpu_atom"));
        assert_eq!(core_pmu(&[pmu("armv8_pmuv3_0")]), Some("armv8_pmuv3_0"));
        assert_eq!(core_pmu(&[pmu("software"), pmu("msr"), pmu("uprobe")]), None);
    }

    #[test]
    fn probe_display() {
        assert_eq!(Probe::Usable("type 8".into()).to_string(), "usable (type 8)");
        assert_eq!(Probe::Missing("x".into()).to_string(), "missing: x");
        assert_eq!(Probe::Refused("y".into()).to_string(), "refused: y");
        assert!(Probe::Usable(String::new()).is_usable());
        assert!(!Probe::Refused(String::new()).is_usable());
    }

    /// A fake /proc and /sys: file-based answers come from the tree, and no
    /// tracing root has sched_switch, so no trial tracepoint open happens.
    #[test]
    fn probe_at_reads_everything_from_the_given_roots() {
        let root = Scratch::new();
        root.write("proc/sys/kernel/perf_event_paranoid", "3\n");
        root.write("proc/sys/kernel/unprivileged_bpf_disabled", "2\n");
        root.write("proc/self/status", "CapEff:\t0000000000000000\n");
        root.write("sys/bus/event_source/devices/software/type", "1\n");
        root.write("sys/bus/event_source/devices/tracepoint/type", "2\n");
        root.write("sys/bus/event_source/devices/uprobe/type", "7\n");
        root.write("sys/bus/event_source/devices/broken/type", "x\n");
        root.write(
            "sys/kernel/security/lockdown",
            "none [integrity] confidentiality\n",
        );
        root.write("sys/devices/system/cpu/online", "0-3\n");
        root.write("tracing/README", "");
        let tracing = root.0.join("tracing");
        let debug_tracing = root.0.join("sys/kernel/debug/tracing");
        let caps = PmuCapabilities::probe_at(
            &root.0.join("proc"),
            &root.0.join("sys"),
            &[&tracing, &debug_tracing],
        );
        assert_eq!(caps.paranoid, Some(3));
        assert_eq!(
            caps.pmus,
            vec![
                PmuInfo {
                    name: "software".into(),
                    type_id: 1
                },
                PmuInfo {
                    name: "tracepoint".into(),
                    type_id: 2
                },
                PmuInfo {
                    name: "uprobe".into(),
                    type_id: 7
                },
            ]
        );
        assert_eq!(caps.uprobe_pmu, Probe::Usable("type 7".into()));
        let Probe::Missing(why) = &caps.kprobe_pmu else {
            panic!("{}", caps.kprobe_pmu)
        };
        assert!(
            why.contains("bus/event_source/devices/kprobe/type absent"),
            "{why}"
        );
        let Probe::Missing(why) = &caps.btf else {
            panic!("{}", caps.btf)
        };
        assert!(why.contains("kernel/btf/vmlinux absent"), "{why}");
        let Probe::Missing(why) = &caps.tracepoint_events else {
            panic!("{}", caps.tracepoint_events)
        };
        assert!(
            why.contains(&*tracing.join(SCHED_SWITCH_ID).to_string_lossy()),
            "{why}"
        );
        assert!(
            why.contains("sys/kernel/debug/tracing/events/sched/sched_switch/id"),
            "{why}"
        );
        // The table names every row.
        let table = caps.to_string();
        assert!(table.starts_with("perf_event_paranoid     3\n"), "{table}");
        assert!(
            table.contains("\nperf uprobe PMU         usable (type 7)\n"),
            "{table}"
        );
        assert!(
            table.ends_with("\nPMUs                    software=1 tracepoint=2 uprobe=7"),
            "{table}"
        );
        assert_eq!(caps.features().len(), 7);
    }

    #[test]
    fn unparsable_tracepoint_id_is_reported_with_its_path() {
        let root = Scratch::new();
        root.write("t/events/sched/sched_switch/id", "garbage\n");
        let probe = probe_tracepoint(&Access::default(), &[&root.0.join("t")], 0);
        let Probe::Missing(why) = &probe else {
            panic!("{probe}")
        };
        assert!(
            why.contains("sched_switch/id: could not parse a tracepoint id"),
            "{why}"
        );
    }

    #[test]
    fn btf_file_is_usable_when_present() {
        let root = Scratch::new();
        root.write("kernel/btf/vmlinux", "BTF!");
        let path = root.0.join(BTF_VMLINUX);
        assert_eq!(
            probe_btf(&path),
            Probe::Usable(format!("{}, 4 bytes", path.display()))
        );
    }

    fn require_kernel() -> bool {
        std::env::var("FTR_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
    }

    /// The live probe. It always prints what it found; with
    /// FTR_REQUIRE_KERNEL=1 it also asserts each answer that /proc and /sys
    /// predict, so it holds on any kernel, VM or privilege level.
    #[test]
    fn live_probe_agrees_with_proc_and_sys() {
        let caps = PmuCapabilities::probe();
        println!("{caps}");
        if !require_kernel() {
            println!("FTR_REQUIRE_KERNEL is not 1: printed the probe, asserted nothing");
            return;
        }
        let access = Access::read(Path::new("/proc"), Path::new("/sys"));
        let perfmon = access.perfmon() == Some(true);
        let user_task_allowed = perfmon || access.paranoid.is_some_and(|p| p <= MAX_PARANOID_USER_TASK);
        let sys = Path::new("/sys");
        let mut checked = Vec::new();

        // Software events exist with CONFIG_PERF_EVENTS (the paranoid file
        // is its witness).
        if access.paranoid.is_some() && user_task_allowed {
            assert!(caps.software_counters.is_usable(), "{}", caps.software_counters);
            checked.push("software usable");
        }
        // Hardware counters need a core PMU in sysfs; without one (a VM with
        // no vPMU, like the ftr development VM) they must be Missing, not
        // Refused.
        if core_pmu(&caps.pmus).is_some() && user_task_allowed {
            assert!(caps.hardware_counters.is_usable(), "{}", caps.hardware_counters);
            checked.push("hardware usable");
        } else if core_pmu(&caps.pmus).is_none() {
            assert!(
                matches!(caps.hardware_counters, Probe::Missing(_)),
                "{}",
                caps.hardware_counters
            );
            checked.push("hardware missing (no core PMU)");
        }
        // Tracepoints: usable for a privileged process wherever tracefs is
        // mounted (mounting it is the tracefs crate's business).
        let tracefs_has_id = TRACING_ROOTS
            .iter()
            .any(|r| Path::new(r).join(SCHED_SWITCH_ID).exists());
        if tracefs_has_id && perfmon {
            assert!(caps.tracepoint_events.is_usable(), "{}", caps.tracepoint_events);
            checked.push("tracepoint usable");
        }
        for (name, probe) in [("kprobe", &caps.kprobe_pmu), ("uprobe", &caps.uprobe_pmu)] {
            let present = sys.join(EVENT_SOURCE_DEVICES).join(name).join("type").exists();
            assert_eq!(probe.is_usable(), present, "{name}: {probe}");
            checked.push(if present {
                "k/uprobe PMU usable"
            } else {
                "k/uprobe PMU missing"
            });
        }
        // unprivileged_bpf_disabled exists only with CONFIG_BPF_SYSCALL.
        if access.unprivileged_bpf_disabled.is_some() && access.bpf() == Some(true) {
            assert!(caps.bpf_prog_load.is_usable(), "{}", caps.bpf_prog_load);
            checked.push("bpf usable");
        }
        assert_eq!(
            caps.btf.is_usable(),
            sys.join(BTF_VMLINUX).exists(),
            "{}",
            caps.btf
        );
        checked.push("btf agrees with sysfs");
        println!("asserted: {}", checked.join(", "));
    }
}
