//! `ftr list` against captured kernel trees (no live kernel needed) and
//! against the live one.

use crate::util::{kernel_data, live_tracing, run_ftr};

fn host_tree() -> String {
    kernel_data("host-6.18-lockdown")
        .join("host-6.18.44-fc")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn lists_events_and_fields_of_a_captured_tree() {
    let root = host_tree();
    let out = run_ftr(&["--tracing-dir", &root, "list", "-e", "sched:*"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == "sched:sched_switch"), "{text}");
    assert!(text.lines().all(|l| l.starts_with("sched:")));
    let out = run_ftr(&["--tracing-dir", &root, "list", "-e", "sched:sched_switch", "-F"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for f in [
        "prev_comm",
        "prev_pid",
        "prev_prio",
        "prev_state",
        "next_comm",
        "next_pid",
        "next_prio",
    ] {
        assert!(text.contains(f), "{f} in {text}");
    }
    let out = run_ftr(&["--tracing-dir", &root, "list", "-t"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "blk\nfunction\nnop\n");
    let out = run_ftr(&["--tracing-dir", &root, "list", "-e", "nosuch:*"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn lists_live_events() {
    let Some(_t) = live_tracing() else { return };
    let out = run_ftr(&["list", "-e", "sched:sched_process_exec", "-F"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("filename"));
    let out = run_ftr(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("events:") && text.contains("tracers:") && text.contains("options:"));
}
