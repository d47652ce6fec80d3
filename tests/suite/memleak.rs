//! `ftr memleak` against a program that leaks a known pattern
//! (fixtures/progs/leaky.c, built with frame pointers): exact outstanding
//! bytes and allocations per leaking function, nothing from the function
//! that frees all it allocates, with -c and with -p; -a's addresses;
//! one-line errors; nothing left in uprobe_events. Built without frame
//! pointers (with Debian's libc, which has none either), the same exact
//! figures by whole stacks with `--call-graph dwarf`.

use crate::util::{assert_fails_cleanly, c_program_with, ftr, kernel_required, leftovers_of, live_tracing};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// (function, bytes, allocations) leaky.c leaves outstanding.
const LEAKS: [(&str, u64, u64); 4] = [
    ("leak_a", 100 * 1000, 100),
    ("leak_b", 50 * 4096, 50),
    ("grow", 10 * 300, 10),
    ("aligned", 5 * 512, 5),
];

fn usable() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    let uprobes = live_tracing().is_some_and(|t| t.path("uprobe_events").exists());
    if root && uprobes {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but memleak cannot run (root: {root}, uprobe_events: {uprobes})"
    );
    eprintln!("SKIPPED: memleak needs root and uprobe_events (root: {root}, uprobe_events: {uprobes})");
    false
}

fn leaky() -> PathBuf {
    c_program_with("leaky", "fp", &["-O1", "-fno-omit-frame-pointer"])
}

/// leaky.c at -O2 without frame pointers (its leaking functions are
/// noinline, so each keeps its own frame for DWARF to find).
fn leaky_without_frame_pointers() -> PathBuf {
    c_program_with("leaky", "nofp", &["-O2", "-fomit-frame-pointer"])
}

/// The symbol of a frame: `leak_a+0x1d [leaky]` -> `leak_a`.
fn function(frame: &Value) -> String {
    let s = frame["symbol"].as_str().unwrap_or_default();
    s.split(['+', ' ']).next().unwrap_or_default().to_owned()
}

/// Checks a JSON report: each leak's stack (found by its innermost
/// frame) with exactly its bytes and count, and no stack through no_leak.
fn check_leaks(report: &Value) {
    let stacks = report["stacks"].as_array().expect("stacks");
    for (func, bytes, n) in LEAKS {
        let found: Vec<&Value> = stacks
            .iter()
            .filter(|s| s["frames"].get(0).is_some_and(|f| function(f) == func))
            .collect();
        assert_eq!(found.len(), 1, "one stack from {func}: {report:#}");
        assert_eq!(found[0]["bytes"].as_u64(), Some(bytes), "{func}: {report:#}");
        assert_eq!(found[0]["allocations"].as_u64(), Some(n), "{func}: {report:#}");
        let frames: Vec<String> = found[0]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(function)
            .collect();
        assert!(
            frames.contains(&"main".to_owned()),
            "{func}'s stack reaches main: {frames:?}"
        );
    }
    for s in stacks {
        for f in s["frames"].as_array().unwrap() {
            assert_ne!(
                function(f),
                "no_leak",
                "no_leak frees all it allocates: {report:#}"
            );
        }
    }
}

#[test]
fn c_reports_exactly_the_leaked_blocks_by_stack() {
    if !usable() {
        return;
    }
    let prog = leaky();
    let cmd = format!("{} run", prog.display());
    let child = ftr()
        .args(["memleak", "-T", "100", "--json", "-c", &cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("Executing '{cmd}' and tracing the resulting process.").as_str())
    );
    let reports: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    // A short program: its exit ends tracing with the one final report,
    // which counts every block (-o no longer applies: none can be freed).
    assert_eq!(reports.len(), 1, "{stdout}");
    check_leaks(&reports[0]);
    assert_eq!(reports[0]["lost"].as_u64(), Some(0));
    if let Some(t) = live_tracing() {
        assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
    }
}

