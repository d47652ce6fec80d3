//! What limits this process: `kernel.perf_event_paranoid`,
//! `kernel.unprivileged_bpf_disabled`, its effective capabilities and the
//! lockdown mode, and how a refused trial call is turned into a
//! [`Probe::Refused`] that names the setting to change.
//!
//! The parsers are pure and the classifiers take an `io::Error` and an
//! [`Access`] value, so every hint is tested without touching the kernel.

use std::fs;
use std::io;
use std::path::Path;

use crate::capabilities::Probe;
use crate::error::Error;

/// `kernel.perf_event_paranoid`, relative to the proc root.
const PERF_EVENT_PARANOID: &str = "sys/kernel/perf_event_paranoid";
/// `kernel.unprivileged_bpf_disabled` (exists only with CONFIG_BPF_SYSCALL),
/// relative to the proc root.
const UNPRIVILEGED_BPF_DISABLED: &str = "sys/kernel/unprivileged_bpf_disabled";
/// Our own status (for `CapEff`), relative to the proc root.
const SELF_STATUS: &str = "self/status";

/// The lockdown LSM's state (securityfs), relative to the sys root.
const LOCKDOWN: &str = "kernel/security/lockdown";

/// Capability bits in `CapEff`, include/uapi/linux/capability.h.
const CAP_SYS_ADMIN: u32 = 21;
/// Linux 5.8+; older kernels check CAP_SYS_ADMIN instead.
const CAP_PERFMON: u32 = 38;
/// Linux 5.8+; older kernels check CAP_SYS_ADMIN instead.
const CAP_BPF: u32 = 39;

/// The strictest `perf_event_paranoid` that still allows a user-only count
/// of one's own task (2 forbids kernel profiling, see `perf_allow_kernel`
/// in include/linux/perf_event.h).
pub(crate) const MAX_PARANOID_USER_TASK: i32 = 2;
/// The strictest `perf_event_paranoid` that allows CPU-wide raw tracepoint
/// samples without CAP_PERFMON (`perf_allow_tracepoint`: only -1).
pub(crate) const MAX_PARANOID_RAW_TRACEPOINT: i32 = -1;

/// Parses the text of /proc/sys/kernel/perf_event_paranoid (e.g. "2\n").
///
/// Fails with [`Error::Parse`] unless the text is one decimal integer.
pub fn parse_paranoid(text: &str) -> Result<i32, Error> {
    text.trim().parse().map_err(|_| Error::Parse {
        what: "perf_event_paranoid (an integer)",
        text: text.trim().to_owned(),
    })
}

/// The effective capability mask from /proc/self/status (`CapEff:\t<hex>`).
fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// The active mode of /sys/kernel/security/lockdown, e.g.
/// "none [integrity] confidentiality" -> "integrity".
fn parse_lockdown(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let len = text[start..].find(']')?;
    Some(&text[start..start + len])
}

/// The kernel's name for an errno, with the C library's description.
pub(crate) fn errno_text(err: &io::Error) -> String {
    let name = match err.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::E2BIG) => "E2BIG",
        Some(libc::EBADF) => "EBADF",
        Some(libc::EACCES) => "EACCES",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::ENODEV) => "ENODEV",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EMFILE) => "EMFILE",
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::ESRCH) => "ESRCH",
        Some(n) => return format!("errno {n} ({})", description(err)),
        None => return err.to_string(),
    };
    format!("{name} ({})", description(err))
}

/// "Permission denied" out of "Permission denied (os error 13)".
fn description(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// Reads a whole kernel file, naming it in the error.
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// What limits this process, read once for the hints in [`Probe::Refused`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    pub(crate) paranoid: Option<i32>,
    pub(crate) unprivileged_bpf_disabled: Option<i32>,
    pub(crate) cap_eff: Option<u64>,
    pub(crate) lockdown: Option<String>,
}

impl Access {
    pub(crate) fn read(proc_root: &Path, sys_root: &Path) -> Access {
        let int = |rel: &str| {
            read_text(&proc_root.join(rel))
                .and_then(|t| parse_paranoid(&t))
                .ok()
        };
        Access {
            paranoid: int(PERF_EVENT_PARANOID),
            unprivileged_bpf_disabled: int(UNPRIVILEGED_BPF_DISABLED),
            cap_eff: read_text(&proc_root.join(SELF_STATUS))
                .ok()
                .and_then(|s| parse_cap_eff(&s)),
            lockdown: read_text(&sys_root.join(LOCKDOWN))
                .ok()
                .and_then(|t| parse_lockdown(&t).map(str::to_owned)),
        }
    }

    fn has_cap(&self, caps: &[u32]) -> Option<bool> {
        self.cap_eff
            .map(|eff| caps.iter().any(|&cap| eff & (1u64 << cap) != 0))
    }

