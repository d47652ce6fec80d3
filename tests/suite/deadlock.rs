//! ftr deadlock against a C program whose ground truth is known:
//! fixtures/progs/lock_order.c takes three global mutexes in a cyclic order
//! (a→b, b→c, c→trylock a) or a consistent one, one thread after another so
//! it never blocks. Launched with `--` and attached with `-p`; errors and
//! Ctrl-C leave no uprobe behind. Thread creation stacks pass through
//! Debian's libc, which keeps no frame pointers: they reach pthread_create
//! and main only by DWARF unwinding (the default for them).

use crate::util::{assert_fails_cleanly, c_program_with, ftr, leftovers_of, live_tracing};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn lock_order() -> PathBuf {
    c_program_with(
        "lock_order",
        "fp",
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    )
}

/// The mutex names of the "Cycle in lock order graph" line, in order,
/// the first repeated at the end.
fn cycle_names(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Cycle in lock order graph: "))
        .unwrap_or_else(|| panic!("no cycle line in:\n{stdout}"));
    line.trim_start_matches("Cycle in lock order graph: ")
        .split(" => ")
        .map(|m| {
            // "Mutex M0 (mutex_a 0x000055...)"
            let inner = m.split('(').nth(1).unwrap().trim_end_matches(')');
            let mut w = inner.split_whitespace();
            let name = w.next().unwrap().to_owned();
            assert!(
                w.next().is_some_and(|a| a.starts_with("0x") && a.len() == 18),
                "{m}"
            );
            name
        })
        .collect()
}

/// The symbols (`main+0x15d`) of each "Thread N created by Thread M
/// (comm) here:" block.
fn creation_stacks(stdout: &str) -> Vec<Vec<String>> {
    let mut stacks = Vec::new();
    let mut lines = stdout.lines();
    while let Some(l) = lines.next() {
        if l.contains(" created by Thread ") {
            let frames = lines
                .by_ref()
                .take_while(|l| l.starts_with("@ "))
                .map(|l| l.split_whitespace().nth(2).unwrap_or_default().to_owned())
                .collect();
            stacks.push(frames);
        }
    }
    stacks
}

