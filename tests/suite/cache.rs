//! `ftr cachestat` and `ftr cachetop` on this kernel, against a known
//! workload: a 200 MB file on the disk read cold (after drop_caches), read
//! again, and written. The workload runs as one process that ftr watches
//! with `-p`, so other tests' I/O does not blur the counts. On a kernel
//! without kprobes or the function tracer this is the tracepoint method.

use super::tp::start_tracing;
use crate::util::{
    assert_fails_cleanly, drop_caches, global_state_lock, leftovers_of, live_tracing, run_ftr,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FILE_MB: u64 = 200;
const PAGES: u64 = FILE_MB * 1024 * 1024 / 4096;

/// A file of FILE_MB on the disk the tests build on (not tmpfs: its pages
/// must leave the cache on drop_caches), removed when dropped.
struct TestFile(PathBuf);

impl TestFile {
    fn new(name: &str) -> TestFile {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        let st = Command::new("dd")
            .args(["if=/dev/urandom", "bs=1M", "status=none"])
            .arg(format!("of={}", p.display()))
            .arg(format!("count={FILE_MB}"))
            .status()
            .unwrap();
        assert!(st.success());
        TestFile(p)
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `shell` as one process (it `exec`s the command) that starts only
/// once `ftr TOOL ARGS -p PID 600` says it is tracing, then stops ftr with
/// Ctrl-C and returns its stdout and stderr.
fn watch(tool: &str, args: &[&str], shell: &str) -> (String, Vec<String>) {
    let mut work = Command::new("sh")
        .args(["-c", &format!("read _; exec {shell}")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = work.id().to_string();
    let mut all = vec![tool];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-p", &pid, "600"]);
    let tracer = start_tracing(&all);
    work.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(work.wait().unwrap().success(), "{shell}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tracer.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (status, out, err) = tracer.finish();
    assert!(status.success(), "{tool}: {status:?} {err:?}");
    (out, err)
}

/// HITS MISSES DIRTIES of cachestat's last line.
fn last_line(out: &str) -> (u64, u64, u64, f64) {
    let l = out.lines().last().unwrap_or_default();
    let w: Vec<&str> = l.split_whitespace().collect();
    assert_eq!(w.len(), 6, "{out}");
    (
        w[0].parse().unwrap(),
        w[1].parse().unwrap(),
        w[2].parse().unwrap(),
        w[3].trim_end_matches('%').parse().unwrap(),
    )
}

fn near(v: u64, want: u64, tol: f64) -> bool {
    (v as f64 - want as f64).abs() <= tol * want as f64
}

#[test]
fn cachestat_counts_a_cold_read_a_warm_read_and_a_write() {
    let Some(_t) = live_tracing() else { return };
    let file = TestFile::new("cachestat-read");
    let written = file.0.with_extension("written");
    let _l = global_state_lock();
    drop_caches();
    let cat = format!("cat {} > /dev/null", file.0.display());
    let (out, err) = watch("cachestat", &[], &cat);
    assert!(out.starts_with("    HITS   MISSES  DIRTIES HITRATIO"), "{out}");
    let (_, misses, _, _) = last_line(&out);
    assert!(
        near(misses, PAGES, 0.05),
        "cold read: {misses} misses for {PAGES} pages\n{out}{err:?}"
    );
    let (out, _) = watch("cachestat", &[], &cat);
    let (hits, misses, _, ratio) = last_line(&out);
    assert!(ratio > 95.0 && near(hits, PAGES, 0.05), "warm read: {out}");
    assert!(misses < PAGES / 100, "warm read: {out}");
    let dd = format!(
        "dd if=/dev/zero of={} bs=1M count={FILE_MB} status=none",
        written.display()
    );
    let (out, _) = watch("cachestat", &[], &dd);
    let _ = std::fs::remove_file(&written);
    let (_, _, dirties, _) = last_line(&out);
    assert!(
        near(dirties, PAGES, 0.05),
        "write: {dirties} dirtied for {PAGES} pages\n{out}"
    );
}

#[test]
fn cachestat_prints_a_line_per_interval_with_time() {
    let Some(_t) = live_tracing() else { return };
    let out = run_ftr(&["cachestat", "-T", "1", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Tracing the page cache through "), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("TIME         HITS"), "{text}");
    for l in &lines[1..] {
        let w: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(w.len(), 7, "{l}");
        assert_eq!(w[0].len(), 8, "HH:MM:SS: {l}");
        assert!(w[4].ends_with('%'), "{l}");
    }
}

#[test]
fn cachetop_shows_the_reader() {
    let Some(_t) = live_tracing() else { return };
    let file = TestFile::new("cachetop-read");
    let _l = global_state_lock();
    // Warm the file, then read it as the watched process.
    let st = Command::new("cat")
        .arg(&file.0)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let cat = format!("cat {} > /dev/null", file.0.display());
    let (out, err) = watch("cachetop", &[], &cat);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains(" Buffers MB: ") && l.ends_with("/ Sort: HITS / Order: descending")),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "plain text when not a terminal: {out:?}");
    let row = out
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("cat"))
        .unwrap_or_else(|| panic!("no cat row: {out}{err:?}"));
    let w: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(w[1], "root", "{row}");
    let hits: u64 = w[3].parse().unwrap();
    assert!(near(hits, PAGES, 0.05), "{row}");
    assert!(w[4].parse::<u64>().unwrap() < PAGES / 100, "{row}");
}

#[test]
fn methods_this_kernel_lacks_fail_in_one_line() {
    let Some(t) = live_tracing() else { return };
    if t.path("kprobe_events").exists() {
        eprintln!("SKIPPED: this kernel has kprobe_events; the failure path is for kernels without");
        return;
    }
    assert_fails_cleanly(t.root(), &["cachestat", "--method", "kprobe"], 1);
    assert_fails_cleanly(t.root(), &["cachetop", "--method", "kprobe"], 1);
    let out = run_ftr(&["cachestat", "--method", "kprobe", "1", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kprobes: kprobe_events missing"), "{err}");
}

#[test]
fn bad_arguments_fail_cleanly() {
    let Some(t) = live_tracing() else { return };
    assert_fails_cleanly(t.root(), &["cachestat", "0"], 1);
    assert_fails_cleanly(t.root(), &["cachestat", "1", "0"], 1);
    assert_fails_cleanly(t.root(), &["cachestat", "-p", "0"], 1);
    assert_fails_cleanly(t.root(), &["cachestat", "--method", "bpf"], 2);
    assert_fails_cleanly(t.root(), &["cachetop", "-n", "0"], 1);
    assert_fails_cleanly(t.root(), &["cachetop", "-s", "NOPE"], 2);
}

#[test]
fn sigkill_then_doctor_leaves_nothing() {
    let Some(t) = live_tracing() else { return };
    let tracer = start_tracing(&["cachestat", "600"]);
    let pid = tracer.child.id();
    assert!(
        !leftovers_of(t.root(), pid).is_empty(),
        "an instance while running"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = tracer.finish();
    let out = run_ftr(&["doctor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}
