//! trace.dat both ways (issue 8): `ftr report` against `trace-cmd report`
//! on real v6 files from old kernels, on files trace-cmd records here (v6
//! and v7), and on files `ftr record` writes; truncated files; CLI errors.

use crate::suite::tp::start_tracing;
use crate::util::{c_program, kernel_data, leftovers_of, live_tracing, run_ftr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real v6 files of the old-kernels archive.
fn old_dat_files() -> Vec<PathBuf> {
    let root = kernel_data("old-kernels-public");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() && !p.to_string_lossy().ends_with(".extracted") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "dat") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert_eq!(out.len(), 5, "the archive holds five trace.dat files");
    out
}

fn ftr_report(file: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report", "-i", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_ftr(&args);
    assert!(
        out.status.success(),
        "ftr report {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

/// `trace-cmd report -i FILE`, or None (with a message) when trace-cmd is
/// not installed and FTR_REQUIRE_KERNEL is unset.
fn trace_cmd_report(file: &Path) -> Option<String> {
    match Command::new("trace-cmd")
        .args(["report", "-i"])
        .arg(file)
        .output()
    {
        Ok(o) => {
            assert!(o.status.success(), "trace-cmd report {} failed", file.display());
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        Err(e) => {
            if crate::util::kernel_required() {
                panic!("trace-cmd is needed: {e}");
            }
            eprintln!("SKIPPED: trace-cmd is not installed ({e})");
            None
        }
    }
}

/// Lines equal at the same position, over the longer of the two.
fn match_rate(a: &str, b: &str) -> (usize, usize) {
    let (a, b): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    (same, a.len().max(b.len()))
}

/// The report without its task-name column (the name before `-PID`).
/// In a live recording that column is not always trace-cmd's to predict:
/// libtraceevent adds the comms its sched_switch plugin learns while
/// printing to an unsorted list without checking for duplicates until the
/// first pid other than 0 is looked up (`_tep_register_comm` before
/// `cmdline_init`). When the first records are the idle task's, a pid
/// that exec'd during the trace is then in the table twice, with its
/// old comm (from the record) and its new one (from the file's saved
/// cmdlines), and bsearch finds either; ftr takes the saved one. The same
/// happens with -F hiding records or in a split piece.
fn without_comm(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(" [") {
            Some((head, rest)) => {
                let pid = head.rsplit_once('-').map_or(head, |(_, pid)| pid);
                format!("{pid} [{rest}\n")
            }
            None => format!("{l}\n"),
        })
        .collect()
}

/// [`assert_identical`] for live recordings: every byte but the task-name
/// column (see [`without_comm`]), which may name an exec'd pid by its old
/// comm in trace-cmd's output.
fn assert_same_records(what: &str, theirs: &str, ours: &str) {
    assert_identical(what, &without_comm(theirs), &without_comm(ours));
    let (same, total) = match_rate(theirs, ours);
    if same != total {
        eprintln!(
            "{what}: {} lines differ in the task-name column only",
            total - same
        );
    }
}

fn assert_identical(what: &str, theirs: &str, ours: &str) {
    let (same, total) = match_rate(theirs, ours);
    if same != total {
        let first = theirs
            .lines()
            .zip(ours.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("\n trace-cmd: {a}\n ftr:       {b}"))
            .unwrap_or_default();
        panic!("{what}: {same} of {total} lines match{first}");
    }
}

#[test]
fn old_kernel_v6_files_parse_and_print_known_lines() {
    // Lines from `trace-cmd report` 3.1.6 on the same files.
    let expect = [
        (
            "trace_idle.dat",
            "       trace-cmd-6244  [005] 162534.215742: sched_switch:         trace-cmd:6244 [120] x ==> swapper/5:0 [120]",
        ),
        (
            "ARM-software+trappy/tests/trace.dat",
            "          <idle>-0     [003]  7615.709442: bprint:               0xc044504c: cpu_load: cpu: 3 freq: 800000 load: 0",
        ),
        (
            "intel-gpu-tools/tests/trace.dat",
            "       flip_test-3058  [001]  3216.491095: i915_reg_rw:          read reg=0x48254, len=4, val=(0x0, 0x0)",
        ),
        (
            "sched_load/trace.dat",
            "          <idle>-0     [002]  2084.021502: sched_load_se:        cpu=2 path=(null) comm=kworker/2:1 pid=2923 load=0 util=0",
        ),
    ];
    let files = old_dat_files();
    for (name, line) in expect {
        let f = files
            .iter()
            .find(|f| f.to_string_lossy().ends_with(name))
            .unwrap_or_else(|| panic!("{name} is in the archive"));
        let out = ftr_report(f, &[]);
        assert!(out.starts_with("cpus="), "{name}: {}", &out[..out.len().min(80)]);
        assert!(out.lines().any(|l| l == line), "{name} lacks {line:?}");
    }
}

#[test]
fn old_kernel_v6_files_match_trace_cmd_report_line_for_line() {
    for f in old_dat_files() {
        let Some(theirs) = trace_cmd_report(&f) else {
            return;
        };
        let ours = ftr_report(&f, &[]);
        let (same, total) = match_rate(&theirs, &ours);
        eprintln!("{}: {same}/{total} lines match", f.display());
        assert_identical(&f.display().to_string(), &theirs, &ours);
    }
}

#[test]
fn report_filters_one_cpu_and_prints_formats() {
    let f = old_dat_files()
        .into_iter()
        .find(|f| f.ends_with("trace_idle.dat"))
        .unwrap();
    let out = ftr_report(&f, &["--cpu", "2"]);
    let lines: Vec<_> = out.lines().skip(1).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.contains(" [002] ")), "{out}");
    let formats = ftr_report(&f, &["--events"]);
    assert!(formats.contains("name: sched_switch"));
    let raw = ftr_report(&f, &["-R"]);
    assert!(
        raw.contains("prev_comm=trace-cmd prev_pid=6244"),
        "{}",
        &raw[..400]
    );
}

