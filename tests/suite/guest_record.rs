//! `ftr record -p function|function_graph` on Debian's 6.1 under QEMU
//! (issue 8): the vfs_read call tree recorded by ftr and printed by
//! `ftr report` exactly as `trace-cmd report` prints the same file; the
//! function tracer with a filter; a busy top level refused untouched; and
//! the guest's tracing left as found. One boot for the module.

use crate::suite::ftrace_report::assert_same_lines;
use crate::util::{run_ftr, run_in_guest_env, GuestOutput};
use std::process::Command;
use std::sync::OnceLock;

/// Runs in the guest, in the shared directory: each result goes to a file.
/// 6.1's instances refuse function_graph, so that recording uses the top
/// level; the busy case narrows set_ftrace_filter before selecting
/// `function` so that only one function is patched.
const SCRIPT: &str = r#"
T=/sys/kernel/tracing
at() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> times; }
at start
cat $T/tracing_on > tracing_on.before
"$FTR" record -p function_graph -g vfs_read -o fg.dat cat /etc/hostname > fg.out 2> fg.err; echo $? > fg.rc
at function_graph
"$FTR" record -p function -l 'vfs_*' -o fn.dat cat /etc/hostname > fn.out 2> fn.err; echo $? > fn.rc
at function
cat $T/current_tracer > current_tracer.after
cat $T/set_ftrace_filter > set_ftrace_filter.after
cat $T/set_graph_function > set_graph_function.after
cat $T/set_ftrace_pid > set_ftrace_pid.after
cat $T/tracing_on > tracing_on.after
ls $T/instances > instances.after
echo ksys_sync > $T/set_ftrace_filter && echo function > $T/current_tracer
"$FTR" record -p function_graph -g vfs_read -o busy.dat true > busy.out 2> busy.err; echo $? > busy.rc
cat $T/current_tracer > busy.current_tracer
echo nop > $T/current_tracer; echo > $T/set_ftrace_filter
at busy
"#;

fn guest() -> Option<&'static GuestOutput> {
    static RUN: OnceLock<Option<GuestOutput>> = OnceLock::new();
    RUN.get_or_init(|| {
        // One vCPU: see run_in_guest_env (function_graph's text patching
        // under two TCG vCPUs can stall the guest).
        let run = run_in_guest_env(SCRIPT, &[("SMP", "1")])?;
        run.log_timing("guest");
        Some(run)
    })
    .as_ref()
}

/// `ftr report` of a file the guest wrote, compared with `trace-cmd
/// report` of it when trace-cmd is installed here.
fn report_both(g: &GuestOutput, name: &str) -> String {
    let file = g.dir.join(name);
    let out = run_ftr(&["report", "-i", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours = String::from_utf8(out.stdout).unwrap();
    match Command::new("trace-cmd")
        .arg("report")
        .arg("-i")
        .arg(&file)
        .output()
    {
        Ok(o) => {
            assert!(o.status.success(), "trace-cmd report {name}");
            let theirs = String::from_utf8_lossy(&o.stdout);
            assert_same_lines(name, &theirs, &ours);
            eprintln!(
                "{name}: {} lines identical to trace-cmd report",
                ours.lines().count()
            );
        }
        Err(e) if crate::util::kernel_required() => panic!("trace-cmd is needed: {e}"),
        Err(e) => eprintln!("{name}: not compared with trace-cmd ({e})"),
    }
    ours
}

#[test]
fn function_graph_records_the_vfs_read_tree_that_trace_cmd_reads_alike() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("fg.rc").trim(), "0", "{}", g.context("fg.err"));
    let err = g.file("fg.err");
    assert!(err.contains("using the top-level buffer"), "{err}");

    let ours = report_both(g, "fg.dat");
    let lines: Vec<&str> = ours.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("cat-") && l.ends_with("|  vfs_read() {"))
        .unwrap_or_else(|| panic!("no vfs_read block of cat:\n{ours}"));
    // Inside the block: a nested call one level down, a leaf with its
    // duration, and the block closed at depth 0 with a duration.
    let block = &lines[start..];
    assert!(
        block.iter().any(|l| l.ends_with("|    rw_verify_area() {")),
        "{ours}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.contains("funcgraph_entry:") && l.contains(" us ") && l.ends_with("();")),
        "{ours}"
    );
    assert!(
        block
            .iter()
            .any(|l| l.contains("funcgraph_exit:") && l.contains(" us ") && l.ends_with("|  }")),
        "{ours}"
    );
}

#[test]
fn function_tracer_records_vfs_calls_that_trace_cmd_reads_alike() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("fn.rc").trim(), "0", "{}", g.context("fn.err"));
    let ours = report_both(g, "fn.dat");
    assert!(
        ours.lines()
            .any(|l| l.contains("cat-") && l.contains("function:") && l.ends_with("vfs_open")),
        "{ours}"
    );
    assert!(!ours.contains("<--"));
}

#[test]
fn busy_top_level_is_refused_untouched() {
    let Some(g) = guest() else { return };
    let err = g.file("busy.err");
    assert_eq!(g.file("busy.rc").trim(), "1", "{}", g.context("busy.err"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("current_tracer is function"), "{err}");
    assert_eq!(g.file("busy.current_tracer").trim(), "function");
    assert!(!g.dir.join("busy.dat").exists());
}

#[test]
fn guest_record_leaves_tracing_as_found() {
    let Some(g) = guest() else { return };
    assert_eq!(g.status, Some(0), "{}", g.context("stdout"));
    assert_eq!(g.file("current_tracer.after").trim(), "nop");
    for f in ["set_ftrace_filter.after", "set_graph_function.after"] {
        let text = g.file(f);
        assert!(text.lines().all(|l| l.starts_with('#')), "{f}: {text}");
    }
    assert_eq!(g.file("set_ftrace_pid.after").trim(), "no pid");
    assert_eq!(g.file("tracing_on.after"), g.file("tracing_on.before"));
    let inst = g.file("instances.after");
    assert!(
        !inst.lines().any(|l| l.starts_with("ftr")),
        "instances left: {inst}"
    );
    assert!(g.dir.join("instances.after").exists(), "{}", g.context("stdout"));
}