#[test]
fn call_graph_dwarf_unwinds_a_build_without_frame_pointers() {
    if !usable() {
        return;
    }
    let prog = leaky_without_frame_pointers();
    let cmd = format!("{} run", prog.display());
    let run = |mode: &str| {
        let child = ftr()
            .args(["memleak", "-T", "100", "--json", "--call-graph", mode, "-c", &cmd])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let reports: Vec<Value> = stdout
            .lines()
            .skip(1)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(reports.len(), 1, "{stdout}");
        if let Some(t) = live_tracing() {
            assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
        }
        (reports.into_iter().next().unwrap(), stderr)
    };
    let (report, stderr) = run("dwarf");
    check_leaks(&report);
    assert_eq!(report["lost"].as_u64(), Some(0), "{stderr}");
    assert!(!stderr.contains("--call-graph dwarf"), "{stderr}");
    // The control: with frame pointers the uretprobe's registers still
    // name the allocating function, but the walk past it reads junk and
    // never reaches main; memleak says so once and points to dwarf.
    let (report, stderr) = run("fp");
    for s in report["stacks"].as_array().unwrap() {
        let frames: Vec<String> = s["frames"].as_array().unwrap().iter().map(function).collect();
        assert!(
            !frames.contains(&"main".to_owned()),
            "frame pointers walked through code built without: {frames:?}"
        );
    }
    assert_eq!(stderr.matches("--call-graph dwarf").count(), 1, "{stderr}");
}

#[test]
fn c_text_report_has_bccs_layout() {
    if !usable() {
        return;
    }
    let prog = leaky();
    let out = ftr()
        .args(["memleak", "-T", "2", "-c", &format!("{} run", prog.display())])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Executing '"), "{text}");
    let header = lines[1];
    assert!(
        header.starts_with('[') && header.ends_with("] Top 2 stacks with outstanding allocations:"),
        "{text}"
    );
    // -T 2 keeps the two biggest, smallest first: leak_a's then leak_b's.
    let heads: Vec<&&str> = lines
        .iter()
        .filter(|l| l.ends_with("allocations from stack"))
        .collect();
    assert_eq!(
        heads,
        [
            &"\t100000 bytes in 100 allocations from stack",
            &"\t204800 bytes in 50 allocations from stack"
        ],
        "{text}"
    );
    let first_frame = lines[3];
    assert!(
        first_frame.starts_with("\t\t0x") && first_frame.contains("\tleak_a+0x"),
        "{text}"
    );
    assert!(
        first_frame.ends_with(" [leaky-fp]") || first_frame.contains("[prog-leaky"),
        "{text}"
    );
}

#[test]
fn p_attaches_to_a_running_program_and_reports_on_ctrl_c() {
    if !usable() {
        return;
    }
    attach_and_check(leaky(), &[]);
    // Without frame pointers the unwinder reads the maps of the running
    // process at its first unwind (no MMAP record names them).
    attach_and_check(leaky_without_frame_pointers(), &["--call-graph", "dwarf"]);
}

