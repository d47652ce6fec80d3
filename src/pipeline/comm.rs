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
}
