//! Finding (or mounting) the tracing directory.
//!
//! Order, as the kernel's history dictates: a tracefs mount listed in
//! /proc/mounts (4.1+), debugfs' `tracing/` (RHEL7's 3.10 has only that),
//! then the well-known paths, and only then mounting tracefs, or debugfs on
//! kernels without tracefs. Tests and file-based tools point at a captured
//! tree with [`TracingDir::at`] instead.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where tracefs lives on 4.1+ kernels.
pub const TRACEFS_PATH: &str = "/sys/kernel/tracing";
/// Where debugfs lives; its `tracing/` directory is the only one on 3.x.
pub const DEBUGFS_PATH: &str = "/sys/kernel/debug";
/// The mount table read first.
pub const PROC_MOUNTS: &str = "/proc/mounts";

/// How the tracing directory was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Listed in /proc/mounts as tracefs.
    Tracefs,
    /// The `tracing/` directory of a debugfs mount (pre-4.1 kernels).
    Debugfs,
    /// ftr mounted it (`tracefs` or `debugfs`) because nothing was mounted.
    MountedByFtr(&'static str),
    /// Given explicitly (a captured tree, or `--tracing-dir`).
    Given,
}

/// A tracing directory: the root of `events/`, `instances/`, `trace_pipe`...
#[derive(Debug, Clone)]
pub struct TracingDir {
    root: PathBuf,
    located: Located,
}

/// One line of /proc/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount point, with the kernel's octal escapes (`\040`) undone.
    pub mount_point: PathBuf,
    /// The filesystem type (`tracefs`, `debugfs`, ...).
    pub fs_type: String,
}

/// Parses /proc/mounts text. Malformed lines are skipped: the table is the
/// kernel's, and one odd line must not hide the others.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_ascii_whitespace();
            let _source = it.next()?;
            let mount_point = unescape_mount(it.next()?);
            let fs_type = it.next()?.to_owned();
            Some(MountEntry {
                mount_point: PathBuf::from(mount_point),
                fs_type,
            })
        })
        .collect()
}

/// /proc/mounts escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the tracing directory from a mount table, without touching the
/// filesystem: tracefs mounts first, then debugfs + `/tracing`.
pub fn choose_from_mounts(mounts: &[MountEntry]) -> Option<(PathBuf, Located)> {
    let tracefs = mounts.iter().filter(|m| m.fs_type == "tracefs");
    // Prefer the canonical path when tracefs is mounted in several places
    // (debugfs' automount shows up as a second tracefs entry).
    let mut best: Option<&MountEntry> = None;
    for m in tracefs {
        if best.is_none() || m.mount_point == Path::new(TRACEFS_PATH) {
            best = Some(m);
        }
    }
    if let Some(m) = best {
        return Some((m.mount_point.clone(), Located::Tracefs));
    }
    mounts
        .iter()
        .find(|m| m.fs_type == "debugfs")
        .map(|m| (m.mount_point.join("tracing"), Located::Debugfs))
}

impl TracingDir {
    /// Uses `root` as the tracing directory as is (a captured tree in tests,
    /// or a user's `--tracing-dir`). Nothing is checked or mounted.
    pub fn at(root: impl Into<PathBuf>) -> TracingDir {
        TracingDir {
            root: root.into(),
            located: Located::Given,
        }
    }

    /// Finds the running kernel's tracing directory, mounting tracefs at
    /// /sys/kernel/tracing (or debugfs at /sys/kernel/debug on kernels
    /// without tracefs) when nothing is mounted and we are allowed to.
    ///
    /// The mount is left in place on exit, as the kernel's own debugfs
    /// automount does: unmounting would pull it from under concurrent users.
    /// Fails with [`Error::NoTracefs`] naming every path tried and why.
    pub fn locate() -> Result<TracingDir> {
        let mounts = std::fs::read_to_string(PROC_MOUNTS)
            .map(|t| parse_mounts(&t))
            .unwrap_or_default();
        if let Some((root, located)) = choose_from_mounts(&mounts) {
            if root.join("events").is_dir() {
                return Ok(TracingDir { root, located });
            }
        }
        let mut tried = Vec::new();
        match mount("tracefs", Path::new(TRACEFS_PATH)) {
            Ok(()) => {
                return Ok(TracingDir {
                    root: PathBuf::from(TRACEFS_PATH),
                    located: Located::MountedByFtr("tracefs"),
                })
            }
            Err(e) => tried.push(format!("mount tracefs at {TRACEFS_PATH}: {e}")),
        }
        match mount("debugfs", Path::new(DEBUGFS_PATH)) {
            Ok(()) => {
                let root = Path::new(DEBUGFS_PATH).join("tracing");
                if root.join("events").is_dir() {
                    return Ok(TracingDir {
                        root,
                        located: Located::MountedByFtr("debugfs"),
                    });
                }
                tried.push(format!(
                    "debugfs mounted at {DEBUGFS_PATH} but has no tracing/events"
                ));
            }
            Err(e) => tried.push(format!("mount debugfs at {DEBUGFS_PATH}: {e}")),
        }
        Err(Error::NoTracefs(format!(
            "nothing in {PROC_MOUNTS}; tried {}",
            tried.join("; ")
        )))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How it was found.
    pub fn located(&self) -> &Located {
        &self.located
    }

    /// A path below the root, e.g. `path("events/header_page")`.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The `events/` directory.
    pub fn events_dir(&self) -> PathBuf {
        self.root.join("events")
    }
}

fn mount(fs: &str, at: &Path) -> std::result::Result<(), String> {
    if !at.is_dir() {
        return Err(format!("{} does not exist", at.display()));
    }
    nix::mount::mount(Some(fs), at, Some(fs), nix::mount::MsFlags::empty(), None::<&str>)
        .map_err(|e| e.desc().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "sysfs /sys sysfs rw 0 0\n\
        debugfs /sys/kernel/debug debugfs rw 0 0\n\
        tracefs /sys/kernel/debug/tracing tracefs rw 0 0\n\
        tracefs /sys/kernel/tracing tracefs rw 0 0\n\
        garbage\n\
        tmpfs /a\\040b tmpfs rw 0 0\n";

    #[test]
    fn prefers_canonical_tracefs() {
        let m = parse_mounts(MOUNTS);
        assert_eq!(m.len(), 5);
        assert_eq!(m[4].mount_point, PathBuf::from("/a b"));
        let (p, how) = choose_from_mounts(&m).unwrap();
        assert_eq!(p, PathBuf::from("/sys/kernel/tracing"));
        assert_eq!(how, Located::Tracefs);
    }

    #[test]
    fn rhel7_has_only_debugfs() {
        let m = parse_mounts("debugfs /sys/kernel/debug debugfs rw,relatime 0 0\n");
        let (p, how) = choose_from_mounts(&m).unwrap();
        assert_eq!(p, PathBuf::from("/sys/kernel/debug/tracing"));
        assert_eq!(how, Located::Debugfs);
        assert!(choose_from_mounts(&parse_mounts("proc /proc proc rw 0 0")).is_none());
    }

    #[test]
    fn odd_escapes_do_not_panic() {
        for s in ["\\", "\\0", "\\01", "\\999", "a\\0777", "\\\\\\"] {
            let _ = unescape_mount(s);
        }
    }
}
