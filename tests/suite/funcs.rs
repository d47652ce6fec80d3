//! funccount, funcgraph and kprobe on the host kernel. Where the kernel
//! lacks the mechanism (this VM: no kprobe_events, the function tracers
//! refused), each must fail with one line naming what it tried and leave
//! nothing behind; where it has one, each must count or show a known
//! workload. Bad input always fails before the kernel is touched. The 6.1
//! guest (suite::guest_funcs) proves the working paths.

use crate::util::{assert_fails_cleanly, c_program, leftovers_of, live_tracing, run_ftr};
use std::process::{Command, Stdio};

/// doctor's verdict on one feature: "yes", "missing" or "refused".
fn feature(name: &str) -> String {
    let out = run_ftr(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    v["features"][name]["state"].as_str().unwrap_or("").to_owned()
}

/// Runs `ftr ARGS` that must fail with one `ftr: ` line containing every
/// word of `words`.
fn fails_naming(root: &std::path::Path, args: &[&str], words: &[&str]) {
    assert_fails_cleanly(root, args, 1);
    let err = String::from_utf8_lossy(&run_ftr(args).stderr).into_owned();
    for w in words {
        assert!(err.contains(w), "{args:?}: {w:?} missing from: {err}");
    }
}

#[test]
fn bad_probe_definitions_fail_before_touching_the_kernel() {
    let Some(t) = live_tracing() else { return };
    for def in [
        "x:vfs_read",
        "p:",
        "p:vfs_read name=%si:string",
        "p:vfs_read r=$retval",
        "r:vfs_read+8",
        "p:grp/ev vfs_read",
        "p:vfs_read a=%di:u7",
        "p:vfs_read a=+0(%si",
    ] {
        assert_fails_cleanly(t.root(), &["kprobe", def], 1);
        let err = String::from_utf8_lossy(&run_ftr(&["kprobe", def]).stderr).into_owned();
        assert!(err.starts_with("ftr: bad probe definition"), "{def}: {err}");
    }
    assert_fails_cleanly(t.root(), &["kprobe", "-n", "0", "p:vfs_read"], 1);
    assert_fails_cleanly(t.root(), &["kprobe", "-d", "0", "p:vfs_read"], 1);
    assert_fails_cleanly(t.root(), &["kprobe"], 2);
}

#[test]
fn bad_function_arguments_fail_cleanly() {
    let Some(t) = live_tracing() else { return };
    for args in [
        &["funccount", "a b"][..],
        &["funccount", "!vfs_read"],
        &["funccount", "vfs_read:mod:ext4"],
        &["funccount", "-i", "0", "vfs_read"],
        &["funccount", "-d", "nan", "vfs_read"],
        &["funccount", "no_such_function_at_all_xyz"],
        &["funcgraph", "a b"],
        &["funcgraph", "-m", "0", "vfs_read"],
        &["funcgraph", "-b", "0", "vfs_read"],
    ] {
        assert_fails_cleanly(t.root(), args, 1);
    }
    assert_fails_cleanly(t.root(), &["funccount"], 2);
    assert_fails_cleanly(t.root(), &["funcgraph"], 2);
}

#[test]
fn kprobe_prints_an_open_or_names_what_is_missing() {
    let Some(t) = live_tracing() else { return };
    let def = "p:do_sys_openat2 filename=+0(%si):string";
    if feature("kprobe_events") != "yes" {
        fails_naming(t.root(), &["kprobe", "-d", "1", def], &["kprobe_events"]);
        return;
    }
    let dir = std::env::temp_dir().join(format!("ftr-kprobe-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unique-kprobe-target");
    std::fs::write(&file, "x").unwrap();
    let go = dir.join("go");
    let mut prog = Command::new(c_program("open_read"))
        .arg(&file)
        .arg("1")
        .arg(&go)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = prog.id().to_string();
    let tracer = super::tp::start_tracing(&["kprobe", "-p", &pid, "-n", "1", "-d", "20", def]);
    std::fs::write(&go, "").unwrap();
    prog.wait().unwrap();
    let ftr_pid = tracer.child.id();
    let (status, out, err) = tracer.finish();
    assert!(status.success(), "{err:?}");
    assert!(out.contains(&format!("filename=\"{}\"", file.display())), "{out}");
    assert_eq!(leftovers_of(t.root(), ftr_pid), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn funccount_counts_reads_or_names_every_mechanism_it_tried() {
    let Some(t) = live_tracing() else { return };
    let usable = ["function profiler", "function tracer", "kprobe_events"]
        .iter()
        .any(|f| feature(f) == "yes");
    if !usable {
        fails_naming(
            t.root(),
            &["funccount", "-d", "1", "vfs_*"],
            &["function profiler", "function tracer", "kprobes"],
        );
        return;
    }
    let (status, out, err) = trace_open_read("funccount", 300, &["funccount", "-d", "3", "vfs_read"]);
    assert!(status.success(), "{err:?}");
    let count: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("vfs_read")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((300..=320).contains(&count), "{count}\n{out}");
}

/// Runs `ftr ARGS -p PID` on fixtures/progs/open_read doing `reads`
/// preads of a one-byte file, the program held until ftr is tracing;
/// returns ftr's status, stdout and stderr lines.
fn trace_open_read(tag: &str, reads: u32, args: &[&str]) -> (std::process::ExitStatus, String, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("ftr-{tag}-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("data");
    std::fs::write(&file, "x").unwrap();
    let go = dir.join("go");
    let mut prog = Command::new(c_program("open_read"))
        .arg(&file)
        .arg(reads.to_string())
        .arg(&go)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = prog.id().to_string();
    let mut argv = args.to_vec();
    argv.splice(1..1, ["-p", pid.as_str()]);
    let tracer = super::tp::start_tracing(&argv);
    std::fs::write(&go, "").unwrap();
    prog.wait().unwrap();
    let result = tracer.finish();
    std::fs::remove_dir_all(&dir).unwrap();
    result
}

#[test]
fn funcgraph_shows_reads_or_names_what_is_missing() {
    let Some(t) = live_tracing() else { return };
    if feature("function_graph tracer") != "yes" {
        fails_naming(
            t.root(),
            &["funcgraph", "-d", "1", "vfs_read"],
            &["function_graph"],
        );
        return;
    }
    let (status, out, err) = trace_open_read("funcgraph", 3, &["funcgraph", "-d", "5", "vfs_read"]);
    assert!(status.success(), "{err:?}");
    let trees = out
        .lines()
        .filter(|l| l.ends_with("|  vfs_read() {") || l.ends_with("|  vfs_read();"))
        .count();
    assert!(trees >= 3, "{trees} vfs_read graphs for 3 preads\n{out}");
}