    /// CAP_PERFMON, or CAP_SYS_ADMIN which stands in for it (and is all
    /// that kernels before 5.8 check).
    pub(crate) fn perfmon(&self) -> Option<bool> {
        self.has_cap(&[CAP_PERFMON, CAP_SYS_ADMIN])
    }

    pub(crate) fn bpf(&self) -> Option<bool> {
        self.has_cap(&[CAP_BPF, CAP_SYS_ADMIN])
    }

    /// ", kernel lockdown=confidentiality" when lockdown is on.
    pub(crate) fn lockdown_clause(&self) -> String {
        match self.lockdown.as_deref() {
            Some(mode) if mode != "none" => format!(", kernel lockdown={mode}"),
            _ => String::new(),
        }
    }
}

/// Sorts a failed trial perf_event_open into missing or refused.
///
/// `max_paranoid` is the strictest `perf_event_paranoid` under which an
/// unprivileged process may open this event; `missing` says what is absent
/// when the kernel answers with anything but EACCES/EPERM/ENOSYS.
pub(crate) fn classify_perf_error(
    err: &io::Error,
    max_paranoid: i32,
    access: &Access,
    missing: &str,
) -> Probe {
    let errno = errno_text(err);
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Probe::Refused(perf_refusal(&errno, max_paranoid, access)),
        Some(libc::ENOSYS) => Probe::Missing(format!(
            "{errno}: no perf_event_open syscall (kernel built without CONFIG_PERF_EVENTS, or a seccomp filter)"
        )),
        _ => Probe::Missing(format!("{errno}: {missing}")),
    }
}

fn perf_refusal(errno: &str, max_paranoid: i32, access: &Access) -> String {
    if access.perfmon() == Some(true) {
        return format!(
            "{errno}: refused although CAP_PERFMON/CAP_SYS_ADMIN is effective: \
             a seccomp filter (container runtimes block perf_event_open), \
             an LSM (SELinux perf_event class){}",
            access.lockdown_clause()
        );
    }
    match access.paranoid {
        Some(p) if p > max_paranoid => format!(
            "{errno}: kernel.perf_event_paranoid={p} and no CAP_PERFMON; \
             set kernel.perf_event_paranoid<={max_paranoid} or run as root"
        ),
        Some(p) => format!(
            "{errno}: kernel.perf_event_paranoid={p} would allow it, so a seccomp \
             filter or an LSM refused it; run as root"
        ),
        None => format!(
            "{errno}: needs kernel.perf_event_paranoid<={max_paranoid} or CAP_PERFMON \
             (/proc/{PERF_EVENT_PARANOID} unreadable)"
        ),
    }
}

pub(crate) fn classify_bpf_error(err: &io::Error, access: &Access) -> Probe {
    let errno = errno_text(err);
    match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Probe::Refused(bpf_refusal(&errno, access)),
        Some(libc::ENOSYS) => Probe::Missing(format!(
            "{errno}: no bpf() syscall (kernel older than 3.18 or built without CONFIG_BPF_SYSCALL)"
        )),
        Some(libc::EINVAL) => Probe::Missing(format!(
            "{errno}: the kernel rejected a minimal socket-filter program (bpf() older than 3.19?)"
        )),
        _ => Probe::Missing(format!(
            "{errno}: the kernel rejected a minimal socket-filter program"
        )),
    }
}

