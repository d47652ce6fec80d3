//! kprobe_events / uprobe_events definitions, owned by a [`ProbeGroup`]
//! that deletes them when it drops.
//!
//! Syntax (Documentation/trace/kprobetrace.rst, uprobetracer.rst):
//! `p[:GRP/EVENT] TARGET [ARGS]`, `r[:GRP/EVENT] TARGET [ARGS]`,
//! `-:GRP/EVENT`. Targets are `SYM[+offs]` for kprobes and `PATH:OFFSET`
//! (a file offset) for uprobes.

use crate::control::{read_text, write_control, WriteMode};
use crate::error::{Error, Result};
use crate::guard::{Guard, Undo, GROUP_PREFIX};
use crate::kprobe_spec::KprobeSpec;
use crate::locate::TracingDir;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_GROUP: AtomicU32 = AtomicU32::new(0);

/// Which dynamic-event file a probe goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// `kprobe_events`: kernel functions.
    Kprobe,
    /// `uprobe_events`: user-space file offsets.
    Uprobe,
}

impl ProbeKind {
    /// The control file name.
    pub fn events_file(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "kprobe_events",
            ProbeKind::Uprobe => "uprobe_events",
        }
    }
}

/// One probe definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeDef {
    /// kprobe or uprobe.
    pub kind: ProbeKind,
    /// A return probe (`r:`) instead of an entry probe (`p:`).
    pub ret: bool,
    /// Event name: a C identifier.
    pub event: String,
    /// `SYM[+offs]` (kprobe) or `PATH:0xOFFSET` (uprobe); no whitespace.
    pub target: String,
    /// Fetch arguments (`size=%di:u64`, `ret=$retval`).
    pub args: Vec<String>,
}

fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl ProbeDef {
    /// The command line for `group`, after checking every part holds exactly
    /// one token (a space in a target would shift the arguments).
    pub fn command(&self, group: &str) -> std::result::Result<String, String> {
        if !is_identifier(group) {
            return Err(format!("probe group {group:?} is not a C identifier"));
        }
        if !is_identifier(&self.event) {
            return Err(format!("probe event name {:?} is not a C identifier", self.event));
        }
        if self.target.is_empty() || self.target.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("probe target {:?} must be one word", self.target));
        }
        let mut cmd = format!(
            "{}:{group}/{} {}",
            if self.ret { 'r' } else { 'p' },
            self.event,
            self.target
        );
        for a in &self.args {
            if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("probe argument {a:?} must be one word"));
            }
            cmd.push(' ');
            cmd.push_str(a);
        }
        Ok(cmd)
    }
}

/// A probe group `ftr_PID_N` and the probes ftr defined in it. Dropping it
/// disables and deletes them all.
#[derive(Debug)]
pub struct ProbeGroup {
    root: PathBuf,
    group: String,
    guard: Guard,
}

impl ProbeGroup {
    /// A new, empty group under `tracing`. Nothing is written yet.
    pub fn new(tracing: &TracingDir) -> ProbeGroup {
        let n = NEXT_GROUP.fetch_add(1, Ordering::Relaxed);
        ProbeGroup {
            root: tracing.root().to_owned(),
            group: format!("{GROUP_PREFIX}{}_{n}", std::process::id()),
            guard: Guard::new(),
        }
    }

    /// The group name, which is also the event system name of its probes.
    pub fn name(&self) -> &str {
        &self.group
    }

    /// Defines a probe. On EINVAL the error carries the kernel's
    /// `error_log` line when the kernel has one (5.2+).
    pub fn add(&self, def: &ProbeDef) -> Result<()> {
        let path = self.root.join(def.kind.events_file());
        let cmd = def.command(&self.group).map_err(|why| Error::Write {
            path: path.clone(),
            value: def.target.clone(),
            detail: format!(": {why}"),
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        })?;
        self.define(def.kind, &def.event, &cmd)
    }