fn assert_reports_the_cycle(out: &Output, root: &std::path::Path, pid: u32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("----------------\nPotential Deadlock Detected!\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("Cycle in lock order graph").count(), 1, "{stdout}");
    let names = cycle_names(&stdout);
    assert_eq!(names.len(), 4, "three mutexes and back: {names:?}");
    assert_eq!(names[0], names[3]);
    let mut three = names[..3].to_vec();
    three.sort();
    assert_eq!(three, ["mutex_a", "mutex_b", "mutex_c"], "{stdout}");
    // Each edge with the function that took the pair, twice (the acquired
    // and the held mutex), and the trylock that closed the cycle.
    for f in ["lock_a_then_b", "lock_b_then_c", "lock_c_then_a"] {
        assert_eq!(
            stdout.matches(&format!(" {f}+0x")).count(),
            2,
            "{f} in:\n{stdout}"
        );
    }
    assert!(stdout.contains(" pthread_mutex_trylock+0x0 [libc"), "{stdout}");
    assert_eq!(stdout.matches(" acquired here while holding ").count(), 3);
    assert_eq!(
        stdout.matches(" previously acquired by the same Thread ").count(),
        3
    );
    assert_eq!(stdout.matches(" created by Thread ").count(), 3, "{stdout}");
    for frames in creation_stacks(&stdout) {
        for f in ["pthread_create", "main"] {
            assert!(
                frames.iter().any(|s| s.starts_with(&format!("{f}+0x"))),
                "{f} in a thread creation stack: {frames:?}\n{stdout}"
            );
        }
    }
    assert!(!stderr.contains("lost"), "{stderr}");
    assert_eq!(leftovers_of(root, pid), Vec::<String>::new());
}

#[test]
fn a_cyclic_lock_order_in_a_launched_command_is_one_cycle_through_the_three_mutexes() {
    let Some(t) = live_tracing() else { return };
    let prog = lock_order();
    // "quick" exits as soon as it is done, before ftr reads a sample: the
    // stacks and mutex names come from its MMAP2 records, not /proc.
    for extra in [None, Some("quick")] {
        let child = ftr()
            .args(["deadlock", "--"])
            .arg(&prog)
            .arg("cycle")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert_reports_the_cycle(&out, t.root(), pid);
    }
}

#[test]
fn call_graph_fp_stops_thread_creation_in_libc_and_dwarf_unwinds_every_stack() {
    let Some(t) = live_tracing() else { return };
    let prog = lock_order();
    let run = |mode: &str| {
        let child = ftr()
            .args(["deadlock", "--call-graph", mode, "--"])
            .arg(&prog)
            .arg("cycle")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        (pid, child.wait_with_output().unwrap())
    };
    // The control: frame pointers alone end in clone3 → __clone_internal.
    let (pid, out) = run("fp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let stacks = creation_stacks(&stdout);
    assert_eq!(stacks.len(), 3, "{stdout}");
    for frames in stacks {
        assert!(
            !frames.iter().any(|f| f.starts_with("main+0x")),
            "frame pointers cannot walk libc's clone: {frames:?}"
        );
    }
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
    // DWARF for the lock stacks too: the same cycle, functions and stacks.
    let (pid, out) = run("dwarf");
    assert_reports_the_cycle(&out, t.root(), pid);
    assert_fails_cleanly(
        t.root(),
        &["deadlock", "--call-graph", "dwarf,7", "--", "/bin/true"],
        2,
    );
}

#[test]
fn a_consistent_lock_order_reports_no_deadlock() {
    let Some(t) = live_tracing() else { return };
    let prog = lock_order();
    let child = ftr()
        .args(["deadlock", "-v", "--"])
        .arg(&prog)
        .arg("ordered")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("No potential deadlocks detected."), "{stdout}");
    assert!(!stdout.contains("Potential Deadlock Detected"), "{stdout}");
    // a→b, b→c, a→c: three edges among three of the mutexes seen.
    assert!(stderr.contains(", Edges: 3 "), "{stderr}");
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}

/// Starts lock_order MODE waiting for a line on stdin; returns it once it
/// said "ready".
fn waiting_program(mode: &str) -> std::process::Child {
    let mut p = Command::new(lock_order())
        .args([mode, "wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(p.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    p
}

/// Starts `ftr deadlock ARGS` and returns it once it is tracing.
fn tracing_ftr(args: &[String]) -> (std::process::Child, BufReader<std::process::ChildStderr>) {
    let mut f = ftr()
        .arg("deadlock")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(f.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if line.contains("Tracing...") {
            return (f, err);
        }
        line.clear();
    }
    let status = f.wait();
    panic!("ftr deadlock did not start: {status:?}");
}

fn finish(f: std::process::Child, mut err: BufReader<std::process::ChildStderr>) -> Output {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let mut out = f.wait_with_output().unwrap();
    out.stderr = rest.into_bytes();
    out
}

#[test]
fn attaching_with_p_finds_the_cycle_and_the_positional_pid_works_too() {
    let Some(t) = live_tracing() else { return };
    for flag in [Some("-p"), None] {
        let mut prog = waiting_program("cycle");
        let mut args: Vec<String> = flag.iter().map(|s| s.to_string()).collect();
        args.push(prog.id().to_string());
        let (f, err) = tracing_ftr(&args);
        let pid = f.id();
        writeln!(prog.stdin.as_mut().unwrap(), "go").unwrap();
        let out = finish(f, err);
        assert_reports_the_cycle(&out, t.root(), pid);
        assert!(prog.wait().unwrap().success());
    }
}

#[test]
fn ctrl_c_ends_with_the_summary_and_removes_the_uprobes() {
    let Some(t) = live_tracing() else { return };
    let mut prog = waiting_program("ordered");
    let (f, err) = tracing_ftr(&[prog.id().to_string()]);
    let pid = f.id();
    let group = format!("ftr_{pid}_");
    let defined = std::fs::read_to_string(t.path("uprobe_events")).unwrap();
    assert!(
        defined.contains(&group),
        "uprobes defined while tracing: {defined}"
    );
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = finish(f, err);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No potential deadlocks detected."), "{stdout}");
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
    prog.kill().unwrap();
    prog.wait().unwrap();
}

#[test]
fn bad_pids_missing_functions_and_a_static_program_fail_in_one_line() {
    let Some(t) = live_tracing() else { return };
    let root = t.root();
    assert_fails_cleanly(root, &["deadlock", "999999999"], 1);
    assert_fails_cleanly(root, &["deadlock", "-p", "0"], 1);
    assert_fails_cleanly(root, &["deadlock"], 2);
    assert_fails_cleanly(root, &["deadlock", "--binary", "/bin/true", "--", "/bin/true"], 1);
    assert_fails_cleanly(
        root,
        &["deadlock", "--lock-symbols", "no_such_lock_fn", "--", "/bin/true"],
        1,
    );
    // A statically linked program maps no libc.
    let src = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("static_sleeper.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(void){ sleep(30); return 0; }\n",
    )
    .unwrap();
    let bin = src.with_extension("");
    let built = Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED (static part): cc -static failed here");
        return;
    }
    let mut p = Command::new(&bin).spawn().unwrap();
    let pid = p.id().to_string();
    let out = ftr().args(["deadlock", "-p", &pid]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not map") && err.contains("libc"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    p.kill().unwrap();
    p.wait().unwrap();
}

#[test]
fn after_a_sigkill_the_next_ftr_removes_the_uprobes() {
    let Some(t) = live_tracing() else { return };
    let mut prog = waiting_program("ordered");
    let (mut f, _err) = tracing_ftr(&["-p".to_owned(), prog.id().to_string()]);
    let pid = f.id();
    assert!(
        !leftovers_of(t.root(), pid).is_empty(),
        "probes defined while tracing"
    );
    f.kill().unwrap();
    f.wait().unwrap();
    assert!(
        !leftovers_of(t.root(), pid).is_empty(),
        "a SIGKILLed ftr cannot clean up itself"
    );
    // Any ftr that changes tracing state reclaims groups of dead pids.
    let out = ftr()
        .args(["deadlock", "--"])
        .arg(lock_order())
        .arg("ordered")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
    prog.kill().unwrap();
    prog.wait().unwrap();
}
