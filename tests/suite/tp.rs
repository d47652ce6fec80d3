//! `ftr tp` end to end: events from a C program's children, printed with
//! the right fields; kernel-side filters; errors.

use crate::util::{c_program, ftr, leftovers_of, live_tracing, run_ftr};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `ftr` whose stdout and stderr are drained by threads, so a
/// chatty trace can never block it on a full pipe.
pub struct Tracer {
    pub child: Child,
    pub stderr: mpsc::Receiver<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Tracer {
    /// Waits for exit and returns (status, stdout, stderr lines).
    pub fn finish(mut self) -> (std::process::ExitStatus, String, Vec<String>) {
        let status = self.child.wait().unwrap();
        let out = self.stdout.take().unwrap().join().unwrap();
        // Read to the end: the reader thread ends when ftr closes stderr.
        let err = self.stderr.iter().collect();
        (status, out, err)
    }
}

/// Starts `ftr ARGS` and waits until it says it is tracing.
pub fn start_tracing(args: &[&str]) -> Tracer {
    let mut child = ftr()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ftr never said it was tracing");
        if line.starts_with("Tracing ") {
            break;
        }
    }
    Tracer {
        child,
        stderr: rx,
        stdout: Some(out),
    }
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

#[test]
fn tp_prints_every_exec_of_the_children() {
    let Some(t) = live_tracing() else { return };
    let prog = c_program("exec_true");
    let tracer = start_tracing(&[
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
    signal(&tracer.child, nix::sys::signal::Signal::SIGINT);
    let pid = tracer.child.id();
    let (status, stdout, stderr) = tracer.finish();
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
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}

#[test]
fn tp_json_lines_parse() {
    let Some(_t) = live_tracing() else { return };
    let tracer = start_tracing(&["tp", "sched:sched_process_exec", "--json", "-d", "1.5"]);
    Command::new("/bin/true").status().unwrap();
    let (status, stdout, _) = tracer.finish();
    assert!(status.success());
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

#[test]
fn tp_pid_filter_keeps_only_that_process() {
    let Some(t) = live_tracing() else { return };
    // A shell that waits for a line on stdin, then execs /bin/true in place.
    let mut target = Command::new("sh")
        .args(["-c", "read x; exec /bin/true"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    let tracer = start_tracing(&["tp", "sched:sched_process_exec", "-p", &pid]);
    Command::new("/bin/true").status().unwrap(); // another process: must not show
    std::io::Write::write_all(target.stdin.as_mut().unwrap(), b"go\n").unwrap();
    target.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&tracer.child, nix::sys::signal::Signal::SIGTERM);
    let ftr_pid = tracer.child.id();
    let (status, stdout, _) = tracer.finish();
    assert!(status.success());
    // Every line is the target's (the kernel filter), and it exec'd
    // /bin/true once. The shell's own exec of /usr/bin/sh may show too:
    // spawn() returns when exec closes its CLOEXEC pipe, a moment before the
    // kernel fires sched_process_exec, so tp can start in between.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "{stdout}");
    for l in &lines {
        assert!(
            l.contains(&format!(" pid={pid} ")),
            "only the target's events: {stdout}"
        );
    }
    let trues: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("filename=/bin/true "))
        .collect();
    assert_eq!(trues.len(), 1, "{stdout}");
    assert!(trues[0].contains(&format!("-{pid} ")), "{stdout}");
    assert_eq!(leftovers_of(t.root(), ftr_pid), Vec::<String>::new());
}

#[test]
fn tp_ends_when_its_reader_goes_away() {
    // `ftr tp ... | head -1`: once the pipe closes, tp must stop by itself,
    // clean up and exit 0, not trace on until Ctrl-C.
    let Some(t) = live_tracing() else { return };
    let mut child = ftr()
        .args(["tp", "sched:sched_switch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("sched_switch"), "{first}");
    // The reader is dropped here: the pipe is closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tp kept running after its reader left"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}
