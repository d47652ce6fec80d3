//! The events a kernel offers (`available_events`, `events/SYS/NAME/`),
//! and shell-style globs to select them.

use crate::control::read_text;
use crate::error::{Error, Result};
use crate::locate::TracingDir;

/// A `system:name` event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventName {
    /// Event system (`sched`).
    pub system: String,
    /// Event name (`sched_switch`).
    pub name: String,
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.system, self.name)
    }
}

impl EventName {
    /// Parses `sys:event` (or `sys/event`, as perf and trace-cmd accept).
    pub fn parse(s: &str) -> Option<EventName> {
        let (system, name) = s.split_once(':').or_else(|| s.split_once('/'))?;
        if system.is_empty() || name.is_empty() {
            return None;
        }
        Some(EventName {
            system: system.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// Parses `available_events` text (`sys:event` per line).
pub fn parse_available_events(text: &str) -> Vec<EventName> {
    text.lines().filter_map(|l| EventName::parse(l.trim())).collect()
}

/// All events of the kernel behind `tracing`, sorted: from
/// `available_events`, or by walking `events/` when that file is missing
/// (captured trees).
pub fn list_events(tracing: &TracingDir) -> Result<Vec<EventName>> {
    let mut v = match read_text(&tracing.path("available_events")) {
        Ok(t) => parse_available_events(&t),
        Err(_) => {
            let dir = tracing.events_dir();
            let mut v = Vec::new();
            let systems = std::fs::read_dir(&dir).map_err(|source| Error::Read {
                path: dir.clone(),
                source,
            })?;
            for sys in systems.flatten().filter(|e| e.path().is_dir()) {
                let Ok(events) = std::fs::read_dir(sys.path()) else {
                    continue;
                };
                for ev in events.flatten() {
                    if ev.path().join("format").is_file() {
                        v.push(EventName {
                            system: sys.file_name().to_string_lossy().into_owned(),
                            name: ev.file_name().to_string_lossy().into_owned(),
                        });
                    }
                }
            }
            v
        }
    };
    v.sort();
    v.dedup();
    Ok(v)
}

/// The events `specs` name when each is an exact `sys:event` (or
/// `sys/event`) that exists here, found with one stat each instead of
/// reading and sorting the ~2,000 names of `available_events` (a third
/// of a millisecond of a tool's start); None when any spec is a glob, a
/// whole system or absent, for the caller's full resolution and its
/// error message.
pub fn exact_events(tracing: &TracingDir, specs: &[String]) -> Option<Vec<EventName>> {
    let mut out: Vec<EventName> = Vec::new();
    for spec in specs {
        let (system, name) = spec.split_once(':').or_else(|| spec.split_once('/'))?;
        let plain =
            |s: &str| !s.is_empty() && !s.contains(['*', '?', '[', '/', ':']) && s != "." && s != "..";
        if !plain(system) || !plain(name) {
            return None;
        }
        if !tracing
            .events_dir()
            .join(system)
            .join(name)
            .join("format")
            .is_file()
        {
            return None;
        }
        let e = EventName {
            system: system.to_owned(),
            name: name.to_owned(),
        };
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Some(out)
}

/// Shell-style glob: `*` any run, `?` one character, everything else
/// literal. Iterative with one backtrack point, so it is linear-ish and
/// cannot blow the stack on hostile patterns.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Selects events by a trace-cmd/perf style spec: `sys:event` with globs in
/// either part (`sched:*`, `syscalls:sys_enter_*`), or a bare `sys` /
/// glob meaning a whole system or any event name that matches.
pub fn select_events<'a>(all: &'a [EventName], spec: &str) -> Vec<&'a EventName> {
    match spec.split_once(':').or_else(|| spec.split_once('/')) {
        Some((s, n)) => all
            .iter()
            .filter(|e| glob_match(s, &e.system) && glob_match(n, &e.name))
            .collect(),
        None => all
            .iter()
            .filter(|e| glob_match(spec, &e.system) || glob_match(spec, &e.name))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_specs_resolve_with_a_stat_and_globs_do_not() {
        let root = std::env::temp_dir().join(format!("ftr-exact-events-{}", std::process::id()));
        let dir = root.join("events/sched/sched_switch");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("format"), "name: sched_switch\n").unwrap();
        let t = TracingDir::at(&root);
        let specs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = exact_events(&t, &specs(&["sched:sched_switch", "sched/sched_switch"])).unwrap();
        assert_eq!(got.len(), 1, "one event named twice");
        assert_eq!(got[0].to_string(), "sched:sched_switch");
        for miss in [
            "sched:*",
            "sched",
            "sched:sched_wakeup",
            "sched:",
            ":x",
            "../sched:sched_switch",
            "sched:s?",
        ] {
            assert_eq!(
                exact_events(&t, &specs(&["sched:sched_switch", miss])),
                None,
                "{miss}"
            );
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn globs() {
        assert!(glob_match("sched_*", "sched_switch"));
        assert!(glob_match("*", ""));
        assert!(glob_match("s?hed", "sched"));
        assert!(!glob_match("sched", "sched_switch"));
        assert!(glob_match("*_enter_*", "sys_enter_read"));
        assert!(!glob_match("a*b", "aXc"));
        assert!(glob_match("*", "*x"));
        assert!(glob_match("a*", "a*"));
    }

    #[test]
    fn selection() {
        let all = parse_available_events(
            "sched:sched_switch\nsched:sched_wakeup\nirq:irq_handler_entry\nbad line\n",
        );
        assert_eq!(all.len(), 3);
        assert_eq!(select_events(&all, "sched").len(), 2);
        assert_eq!(select_events(&all, "sched:*wake*").len(), 1);
        assert_eq!(select_events(&all, "irq_handler_entry").len(), 1);
        assert_eq!(select_events(&all, "nope:*").len(), 0);
    }

    proptest! {
        #[test]
        fn glob_never_panics(p in ".{0,20}", t in ".{0,40}") {
            let _ = glob_match(&p, &t);
            prop_assert!(glob_match("*", &t));
        }
    }
}