fn bpf_refusal(errno: &str, access: &Access) -> String {
    if access.bpf() == Some(true) {
        return format!(
            "{errno}: refused although CAP_BPF/CAP_SYS_ADMIN is effective: RLIMIT_MEMLOCK \
             too low (kernels before 5.11), a seccomp filter or an LSM{}",
            access.lockdown_clause()
        );
    }
    match access.unprivileged_bpf_disabled {
        // 1 cannot be undone until reboot; 2 (the 5.13+ default) can.
        Some(1) => format!(
            "{errno}: kernel.unprivileged_bpf_disabled=1 (fixed until reboot) and no CAP_BPF; run as root"
        ),
        Some(v) if v != 0 => format!(
            "{errno}: kernel.unprivileged_bpf_disabled={v} and no CAP_BPF; \
             set kernel.unprivileged_bpf_disabled=0 or run as root"
        ),
        Some(_) => format!(
            "{errno}: kernel.unprivileged_bpf_disabled=0 would allow it, so RLIMIT_MEMLOCK \
             (before 5.11), a seccomp filter or an LSM refused it; run as root"
        ),
        None => format!("{errno}: needs CAP_BPF or CAP_SYS_ADMIN; run as root"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_and_lockdown_parse() {
        let status = "Name:\tcat\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\t0\n";
        assert_eq!(parse_cap_eff(status), Some(0x1fffeffffff));
        assert_eq!(parse_cap_eff("Name:\tcat\n"), None);
        assert_eq!(parse_lockdown("[none] integrity confidentiality\n"), Some("none"));
        assert_eq!(
            parse_lockdown("none [integrity] confidentiality\n"),
            Some("integrity")
        );
        assert_eq!(parse_lockdown(""), None);
    }

    fn os_error(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    fn unprivileged(paranoid: i32) -> Access {
        Access {
            paranoid: Some(paranoid),
            unprivileged_bpf_disabled: Some(2),
            cap_eff: Some(0),
            lockdown: Some("none".into()),
        }
    }

    #[test]
    fn paranoid_parses_signed_integers_and_rejects_the_rest() {
        assert_eq!(parse_paranoid("2\n").unwrap(), 2);
        assert_eq!(parse_paranoid("-1\n").unwrap(), -1);
        assert_eq!(parse_paranoid("4").unwrap(), 4);
        let err = parse_paranoid("two\n").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidData);
        assert!(err.to_string().contains("\"two\""), "{err}");
        assert!(parse_paranoid("").is_err());
    }

    #[test]
    fn errno_text_names_the_errno() {
        assert_eq!(errno_text(&os_error(libc::EACCES)), "EACCES (Permission denied)");
        assert_eq!(
            errno_text(&os_error(libc::ENOENT)),
            "ENOENT (No such file or directory)"
        );
        assert!(errno_text(&os_error(1000)).starts_with("errno 1000 ("));
    }

    #[test]
    fn perf_refusal_names_the_sysctl_and_the_needed_value() {
        let probe = classify_perf_error(&os_error(libc::EACCES), 2, &unprivileged(3), "unused");
        assert_eq!(
            probe,
            Probe::Refused(
                "EACCES (Permission denied): kernel.perf_event_paranoid=3 and no CAP_PERFMON; \
                 set kernel.perf_event_paranoid<=2 or run as root"
                    .into()
            )
        );
        // Raw tracepoint samples need -1.
        let probe = classify_perf_error(&os_error(libc::EACCES), -1, &unprivileged(2), "unused");
        assert!(
            probe.detail().contains("kernel.perf_event_paranoid<=-1"),
            "{probe}"
        );
        // Allowed by the sysctl, yet refused: something else is in the way.
        let probe = classify_perf_error(&os_error(libc::EPERM), 2, &unprivileged(1), "unused");
        assert!(probe.detail().contains("seccomp"), "{probe}");
        // Root refused: lockdown is named when it is on.
        let root = Access {
            cap_eff: Some(1 << CAP_SYS_ADMIN),
            lockdown: Some("confidentiality".into()),
            ..unprivileged(2)
        };
        let probe = classify_perf_error(&os_error(libc::EPERM), 2, &root, "unused");
        assert!(matches!(probe, Probe::Refused(_)));
        assert!(probe.detail().contains("lockdown=confidentiality"), "{probe}");
        // Unknown sysctl: still names it.
        let probe = classify_perf_error(&os_error(libc::EACCES), 2, &Access::default(), "unused");
        assert!(probe.detail().contains("perf_event_paranoid<=2"), "{probe}");
    }

    #[test]
    fn absent_pmu_is_missing_not_refused() {
        let probe = classify_perf_error(&os_error(libc::ENOENT), 2, &unprivileged(2), "no hardware PMU");
        assert_eq!(
            probe,
            Probe::Missing("ENOENT (No such file or directory): no hardware PMU".into())
        );
        let probe = classify_perf_error(&os_error(libc::ENOSYS), 2, &unprivileged(2), "x");
        assert!(probe.detail().contains("CONFIG_PERF_EVENTS"), "{probe}");
    }

    #[test]
    fn bpf_errors_name_the_sysctl_or_the_config() {
        let probe = classify_bpf_error(&os_error(libc::EPERM), &unprivileged(2));
        assert!(matches!(probe, Probe::Refused(_)));
        assert!(
            probe.detail().contains("kernel.unprivileged_bpf_disabled=2"),
            "{probe}"
        );
        let once = Access {
            unprivileged_bpf_disabled: Some(1),
            ..unprivileged(2)
        };
        let probe = classify_bpf_error(&os_error(libc::EPERM), &once);
        assert!(probe.detail().contains("until reboot"), "{probe}");
        let root = Access {
            cap_eff: Some(1 << CAP_BPF),
            ..unprivileged(2)
        };
        let probe = classify_bpf_error(&os_error(libc::EPERM), &root);
        assert!(probe.detail().contains("RLIMIT_MEMLOCK"), "{probe}");
        let probe = classify_bpf_error(&os_error(libc::ENOSYS), &root);
        assert!(matches!(probe, Probe::Missing(_)));
        assert!(probe.detail().contains("CONFIG_BPF_SYSCALL"), "{probe}");
    }
}