/// Every prefix of a real file is refused with an error, never a panic.
#[test]
fn truncated_files_give_one_line_errors() {
    let f = old_dat_files()
        .into_iter()
        .find(|f| f.ends_with("trace_idle.dat"))
        .unwrap();
    let bytes = std::fs::read(&f).unwrap();
    let dir = test_dir("trunc");
    for cut in [0, 5, 12, 17, 40, 1000, 6000, 100_000, bytes.len() - 4097] {
        let p = dir.join(format!("cut{cut}.dat"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let out = run_ftr(&["report", "-i", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "cut at {cut}: {err}");
        assert_eq!(err.lines().count(), 1, "cut at {cut}: {err}");
        assert!(err.contains("parsing") || err.contains("header_page"), "{err}");
    }
    let out = run_ftr(&["report", "-i", "/nonexistent/trace.dat"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn record_writes_v6_that_trace_cmd_reads_identically() {
    let Some(t) = live_tracing() else { return };
    let prog = c_program("exec_true");
    let dir = test_dir("rec");
    let file = dir.join("sched.dat");
    let tracer = start_tracing(&[
        "record",
        "-e",
        "sched:sched_switch",
        "-e",
        "sched:sched_process_exec",
        "-o",
        file.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
        "20",
    ]);
    let mut tracer = tracer;
    let ftr_pid = tracer.child.id();
    let status = tracer.child.wait().unwrap();
    // Read stderr to its end (Tracer::finish only takes what has arrived).
    let err: Vec<String> = tracer.stderr.iter().collect();
    assert!(status.success(), "{err:?}");
    assert!(
        err.iter().any(|l| l.starts_with("CPU0:")),
        "per-CPU stats: {err:?}"
    );
    assert_eq!(leftovers_of(t.root(), ftr_pid), Vec::<String>::new());
    assert!(!dir.join("sched.dat.cpu0").exists(), "spool files are removed");

    let ours = ftr_report(&file, &[]);
    let execs = ours
        .lines()
        .filter(|l| l.contains("sched_process_exec:") && l.contains("filename=/bin/true"))
        .count();
    assert_eq!(execs, 20, "{ours}");
    assert!(ours
        .lines()
        .any(|l| l.contains("sched_switch:") && l.contains(" ==> ")));
    let Some(theirs) = trace_cmd_report(&file) else {
        return;
    };
    assert_eq!(theirs.lines().count(), ours.lines().count());
    assert_same_records("ftr record", &theirs, &ours);
}

#[test]
fn record_covers_irq_timer_and_syscalls_like_trace_cmd() {
    let Some(_t) = live_tracing() else { return };
    let dir = test_dir("rec2");
    let file = dir.join("mix.dat");
    let out = run_ftr(&[
        "record",
        "-e",
        "irq",
        "-e",
        "timer",
        "-e",
        "sched",
        "-e",
        "syscalls:sys_enter_openat",
        "-e",
        "syscalls:sys_exit_openat",
        "-e",
        "raw_syscalls",
        "-o",
        file.to_str().unwrap(),
        "--",
        "/bin/sh",
        "-c",
        "for i in 1 2 3; do cat /etc/hostname >/dev/null; sleep 0.01; done",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours = ftr_report(&file, &[]);
    assert!(ours.contains("sys_enter_openat:"), "no openat in the report");
    let Some(theirs) = trace_cmd_report(&file) else {
        return;
    };
    assert_same_records("irq/timer/sched/syscalls", &theirs, &ours);
}

fn shim() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/trace-cmd-shim.sh");
    let p = if p.exists() {
        p
    } else {
        PathBuf::from("/work/shared/trace-cmd-shim.sh")
    };
    if p.exists() && Command::new("trace-cmd").arg("-h").output().is_ok() {
        return Some(p);
    }
    if crate::util::kernel_required() {
        panic!("trace-cmd and its shim are needed");
    }
    eprintln!("SKIPPED: trace-cmd or trace-cmd-shim.sh is missing");
    None
}

#[test]
fn trace_cmd_recorded_v6_and_v7_read_identically() {
    let Some(_t) = live_tracing() else { return };
    let Some(shim) = shim() else { return };
    let dir = test_dir("tc");
    for (name, extra) in [
        ("v6.dat", vec!["--file-version", "6"]),
        ("v7.dat", vec![]),
        ("v7z.dat", vec!["--compression", "zstd"]),
    ] {
        let file = dir.join(name);
        let mut args = vec![
            "record",
            "-e",
            "sched:sched_switch",
            "-e",
            "sched:sched_wakeup",
            "-e",
            "sched:sched_process_exec",
            "-o",
        ];
        args.push(file.to_str().unwrap());
        args.extend(extra);
        args.extend([
            "--",
            "/bin/sh",
            "-c",
            "for i in 1 2 3; do /bin/true; sleep 0.01; done",
        ]);
        let out = Command::new(&shim).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = trace_cmd_report(&file).unwrap();
        let ours = ftr_report(&file, &[]);
        assert!(ours.lines().count() > 10, "{name}: {ours}");
        assert_same_records(name, &theirs, &ours);
    }
}

#[test]
fn record_errors_are_one_line_and_leave_nothing() {
    let out = run_ftr(&["record"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses a missing -e");
    let Some(t) = live_tracing() else { return };
    let dir = test_dir("rec3");
    let file = dir.join("x.dat");
    let out = run_ftr(&[
        "record",
        "-e",
        "nosuchsys:nosuchevent",
        "-o",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuchsys"), "{err}");
    assert!(!file.exists());
    let out = run_ftr(&[
        "record",
        "-e",
        "sched:sched_switch",
        "-f",
        "no_such_field == 1",
        "-o",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.join("x.dat.cpu0").exists());
    let _ = t;
}

/// A fresh directory for one test's files under the target's tmp dir.
fn test_dir(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records sched_switch, sched_wakeup and sched_process_exec while a shell
/// lists / `loops` times, into `dir/name`.
fn record_sched_workload(dir: &Path, name: &str, loops: u32) -> PathBuf {
    let file = dir.join(name);
    let script = format!("for i in $(seq {loops}); do ls / >/dev/null; done");
    let out = run_ftr(&[
        "record",
        "-e",
        "sched:sched_switch",
        "-e",
        "sched:sched_wakeup",
        "-e",
        "sched:sched_process_exec",
        "-o",
        file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    file
}

/// The pids of the lines of a report (`comm-PID [cpu] ...`).
fn report_pids(report: &str) -> Vec<i32> {
    report
        .lines()
        .filter_map(|l| {
            let head = l.split(" [").next()?.trim();
            head.rsplit_once('-')?.1.parse().ok()
        })
        .collect()
}

#[test]
fn record_f_keeps_only_the_command_and_its_children() {
    let Some(t) = live_tracing() else { return };
    let dir = test_dir("recF");
    let file = dir.join("f.dat");
    // Other processes exec while the command runs: none of theirs may be recorded.
    let mut noise = Command::new("sh")
        .args(["-c", "for i in $(seq 200); do /bin/true; done"])
        .spawn()
        .unwrap();
    let out = run_ftr(&[
        "record",
        "-F",
        "-e",
        "sched:sched_process_exec",
        "-e",
        "sched:sched_process_fork",
        "-o",
        file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "/bin/true; /bin/true; /bin/true",
    ]);
    noise.wait().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = ftr_report(&file, &[]);
    let execs: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("sched_process_exec:"))
        .collect();
    // sh itself and its three children, nothing else.
    assert_eq!(execs.len(), 4, "{report}");
    assert!(!report.contains("ftr-spawn"), "{report}");
    let pids = report_pids(&report);
    let sh = pids[0];
    let forks: Vec<i32> = report
        .lines()
        .filter(|l| l.contains("sched_process_fork:"))
        .filter_map(|l| l.rsplit("child_pid=").next()?.trim().parse().ok())
        .collect();
    for p in pids {
        assert!(
            p == sh || forks.contains(&p),
            "pid {p} is neither sh {sh} nor its child:\n{report}"
        );
    }
    let out = run_ftr(&[
        "record",
        "-F",
        "-e",
        "sched:sched_process_exec",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(leftovers_of(t.root(), std::process::id()), Vec::<String>::new());
}

#[test]
fn record_p_keeps_only_that_process() {
    let Some(_t) = live_tracing() else { return };
    let dir = test_dir("recP");
    let file = dir.join("p.dat");
    let mut target = Command::new("sleep").arg("0.4").spawn().unwrap();
    let pid = target.id().to_string();
    let out = run_ftr(&[
        "record",
        "-P",
        &pid,
        "-e",
        "sched:sched_process_exit",
        "-o",
        file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "sleep 0.6; /bin/true",
    ]);
    target.wait().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = ftr_report(&file, &[]);
    let exits: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("sched_process_exit:"))
        .collect();
    assert_eq!(exits.len(), 1, "only the -P process exits are kept:\n{report}");
    assert!(exits[0].contains(&format!("pid={pid} ")), "{report}");
}

#[test]
fn record_date_stamps_wall_clock_time_that_trace_cmd_reads() {
    let Some(_t) = live_tracing() else { return };
    let dir = test_dir("recD");
    let file = dir.join("d.dat");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let before = now();
    let out = run_ftr(&[
        "record",
        "--date",
        "-F",
        "-e",
        "sched:sched_process_exec",
        "-o",
        file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "/bin/true",
    ]);
    let after = now();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours = ftr_report(&file, &[]);
    let stamps: Vec<f64> = ours
        .lines()
        .filter(|l| l.contains("sched_process_exec:"))
        .filter_map(|l| l.split("] ").nth(1)?.split(':').next()?.trim().parse().ok())
        .collect();
    assert_eq!(stamps.len(), 2, "{ours}");
    for s in stamps {
        assert!(
            before <= s && s <= after,
            "{s} not within [{before}, {after}]:\n{ours}"
        );
    }
    if let Some(theirs) = trace_cmd_report(&file) {
        assert_same_records("ftr record --date", &theirs, &ours);
    }
}

#[test]
fn record_shows_a_live_status_line_on_a_terminal() {
    let Some(_t) = live_tracing() else { return };
    let Ok(_) = Command::new("script").arg("--version").output() else {
        eprintln!("SKIPPED: script(1) is not installed to give ftr a terminal");
        return;
    };
    let dir = test_dir("recS");
    let file = dir.join("s.dat");
    let cmd = format!(
        "{} record -e sched:sched_switch -o {} -- sleep 2.5",
        env!("CARGO_BIN_EXE_ftr"),
        file.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" events (") && text.contains("MB spooled") && text.contains(" lost"),
        "{text}"
    );
    // Not on a pipe: the run above through run_ftr never prints it.
    let piped = run_ftr(&[
        "record",
        "-e",
        "sched:sched_switch",
        "-o",
        file.to_str().unwrap(),
        "--",
        "sleep",
        "1.2",
    ]);
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("spooled"));
}

#[test]
fn report_filters_match_trace_cmd_report_f() {
    let Some(_t) = live_tracing() else { return };
    let dir = test_dir("recFlt");
    let file = record_sched_workload(&dir, "flt.dat", 3);
    let filters = [
        "sched_switch",
        "sched_process_exec",
        "sched_switch: prev_pid == 0",
        "sched_switch: prev_comm =~ \"^k\" && next_pid > 10",
        "sched: common_pid != 0",
        "sched_wakeup,sched_switch: COMM == \"ls\"",
        "sched/sched_w.*: target_cpu == 1 || pid < 100",
        "sched_switch: (prev_state & 1) && !(next_pid == 0)",
        "sched_switch: prev_pid > 100 && prev_pid < 20000",
        "sched_switch: CPU == 1",
    ];
    for f in filters {
        let ours = ftr_report(&file, &["-F", f]);
        // trace-cmd applies -F only when it comes before -i.
        let Ok(o) = Command::new("trace-cmd")
            .args(["report", "-F", f, "-i"])
            .arg(&file)
            .output()
        else {
            return;
        };
        let theirs = String::from_utf8_lossy(&o.stdout);
        if matches!(f, "sched_switch" | "sched_process_exec") {
            assert!(ours.lines().count() > 1, "{f}: {ours}");
        }
        assert_same_records(&format!("-F {f}"), &theirs, &ours);
    }
    // Two filters: either may match.
    let both = ftr_report(
        &file,
        &["-F", "sched_process_exec", "-F", "sched_switch: CPU == 1"],
    );
    let count = |s: &str, w: &str| s.lines().filter(|l| l.contains(w)).count();
    assert_eq!(
        count(&both, "sched_process_exec:"),
        count(
            &ftr_report(&file, &["-F", "sched_process_exec"]),
            "sched_process_exec:"
        )
    );
    for bad in [
        "sched_switch: prev_pid ==",
        "no_such_event",
        "sched_switch: prev_comm =~ '('",
    ] {
        let out = run_ftr(&["report", "-i", file.to_str().unwrap(), "-F", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "{bad}");
    }
}

#[test]
fn split_pieces_read_back_as_the_whole() {
    let Some(_t) = live_tracing() else { return };
    let dir = test_dir("split");
    let file = record_sched_workload(&dir, "whole.dat", 5);
    let body = |text: String| -> Vec<String> { text.lines().skip(1).map(str::to_owned).collect() };
    let whole = body(ftr_report(&file, &[]));
    assert!(whole.len() > 50, "{whole:?}");
    let out = run_ftr(&["split", "-i", file.to_str().unwrap(), "-e", "40", "-r"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pieces: Vec<PathBuf> = (1..)
        .map(|n| dir.join(format!("whole.dat.{n:04}")))
        .take_while(|p| p.exists())
        .collect();
    assert_eq!(
        pieces.len(),
        whole.len().div_ceil(40),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut joined = Vec::new();
    for p in &pieces {
        let part = body(ftr_report(p, &[]));
        assert!(part.len() <= 40);
        // Each piece is a trace.dat trace-cmd reads line for line alike.
        if let Some(theirs) = trace_cmd_report(p) {
            assert_same_records("split piece", &theirs, &ftr_report(p, &[]));
        }
        joined.extend(part);
    }
    assert_eq!(joined, whole, "the pieces hold every record once, in order");
    // The first 5 ms only, by time.
    let first = dir.join("first.dat");
    let out = run_ftr(&[
        "split",
        "-i",
        file.to_str().unwrap(),
        "-m",
        "5",
        "-o",
        first.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let part = body(ftr_report(&first, &[]));
    assert!(!part.is_empty() && part.len() < whole.len());
    assert_eq!(part[..], whole[..part.len()]);
    for (bad, code) in [
        (&["-e", "0"][..], 1),
        (&["3", "1"][..], 1),
        (&["-e", "5", "-m", "2"][..], 2),
    ] {
        let out = run_ftr(
            &[
                &["split", "-i", file.to_str().unwrap(), "-o", "/dev/null"][..],
                bad,
            ]
            .concat(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{bad:?}: {err}");
        if code == 1 {
            assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        }
    }
}