    /// Defines a kprobe from a parsed user definition (checked by
    /// [`KprobeSpec::check`] first, where the caller has the features).
    /// Returns the event name, which is also the event's directory under
    /// `events/GROUP/`.
    pub fn add_kprobe(&self, spec: &KprobeSpec) -> Result<String> {
        let event = spec.event_name();
        self.define(ProbeKind::Kprobe, &event, &spec.command(&self.group))?;
        Ok(event)
    }

    /// Appends `cmd` to the kind's events file, recorded for removal first.
    fn define(&self, kind: ProbeKind, event: &str, cmd: &str) -> Result<()> {
        let path = self.root.join(kind.events_file());
        let undo = Undo::RemoveProbe {
            tracing_root: self.root.clone(),
            events_file: kind.events_file().to_owned(),
            group: self.group.clone(),
            event: event.to_owned(),
        };
        self.guard.record(undo.clone());
        match write_control(&path, cmd, WriteMode::Append) {
            Ok(()) => Ok(()),
            Err(Error::Write {
                path, value, source, ..
            }) => {
                self.guard.forget(&undo);
                let log = read_text(&self.root.join("error_log")).unwrap_or_default();
                let detail = error_log_reason(&log)
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default();
                Err(Error::Write {
                    path,
                    value,
                    detail,
                    source,
                })
            }
            Err(e) => {
                self.guard.forget(&undo);
                Err(e)
            }
        }
    }

    /// Deletes every probe of the group now, reporting the first failure.
    pub fn remove(self) -> Result<()> {
        self.guard.undo().map_err(|mut e| e.remove(0))
    }
}

/// The newest entry of `error_log` text in one line: its `error:` reason
/// and, from the caret line under the command, the word it points at.
/// The log is `[ts] trace_kprobe: error: WHY` / `  Command: CMD` /
/// `      ^` per entry (5.2+).
pub fn error_log_reason(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let i = lines.iter().rposition(|l| l.contains("error:"))?;
    let why = lines[i].split_once("error:").map(|(_, w)| w.trim())?;
    let at = (|| {
        let cmd_line = lines.get(i + 1)?;
        let cmd_at = cmd_line.find("Command:")? + "Command:".len();
        let caret = lines.get(i + 2)?.find('^')?;
        // The caret may point inside the argument: show the whole word.
        let at = caret.max(cmd_at).min(cmd_line.len());
        let start = cmd_line
            .get(..at)?
            .rfind(char::is_whitespace)
            .map_or(0, |i| i + 1);
        let word = cmd_line.get(start..)?.split_ascii_whitespace().next()?;
        Some(format!(" (at {word:?})"))
    })()
    .unwrap_or_default();
    Some(format!("{why}{at}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_single_lines_of_single_tokens() {
        let d = ProbeDef {
            kind: ProbeKind::Uprobe,
            ret: true,
            event: "malloc_ret".into(),
            target: "/lib/libc.so.6:0x98760".into(),
            args: vec!["ret=$retval:u64".into()],
        };
        assert_eq!(
            d.command("ftr_1_0").unwrap(),
            "r:ftr_1_0/malloc_ret /lib/libc.so.6:0x98760 ret=$retval:u64"
        );
        let mut bad = d.clone();
        bad.target = "/a b:0x1".into();
        assert!(bad.command("ftr_1_0").is_err());
        bad = d.clone();
        bad.event = "x\n-:all".into();
        assert!(bad.command("ftr_1_0").is_err());
        bad = d.clone();
        bad.args = vec!["a b".into()];
        assert!(bad.command("ftr_1_0").is_err());
        assert!(d.command("ftr-1").is_err());
    }

    #[test]
    fn error_log_entries_become_one_line() {
        let log = "[   52.113640] trace_kprobe: error: Invalid fetch argument\n  Command: p:g/e vfs_read x=%zz\n                              ^\n";
        assert_eq!(
            error_log_reason(log).unwrap(),
            "Invalid fetch argument (at \"x=%zz\")"
        );
        assert_eq!(error_log_reason(""), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_error_logs_never_panic(s in ".*") {
            let _ = error_log_reason(&s);
        }
    }
}
