//! `ftr report` of function and function_graph recordings (issue 8):
//! trace-cmd's own rendering of those records (call trees, leaf lines,
//! durations with overhead marks, the function plugin's indentation),
//! line for line, on files trace-cmd recorded in the 6.1 guest.

use crate::util::run_ftr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ftrace")
        .join(name)
}

fn ftr_report(file: &Path) -> String {
    let out = run_ftr(&["report", "-i", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "ftr report {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

/// Panics at the first line that differs, showing both.
pub fn assert_same_lines(what: &str, theirs: &str, ours: &str) {
    let (a, b): (Vec<_>, Vec<_>) = (theirs.lines().collect(), ours.lines().collect());
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what}: line {} differs ({} lines from trace-cmd, {} from ftr)\n trace-cmd: {:?}\n ftr:       {:?}",
            i + 1,
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
}

/// The report trace-cmd printed when the fixture was made, and the one the
/// installed trace-cmd prints now (if it is installed).
fn check(dat: &str, txt: &str) -> String {
    let ours = ftr_report(&fixture(dat));
    let stored = std::fs::read_to_string(fixture(txt)).unwrap();
    assert_same_lines(dat, &stored, &ours);
    match Command::new("trace-cmd")
        .arg("report")
        .arg("-i")
        .arg(fixture(dat))
        .output()
    {
        Ok(o) if o.status.success() => assert_same_lines(
            &format!("{dat} (installed trace-cmd)"),
            &String::from_utf8_lossy(&o.stdout),
            &ours,
        ),
        Ok(o) => panic!("trace-cmd report {dat}: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) if crate::util::kernel_required() => panic!("trace-cmd is needed: {e}"),
        Err(e) => eprintln!("not compared with a live trace-cmd: {e}"),
    }
    eprintln!("{dat}: {} lines identical", ours.lines().count());
    ours
}

#[test]
fn function_graph_prints_trace_cmds_call_tree() {
    let ours = check(
        "function_graph-vfs_read-6.1.dat",
        "function_graph-vfs_read-6.1.txt",
    );
    // The shapes the issue asks for, besides identity: a vfs_read block,
    // nested leaves with durations, and closing lines with overhead marks.
    assert!(ours.contains("funcgraph_entry:                   |  vfs_read() {"));
    assert!(ours.contains("funcgraph_entry:        0.729 us   |                  __rcu_read_lock();"));
    assert!(ours.contains("funcgraph_exit:       ! 431.235 us |  }"));
    assert!(
        !ours.contains("-->"),
        "no funcgraph record printed from its print fmt"
    );
}

#[test]
fn function_prints_the_plugins_indentation() {
    let ours = check("function-vfs-6.1.dat", "function-vfs-6.1.txt");
    assert!(ours.contains("function:             vfs_fstatat\n"));
    assert!(ours.contains("function:                   vfs_getattr_nosec\n"));
    assert!(!ours.contains("<--"), "no parent unless asked");
}

#[test]
fn one_cpu_of_a_function_graph_file_is_trace_cmds_too() {
    let f = fixture("function_graph-vfs_read-6.1.dat");
    let Ok(o) = Command::new("trace-cmd")
        .args(["report", "--cpu", "1", "-i"])
        .arg(&f)
        .output()
    else {
        return;
    };
    let out = run_ftr(&["report", "--cpu", "1", "-i", f.to_str().unwrap()]);
    assert!(out.status.success());
    let ours = String::from_utf8_lossy(&out.stdout);
    assert!(ours.lines().count() > 10, "{ours}");
    assert_same_lines("--cpu 1", &String::from_utf8_lossy(&o.stdout), &ours);
}
