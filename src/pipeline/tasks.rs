//! Thread id -> process id. Trace events carry the thread (`common_pid`,
//! `next_pid`), while bcc's tools report and filter by process
//! (`bpf_get_current_pid_tgid() >> 32`), so ftr looks the process up in
//! /proc/TID/status once per thread.

use std::collections::HashMap;

/// Parses the `Tgid:` line of /proc/PID/status text.
pub fn parse_status_tgid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A cache of thread id -> process id. A thread that exited before its
/// first lookup stays unknown (None); ids <= 0 (the idle task) map to themselves.
#[derive(Debug, Default)]
pub struct Tgids {
    map: HashMap<i32, Option<i32>>,
}

impl Tgids {
    /// An empty cache.
    pub fn new() -> Tgids {
        Tgids::default()
    }

    /// The process of thread `tid`, from /proc on first use.
    pub fn get(&mut self, tid: i32) -> Option<i32> {
        if tid <= 0 {
            // The idle task, or no task at all: nothing to look up.
            return Some(tid);
        }
        *self.map.entry(tid).or_insert_with(|| {
            std::fs::read_to_string(format!("/proc/{tid}/status"))
                .ok()
                .and_then(|s| parse_status_tgid(&s))
        })
    }

    /// Remembers what a caller learned otherwise (fork events, tests).
    pub fn insert(&mut self, tid: i32, tgid: i32) {
        self.map.insert(tid, Some(tgid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_and_cache() {
        assert_eq!(
            parse_status_tgid("Name:\tx\nUmask:\t0022\nState:\tS\nTgid:\t4242\nNgid:\t0\nPid:\t4243\n"),
            Some(4242)
        );
        assert_eq!(parse_status_tgid("Name: x\n"), None);
        let me = std::process::id() as i32;
        let mut t = Tgids::new();
        assert_eq!(t.get(me), Some(me));
        assert_eq!(t.get(0), Some(0));
        assert_eq!(t.get(i32::MAX), None);
        t.insert(7, 5);
        assert_eq!(t.get(7), Some(5));
    }

    proptest! {
        #[test]
        fn arbitrary_status_text_never_panics(s in ".*") {
            let _ = parse_status_tgid(&s);
        }
    }
}
