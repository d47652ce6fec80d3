//! `ftr start / stop / restart / extract / show / reset`: a named instance
//! that outlives the command, as trace-cmd's sub-commands leave tracing on.

use crate::util::{live_tracing, run_ftr};
use std::path::Path;
use std::process::Command;

fn ok(args: &[&str]) -> String {
    let out = run_ftr(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line_failure(args: &[&str]) -> String {
    let out = run_ftr(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    err
}

/// Runs `/bin/true` `n` times from a marker-named copy so its execs are
/// told apart from everyone else's.
fn exec_n(prog: &Path, n: usize) {
    for _ in 0..n {
        assert!(Command::new(prog).status().unwrap().success());
    }
}

#[test]
fn start_extract_reset_round_trip() {
    let Some(t) = live_tracing() else { return };
    let name = format!("test{}", std::process::id());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kept-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prog = dir.join("kept_marker_true");
    std::fs::copy("/bin/true", &prog).unwrap();
    let file = dir.join("k.dat");
    let count = |text: &str| text.lines().filter(|l| l.contains("kept_marker_true")).count();

    ok(&["start", "-e", "sched:sched_process_exec", "-B", &name]);
    let inst = t.path("instances").join(format!("ftr-keep-{name}"));
    assert!(inst.is_dir(), "the instance outlives ftr start");
    let err = one_line_failure(&["start", "-e", "sched:sched_process_exec", "-B", &name]);
    assert!(err.contains("already tracing"), "{err}");
    exec_n(&prog, 3);
    assert_eq!(count(&ok(&["show", "-B", &name])), 3);
    ok(&["stop", "-B", &name]);
    exec_n(&prog, 2);
    ok(&["restart", "-B", &name]);
    exec_n(&prog, 4);
    ok(&["extract", "-B", &name, "-o", file.to_str().unwrap()]);
    let ours = ok(&["report", "-i", file.to_str().unwrap()]);
    assert_eq!(
        count(&ours),
        7,
        "3 before stop, none while stopped, 4 after restart:\n{ours}"
    );
    if let Ok(o) = Command::new("trace-cmd")
        .args(["report", "-i"])
        .arg(&file)
        .output()
    {
        let theirs = String::from_utf8_lossy(&o.stdout);
        assert_eq!(theirs.trim_end(), ours.trim_end());
    }
    ok(&["reset", "-B", &name]);
    assert!(!inst.exists());
    let err = one_line_failure(&["show", "-B", &name]);
    assert!(err.contains("no kept instance"), "{err}");
    one_line_failure(&["reset", "-B", &name]);
    one_line_failure(&["start", "-e", "sched:sched_process_exec", "-B", "bad/name"]);
    // A setup that fails after the instance was made leaves nothing.
    one_line_failure(&[
        "start",
        "-e",
        "sched:sched_switch",
        "-f",
        "no_field == 1",
        "-B",
        &name,
    ]);
    assert!(!inst.exists());
    // Reclaiming (any writing ftr command) never removes a kept instance.
    ok(&["start", "-e", "sched:sched_process_exec", "-B", &name]);
    ok(&["doctor"]);
    assert!(inst.is_dir());
    ok(&["reset", "-B", &name]);
    assert!(!inst.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
