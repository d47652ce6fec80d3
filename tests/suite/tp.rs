//! `ftr tp` end to end: events from a C program's children, printed with
//! the right fields; kernel-side filters; errors.

use crate::util::{c_program, ftr, leftovers_of, live_tracing, run_ftr};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Starts `ftr ARGS` and waits until it says it is tracing.
pub fn start_tracing(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = ftr()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ftr never said it was tracing");
        if line.starts_with("Tracing ") {
            break;
        }
    }
    (child, rx)
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

#[test]
fn tp_prints_every_exec_of_the_children() {
    let Some(t) = live_tracing() else { return };
    let prog = c_program("exec_true");
    let (mut child, rx) = start_tracing(&[
        "tp",
        "sched:sched_process_exec",
        "--filter",
        "filename ~ \"*true\"",
    ]);
    let out = Command::new(&prog).arg("50").output().unwrap();
    assert!(out.status.success());
    let pids: HashSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    let stderr: Vec<String> = rx.try_iter().collect();
    assert!(status.success(), "ftr tp after SIGINT: {status:?} {stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains(" events; ")),
        "final summary on Ctrl-C: {stderr:?}"
    );
    let mine: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            let pid = l.split("pid=").nth(1).and_then(|r| r.split_whitespace().next());
            pid.is_some_and(|p| pids.contains(p))
        })
        .collect();
    assert_eq!(mine.len(), 50, "one line per exec:\n{stdout}");
    for l in &mine {
        assert!(l.contains(": sched_process_exec: filename=/bin/true pid="), "{l}");
    }
    // The kernel filter ran: nothing but *true execs reached us.
    assert!(stdout.lines().all(|l| l.contains("filename=")
        && l.split("filename=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .ends_with("true")));
    assert_eq!(leftovers_of(t.root(), child.id()), Vec::<String>::new());
}

#[test]
fn tp_json_lines_parse() {
    let Some(_t) = live_tracing() else { return };
    let (mut child, _rx) = start_tracing(&["tp", "sched:sched_process_exec", "--json", "-d", "1.5"]);
    Command::new("/bin/true").status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let mut n = 0;
    for l in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["event"], "sched:sched_process_exec");
        assert!(v["fields"]["filename"].is_string());
        n += 1;
    }
    assert!(n >= 1, "the /bin/true exec was seen");
}

#[test]
fn tp_errors_are_one_line_and_leave_nothing() {
    let Some(t) = live_tracing() else { return };
    for args in [
        &["tp", "nosuch:event"][..],
        &["tp", "sched:sched_switch", "--filter", "no_such_field == 1"],
        &["tp", "sched:sched_switch", "--filter", "a\n-:all"],
        &["tp", "sched:sched_switch", "-d", "0"],
        &["tp", "sched:sched_switch", "-C", "nosuchclock"],
    ] {
        let out = ftr().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("ftr: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let _ = run_ftr(&["doctor"]);
    // Every failed run above exited; none may have left an instance.
    let leftovers: Vec<String> = std::fs::read_dir(t.path("instances"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let pid = ftr_tracefs::instance_owner(&n)?;
            (nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()).then_some(n)
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "instances of dead ftr processes: {leftovers:?}"
    );
}
