//! Task names for pids seen in events: /proc first, then the kernel's
//! `saved_cmdlines` (which remembers tasks that already exited), as the
//! kernel's own `trace` output does; `<...>` when neither knows.

use std::collections::HashMap;
use std::path::PathBuf;

/// A cache of pid -> comm.
pub struct CommCache {
    names: HashMap<i32, String>,
    saved_cmdlines: Option<PathBuf>,
}

/// Parses `saved_cmdlines` text: `PID COMM` per line.
pub fn parse_saved_cmdlines(text: &str) -> impl Iterator<Item = (i32, &str)> {
    text.lines().filter_map(|l| {
        let (pid, comm) = l.split_once(' ')?;
        Some((pid.trim().parse().ok()?, comm.trim()))
    })
}

impl CommCache {
    /// A cache that falls back to `saved_cmdlines` under `tracing_root`.
    pub fn new(saved_cmdlines: Option<PathBuf>) -> CommCache {
        CommCache {
            names: HashMap::new(),
            saved_cmdlines,
        }
    }

    /// Remembers a name learned from an event (sched_switch's prev_comm,
    /// sched_process_exec), which beats any later lookup.
    pub fn learn(&mut self, pid: i32, comm: &str) {
        self.names.insert(pid, comm.to_owned());
    }

    /// The name of `pid`.
    pub fn get(&mut self, pid: i32) -> &str {
        if pid == 0 {
            return "<idle>";
        }
        if !self.names.contains_key(&pid) {
            let name = match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                Ok(c) => c.trim_end().to_owned(),
                Err(_) => {
                    self.load_saved();
                    self.names
                        .get(&pid)
                        .cloned()
                        .unwrap_or_else(|| "<...>".to_owned())
                }
            };
            self.names.insert(pid, name);
        }
        &self.names[&pid]
    }

    /// The name of `pid` now: /proc while it runs, else the kernel's
    /// latest `saved_cmdlines` entry, else what was known before. For
    /// reports of tasks first seen before they exec'd (`sh -c cmd` becomes
    /// `cmd` under the same pid): [`CommCache::get`] keeps the first name.
    pub fn current(&mut self, pid: i32) -> &str {
        if pid == 0 {
            return "<idle>";
        }
        let fresh = match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            Ok(c) => Some(c.trim_end().to_owned()),
            Err(_) => self.saved_cmdlines.as_ref().and_then(|path| {
                let text = std::fs::read_to_string(path).ok()?;
                let comm = parse_saved_cmdlines(&text)
                    .find(|&(p, _)| p == pid)
                    .map(|(_, comm)| comm.to_owned());
                comm
            }),
        };
        if let Some(name) = fresh {
            self.names.insert(pid, name);
        }
        self.get(pid)
    }

    fn load_saved(&mut self) {
        // Re-read on every miss: the file changes as tasks come and go.
        let Some(path) = &self.saved_cmdlines else { return };
        if let Ok(text) = std::fs::read_to_string(path) {
            for (pid, comm) in parse_saved_cmdlines(&text) {
                self.names.entry(pid).or_insert_with(|| comm.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_cmdlines_and_fallbacks() {
        let v: Vec<_> = parse_saved_cmdlines("12 bash\n13 kworker/0:1 x\nbad\n").collect();
        assert_eq!(v, vec![(12, "bash"), (13, "kworker/0:1 x")]);
        let mut c = CommCache::new(None);
        assert_eq!(c.get(0), "<idle>");
        assert_eq!(c.get(i32::MAX), "<...>");
        c.learn(5, "true");
        assert_eq!(c.get(5), "true");
        let me = std::process::id() as i32;
        assert!(!c.get(me).is_empty());
    }

    #[test]
    fn current_names_follow_an_exec() {
        let dir = std::env::temp_dir().join(format!("ftr-comm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved = dir.join("saved_cmdlines");
        // A pid that no longer runs: its first name, then the kernel's.
        let gone = i32::MAX;
        std::fs::write(&saved, format!("{gone} cat\n")).unwrap();
        let mut c = CommCache::new(Some(saved.clone()));
        c.learn(gone, "sh");
        assert_eq!(c.get(gone), "sh", "get keeps the first name");
        assert_eq!(c.current(gone), "cat");
        std::fs::write(&saved, "").unwrap();
        assert_eq!(c.current(gone), "cat", "known before, the kernel forgot");
        // A running task: /proc.
        let me = std::process::id() as i32;
        c.learn(me, "old");
        assert_ne!(c.current(me), "old");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
