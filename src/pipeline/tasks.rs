//! What tools read of a task in /proc: the process of a thread, its
//! real uid, a /proc/PID/stat field, whether it still runs.
//!
//! Thread id -> process id: trace events carry the thread (`common_pid`,
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

/// Parses the real uid (the first of the `Uid:` line) of /proc/PID/status text.
pub fn parse_status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Field `n` of /proc/PID/stat text, numbered as proc(5) numbers them
/// (3 is the state, 9 the flags; the pid and name cannot be asked for).
/// The name in parentheses may hold spaces and parentheses, so fields
/// count from the last `)`.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)
}

/// Whether process (or thread) `pid` still runs: it exists and is not a
/// zombie waiting for its parent (state Z, or X), whose memory is gone.
pub fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_field(&s, 3).map(|state| !matches!(state, "Z" | "X")))
        .unwrap_or(false)
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

    #[test]
    fn uid_line() {
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid("Uid:\n"), None);
    }

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let stat = "12 (a) b (c)) S 2 0 0 0 -1 2129984 0 0";
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 9), Some("2129984"));
        assert_eq!(stat_field(stat, 2), None);
        assert_eq!(stat_field("no parens", 3), None);
        assert_eq!(stat_field("1 (x) S", 9), None);
        assert!(process_alive(std::process::id() as i32));
        assert!(!process_alive(i32::MAX));
    }

    proptest! {
        #[test]
        fn arbitrary_status_text_never_panics(s in ".*") {
            let _ = parse_status_tgid(&s);
            let _ = parse_status_uid(&s);
            let _ = stat_field(&s, 9);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256), n in 0usize..64) {
            let s = String::from_utf8_lossy(&b);
            let _ = parse_status_uid(&s);
            let _ = stat_field(&s, n);
        }
    }
}