/// Attaches `ftr memleak -a -o 0 EXTRA -p` to `prog wait`, lets it
/// allocate, and checks the report printed on Ctrl-C.
fn attach_and_check(prog: PathBuf, extra: &[&str]) {
    let mut target = Command::new(&prog)
        .arg("wait")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut target_in = target.stdin.take().unwrap();
    let mut target_out = BufReader::new(target.stdout.take().unwrap());
    let mut line = String::new();
    target_out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let mut tool = ftr()
        .args(["memleak", "-a", "-o", "0", "-T", "100", "--json"])
        .args(extra)
        .args(["-p", &target.id().to_string(), "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tool_out = BufReader::new(tool.stdout.take().unwrap());
    line.clear();
    tool_out.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        format!("Attaching to pid {}, Ctrl+C to quit.\n", target.id())
    );
    // Attached: now let the program allocate.
    writeln!(target_in, "go").unwrap();
    line.clear();
    target_out.read_line(&mut line).unwrap();
    assert_eq!(line, "done\n");
    kill(Pid::from_raw(tool.id() as i32), Signal::SIGINT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut tool_out, &mut rest).unwrap();
    let status = tool.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut tool.stderr.take().unwrap(), &mut err).unwrap();
    writeln!(target_in, "exit").unwrap();
    target.wait().unwrap();
    assert!(status.success(), "{err}");
    let reports: Vec<Value> = rest.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = reports.last().expect("a final report on Ctrl-C");
    check_leaks(last);
    // -a: one address per outstanding block counted, with its size.
    let addrs = last["allocations"].as_array().expect("-a lists addresses");
    let in_stacks: u64 = last["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["allocations"].as_u64().unwrap())
        .sum();
    assert_eq!(addrs.len() as u64, in_stacks, "{last:#}");
    for (_, bytes, n) in LEAKS {
        let size = bytes / n;
        let count = addrs.iter().filter(|a| a["size"].as_u64() == Some(size)).count() as u64;
        assert!(count >= n, "{n} blocks of {size} bytes among the addresses");
    }
}

#[test]
fn bad_input_fails_in_one_line() {
    if !usable() {
        return;
    }
    let Some(t) = live_tracing() else { return };
    let root = t.root();
    assert_fails_cleanly(root, &["memleak", "-p", "999999999"], 1);
    assert_fails_cleanly(root, &["memleak", "-p", "1", "-O", "no-such-allocator-lib"], 1);
    assert_fails_cleanly(root, &["memleak", "-p", "1", "-z", "100", "-Z", "10"], 1);
    assert_fails_cleanly(root, &["memleak", "-c", "/nonexistent/ftr-prog"], 1);
    // One target at most (none is kernel mode, tests/suite/memleak_kernel.rs).
    assert_fails_cleanly(root, &["memleak", "-p", "1", "-c", "true"], 2);
    assert_fails_cleanly(root, &["memleak", "-p", "1", "--call-graph", "lbr"], 2);
}

#[test]
fn sigkill_leaves_no_probe_behind() {
    if !usable() {
        return;
    }
    let Some(t) = live_tracing() else { return };
    let prog = leaky();
    let mut target = Command::new(&prog)
        .arg("wait")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut target_out = BufReader::new(target.stdout.take().unwrap());
    let mut line = String::new();
    target_out.read_line(&mut line).unwrap();
    let mut tool = ftr()
        .args(["memleak", "-p", &target.id().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut tool_out = BufReader::new(tool.stdout.take().unwrap());
    line.clear();
    tool_out.read_line(&mut line).unwrap();
    assert!(line.starts_with("Attaching to pid"), "{line}");
    kill(Pid::from_raw(tool.id() as i32), Signal::SIGKILL).unwrap();
    tool.wait().unwrap();
    // The probes' group outlives a SIGKILL (no code runs); the next ftr
    // command that touches tracing reclaims it.
    assert!(ftr().args(["doctor"]).output().unwrap().status.success());
    assert_eq!(leftovers_of(t.root(), tool.id()), Vec::<String>::new());
    // The program runs on unharmed, its allocations no longer trapped.
    let mut target_in = target.stdin.take().unwrap();
    writeln!(target_in, "go").unwrap();
    line.clear();
    target_out.read_line(&mut line).unwrap();
    assert_eq!(line, "done\n");
    writeln!(target_in, "exit").unwrap();
    assert!(target.wait().unwrap().success());
}

#[test]
fn a_traced_command_still_creates_threads_and_their_leaks_count() {
    if !usable() {
        return;
    }
    // Perf uprobe PMU events inherited into a command make its clone fail
    // (EFAULT): the probes must be tracefs uprobes sampled as tracepoints.
    let prog = c_program_with(
        "leak_threads",
        "fp",
        &["-O0", "-fno-omit-frame-pointer", "-pthread"],
    );
    let out = ftr()
        .args(["memleak", "--json", "-c", prog.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no report: {stdout}"));
    let stacks = report["stacks"].as_array().expect("stacks");
    let leak: Vec<&Value> = stacks
        .iter()
        .filter(|s| s["frames"].get(0).is_some_and(|f| function(f) == "thread_leak"))
        .collect();
    assert_eq!(leak.len(), 1, "{report:#}");
    assert_eq!(leak[0]["bytes"].as_u64(), Some(1000), "{report:#}");
    assert_eq!(leak[0]["allocations"].as_u64(), Some(10), "{report:#}");
}
