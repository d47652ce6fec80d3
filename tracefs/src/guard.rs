//! The undo log: every change ftr makes to tracefs is recorded here before
//! it is made, and undone in reverse order when its [`Guard`] drops, when
//! [`undo_all`] runs (signal thread, [`run_guarded`] after a panic), or, for a process
//! that was SIGKILLed, by [`reclaim_stale`] at the next start.
//!
//! Names carry the owner's pid so that reclaiming is safe: instances are
//! `ftr-PID-N`, probe groups `ftr_PID_N` (group names must be C identifiers).

use crate::control::{read_text, write_control, WriteMode};
use crate::error::{kind_of, Error, ErrorKind, Result};
use crate::locate::TracingDir;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Prefix of every instance ftr creates: `ftr-PID-N`.
pub const INSTANCE_PREFIX: &str = "ftr-";
/// Prefix of every probe group ftr creates: `ftr_PID_N`.
pub const GROUP_PREFIX: &str = "ftr_";

/// How often removal is retried when the kernel says EBUSY (an event is
/// still held by a reader or by perf), and how long between tries.
const BUSY_RETRIES: u32 = 100;
const BUSY_PAUSE: Duration = Duration::from_millis(20);

/// One change to take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Disable everything in the instance, then rmdir it.
    RemoveInstance(PathBuf),
    /// Write `value` back into `path` (a top-level setting ftr changed).
    Write {
        /// The control file.
        path: PathBuf,
        /// The value it had before.
        value: String,
    },
    /// Disable a dynamic (kprobe/uprobe) event everywhere, then delete its
    /// definition with `-:GROUP/EVENT`.
    RemoveProbe {
        /// The tracing directory the probe lives in.
        tracing_root: PathBuf,
        /// `kprobe_events` or `uprobe_events`.
        events_file: String,
        /// The probe's group (`ftr_PID`).
        group: String,
        /// The probe's event name.
        event: String,
    },
}

struct Entry {
    guard: u64,
    undo: Undo,
}

static LOG: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_GUARD: AtomicU64 = AtomicU64::new(1);

fn log() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    // A panic while the log was held must not stop the cleanup that
    // run_guarded does after it.
    LOG.lock().unwrap_or_else(|p| p.into_inner())
}

/// A handle on a set of recorded changes, undone when it drops.
///
/// The log itself is process-global so that a signal or a panic on any
/// thread can still undo what every guard recorded.
#[derive(Debug)]
pub struct Guard {
    id: u64,
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Guard {
    /// A new, empty guard.
    pub fn new() -> Guard {
        Guard {
            id: NEXT_GUARD.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Records a change *before* it is made, so that a crash between the two
    /// leaves at worst an undo of something that never happened (harmless:
    /// every undo tolerates ENOENT).
    pub fn record(&self, undo: Undo) {
        let mut l = log();
        l.push(Entry { guard: self.id, undo });
        sync_journal(&l);
    }

    /// Drops a record without undoing it (the change was taken back by hand
    /// or never made).
    pub fn forget(&self, undo: &Undo) {
        let mut l = log();
        if let Some(i) = l.iter().rposition(|e| e.guard == self.id && &e.undo == undo) {
            l.remove(i);
            sync_journal(&l);
        }
    }

    /// Undoes this guard's changes now, newest first, and reports every
    /// failure (the rest are still attempted).
    pub fn undo(&self) -> std::result::Result<(), Vec<Error>> {
        let mine: Vec<Undo> = {
            let mut l = log();
            let (mine, rest): (Vec<Entry>, Vec<Entry>) = l.drain(..).partition(|e| e.guard == self.id);
            *l = rest;
            mine.into_iter().map(|e| e.undo).collect()
        };
        let r = run_undos(mine);
        // Only now, and only if they all worked: a SIGKILL during the
        // undos, or an undo the kernel refused (EBUSY: a reader still
        // open), leaves them journaled for the next run to retry.
        if r.is_ok() {
            sync_journal(&log());
        }
        r
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(errors) = self.undo() {
            for e in errors {
                eprintln!("ftr: cleanup failed: {}", crate::error_chain(&e));
            }
        }
    }
}

/// Undoes every change recorded by every guard of this process. Called from
/// the signal thread on a forced exit and by [`run_guarded`] after a panic.
pub fn undo_all() -> std::result::Result<(), Vec<Error>> {
    let all: Vec<Undo> = log().drain(..).map(|e| e.undo).collect();
    let r = run_undos(all);
    if r.is_ok() {
        sync_journal(&log());
    }
    r
}

/// Runs `f`, and if it panics, undoes every recorded change once the panic
/// has unwound, then returns the panic payload.
///
/// Undoing from a panic hook would be too early: the hook runs before
/// unwinding, while the panicking code still holds the instance's files
/// open, so rmdir would answer EBUSY. After unwinding, every [`Guard`]
/// dropped on the way has already cleaned up; this catches the rest
/// (guards owned by other threads, or leaked).
pub fn run_guarded<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    if r.is_err() {
        if let Err(errors) = undo_all() {
            for e in errors {
                eprintln!("ftr: cleanup failed: {}", crate::error_chain(&e));
            }
        }
    }
    r
}

fn run_undos(mut undos: Vec<Undo>) -> std::result::Result<(), Vec<Error>> {
    let mut errors = Vec::new();
    while let Some(u) = undos.pop() {
        let r = match &u {
            Undo::RemoveInstance(dir) => remove_instance_dir(dir),
            Undo::Write { path, value } => match write_control(path, value, WriteMode::Replace) {
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                r => r,
            },
            Undo::RemoveProbe {
                tracing_root,
                events_file,
                group,
                event,
            } => remove_probe(Path::new(tracing_root), events_file, group, event),
        };
        if let Err(e) = r {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Disables all tracing in an instance and removes it, retrying on EBUSY.
/// A missing instance counts as removed.
pub(crate) fn remove_instance_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    // Best effort: the instance may already be half gone.
    let _ = write_control(&dir.join("tracing_on"), "0", WriteMode::Replace);
    let _ = write_control(&dir.join("events/enable"), "0", WriteMode::Replace);
    let mut tries = 0;
    loop {
        tries += 1;
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < BUSY_RETRIES => {
                // A reader still holds a file of the instance, or perf holds
                // one of its events; disable again and give it time to let go.
                let _ = write_control(&dir.join("events/enable"), "0", WriteMode::Replace);
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(source) => {
                return Err(Error::RemoveInstance {
                    path: dir.to_owned(),
                    tries,
                    source,
                })
            }
        }
    }
}

/// Disables `group/event` at the top level and in every instance, then
/// deletes its definition, retrying on EBUSY.
pub(crate) fn remove_probe(root: &Path, events_file: &str, group: &str, event: &str) -> Result<()> {
    let rel = Path::new("events").join(group).join(event);
    if !root.join(&rel).exists() {
        return Ok(());
    }
    let disable_everywhere = || {
        let _ = write_control(&root.join(&rel).join("enable"), "0", WriteMode::Replace);
        if let Ok(dir) = std::fs::read_dir(root.join("instances")) {
            for inst in dir.flatten() {
                let enable = inst.path().join(&rel).join("enable");
                if enable.exists() {
                    let _ = write_control(&enable, "0", WriteMode::Replace);
                }
            }
        }
    };
    disable_everywhere();
    let cmd = format!("-:{group}/{event}");
    let mut tries = 0;
    loop {
        tries += 1;
        match write_control(&root.join(events_file), &cmd, WriteMode::Append) {
            Ok(()) => return Ok(()),
            Err(Error::Write { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(Error::Write { source, .. })
                if kind_of(&source) == ErrorKind::Busy && tries < BUSY_RETRIES =>
            {
                disable_everywhere();
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where each process journals its top-level changes (`top-level-PID`,
/// one `PATH<TAB>OLD VALUE` line per change, oldest first), so that a
/// SIGKILLed ftr's tracer, filters and sizes on the shared top level can be
/// put back by the next run: unlike instances and probe groups, top-level
/// files carry no owner in their names.
pub const JOURNAL_DIR: &str = "/run/ftr";

fn journal_path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("top-level-{pid}"))
}

/// Writes outside an instance: the changes no name-based reclaim finds.
fn top_level_writes(log: &[Entry]) -> Vec<(&Path, &str)> {
    log.iter()
        .filter_map(|e| match &e.undo {
            Undo::Write { path, value } if !path.components().any(|c| c.as_os_str() == "instances") => {
                Some((path.as_path(), value.as_str()))
            }
            _ => None,
        })
        .collect()
}

/// Rewrites this process's journal from the log (removes it when no
/// top-level change is pending). Best effort: without a writable /run the
/// changes are still undone on every exit but a SIGKILL.
fn sync_journal(log: &[Entry]) {
    let dir = Path::new(JOURNAL_DIR);
    let path = journal_path(dir, std::process::id());
    let writes = top_level_writes(log);
    if writes.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    let text: String = writes
        .iter()
        .map(|(p, v)| format!("{}\t{v}\n", p.display()))
        .collect();
    let tmp = path.with_extension("tmp");
    let _ = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, &path));
}

/// Parses a journal: (path, old value) pairs, oldest first.
pub fn parse_journal(text: &str) -> Vec<(PathBuf, String)> {
    text.lines()
        .filter_map(|l| {
            let (p, v) = l.split_once('\t')?;
            (!p.is_empty()).then(|| (PathBuf::from(p), v.to_owned()))
        })
        .collect()
}

/// Puts back the top-level settings journaled by ftr processes that are
/// gone, newest change first, then deletes their journals.
fn reclaim_journals(tracing: &TracingDir, done: &mut Vec<String>, errors: &mut Vec<Error>) {
    let Ok(dir) = std::fs::read_dir(JOURNAL_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("top-level-")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let writes: Vec<(PathBuf, String)> = parse_journal(&text)
            .into_iter()
            .filter(|(p, _)| p.starts_with(tracing.root()))
            .collect();
        let mut failed = false;
        for (path, value) in writes.iter().rev() {
            match write_control(path, value, WriteMode::Replace) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    failed = true;
                    errors.push(e);
                }
            }
        }
        if !failed {
            let _ = std::fs::remove_file(entry.path());
            done.push(format!(
                "{} top-level setting(s) of pid {pid} (it is gone)",
                writes.len()
            ));
        }
    }
}

/// The pid in an ftr instance name `ftr-PID-N`, if it is one.
pub fn instance_owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(INSTANCE_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// The pid in an ftr probe group `ftr_PID` or `ftr_PID_N`, if it is one.
pub fn group_owner(group: &str) -> Option<i32> {
    let rest = group.strip_prefix(GROUP_PREFIX)?;
    let (pid, n) = rest.split_once('_').unwrap_or((rest, "0"));
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// A dynamic event definition line of `kprobe_events` / `uprobe_events`,
/// reduced to its group and event (`p:GROUP/EVENT target args`).
pub fn parse_probe_line(line: &str) -> Option<(&str, &str)> {
    let head = line.split_ascii_whitespace().next()?;
    let (_kind, name) = head.split_once(':')?;
    name.split_once('/')
}

fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // ESRCH is the only answer that proves the process is gone; EPERM means
    // it exists under another user.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Removes instances and probe groups left by ftr processes that no longer
/// exist (killed with SIGKILL, or a crash the panic hook could not catch).
/// Returns a line per thing reclaimed; failures are returned as errors after
/// everything else was tried.
pub fn reclaim_stale(tracing: &TracingDir) -> std::result::Result<Vec<String>, Vec<Error>> {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    if let Ok(dir) = std::fs::read_dir(tracing.path("instances")) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = instance_owner(&name) {
                if !pid_alive(pid) {
                    match remove_instance_dir(&entry.path()) {
                        Ok(()) => done.push(format!("instance {name} (pid {pid} is gone)")),
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
    }
    for file in ["uprobe_events", "kprobe_events"] {
        let Ok(text) = read_text(&tracing.path(file)) else {
            continue;
        };
        for line in text.lines() {
            let Some((group, event)) = parse_probe_line(line) else {
                continue;
            };
            if let Some(pid) = group_owner(group) {
                if !pid_alive(pid) {
                    match remove_probe(tracing.root(), file, group, event) {
                        Ok(()) => done.push(format!("probe {group}/{event} (pid {pid} is gone)")),
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
    }
    reclaim_journals(tracing, &mut done, &mut errors);
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_from_names() {
        assert_eq!(instance_owner("ftr-123-0"), Some(123));
        assert_eq!(instance_owner("ftr-123"), None);
        assert_eq!(instance_owner("ftrace"), None);
        assert_eq!(instance_owner("ftr-x-1"), None);
        assert_eq!(group_owner("ftr_77"), Some(77));
        assert_eq!(group_owner("ftr_77x"), None);
        assert_eq!(group_owner("ftr_77_3"), Some(77));
        assert_eq!(
            parse_probe_line("p:ftr_9/malloc /lib/libc.so.6:0x0000000000098760"),
            Some(("ftr_9", "malloc"))
        );
        assert_eq!(
            parse_probe_line("r:uprobes/x /bin/true:0x10 arg=$retval"),
            Some(("uprobes", "x"))
        );
        assert_eq!(parse_probe_line(""), None);
    }

    #[test]
    fn undo_runs_newest_first_and_only_for_its_guard() {
        let dir = std::env::temp_dir().join(format!("ftr-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("value");
        std::fs::write(&f, "now\n").unwrap();
        let a = Guard::new();
        let b = Guard::new();
        a.record(Undo::Write {
            path: f.clone(),
            value: "first".into(),
        });
        a.record(Undo::Write {
            path: f.clone(),
            value: "second".into(),
        });
        b.record(Undo::Write {
            path: f.clone(),
            value: "other".into(),
        });
        drop(a);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "first\n");
        b.forget(&Undo::Write {
            path: f.clone(),
            value: "other".into(),
        });
        drop(b);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "first\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn journals_parse_and_list_only_top_level_writes() {
        assert_eq!(
            parse_journal("/t/current_tracer\tnop\n/t/set_ftrace_filter\t\nbad line\n\tx\n"),
            vec![
                (PathBuf::from("/t/current_tracer"), "nop".to_owned()),
                (PathBuf::from("/t/set_ftrace_filter"), String::new())
            ]
        );
        let log = vec![
            Entry {
                guard: 1,
                undo: Undo::Write {
                    path: "/t/current_tracer".into(),
                    value: "nop".into(),
                },
            },
            Entry {
                guard: 1,
                undo: Undo::Write {
                    path: "/t/instances/ftr-1-0/current_tracer".into(),
                    value: "nop".into(),
                },
            },
            Entry {
                guard: 1,
                undo: Undo::RemoveInstance("/t/instances/ftr-1-0".into()),
            },
        ];
        assert_eq!(
            top_level_writes(&log),
            vec![(Path::new("/t/current_tracer"), "nop")]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_journals_never_panic(s in ".*") {
            let _ = parse_journal(&s);
        }
    }

    #[test]
    fn dead_and_live_pids() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        assert!(!pid_alive(i32::MAX));
    }
}
