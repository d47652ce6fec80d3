//! funcgraph, funccount and kprobe on the second live kernel (Debian's
//! 6.1 under QEMU: kprobes, function, function_graph; no function
//! profiler). One boot for the module; each step leaves its output and a
//! snapshot of the global tracing state in files the tests read.

use crate::util::{c_program, run_in_guest_env, GuestOutput};
use std::sync::OnceLock;

/// N preads the workload makes: the known count funccount must see.
const READS: u64 = 500;

/// Runs in the guest. `go*` files release each workload once ftr says it
/// is tracing; Ctrl-C (SIGINT) ends the tools, as a user would.
const SCRIPT: &str = r#"
T=/sys/kernel/tracing
at() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> times; }
snap() {
  cat $T/current_tracer > $1.tracer; cat $T/set_ftrace_filter > $1.filter
  cat $T/set_graph_function > $1.graph; cat $T/kprobe_events > $1.kprobes
  ls $T/instances > $1.instances; cat $T/buffer_size_kb > $1.bufsize
  cat $T/set_ftrace_pid > $1.pid; cat $T/max_graph_depth > $1.depth
  cat $T/options/funcgraph-irqs > $1.irqs
}
# Waits until FILE says PATTERN, or the process PID is gone.
wait_for() {
  for i in $(seq 150); do
    kill -0 $3 2>/dev/null || return 1; grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.2
  done; return 1
}
at start; snap start

sh -c 'while [ ! -f go1 ]; do sleep 0.05; done; exec cat /etc/hostname' > cat.out & cat=$!
"$FTR" funcgraph -m 12 -p $cat vfs_read > fg.out 2> fg.err & fg=$!
wait_for '^Tracing' fg.err $fg; at funcgraph-tracing; touch go1; wait $cat; sleep 0.5
kill -INT $fg; wait $fg; echo $? > fg.rc
at funcgraph; snap fg

echo hello > count-file
"$PROG" count-file __READS__ go2 > prog2.out & p=$!
"$FTR" funccount -p $p 'vfs_*' > fc.out 2> fc.err & fc=$!
wait_for '^Tracing' fc.err $fc; touch go2; wait $p; sleep 0.5
kill -INT $fc; wait $fc; echo $? > fc.rc
at funccount; snap fc

F=$PWD/ftr-kprobe-$$-unique-name
echo x > $F
"$PROG" $F 1 go3 > prog3.out & p=$!
"$FTR" kprobe -p $p 'p:do_sys_openat2 filename=+0(%si):string' > kp.out 2> kp.err & kp=$!
wait_for '^Tracing' kp.err $kp; touch go3; wait $p; sleep 0.5
kill -INT $kp; wait $kp; echo $? > kp.rc
echo $F > kp.file
at kprobe; snap kp

# Refusals: the kernel's own reason (error_log), the blacklist, a typo.
"$FTR" kprobe 'p:vfs_read x=%zz' > bad-reg.out 2> bad-reg.err; echo $? > bad-reg.rc
B=$(awk 'NR==1 {print $2}' /sys/kernel/debug/kprobes/blacklist); echo "$B" > blacklisted
"$FTR" kprobe "p:$B" > bad-bl.out 2> bad-bl.err; echo $? > bad-bl.rc
"$FTR" kprobe 'p:no_such_function_xyz' > bad-fn.out 2> bad-fn.err; echo $? > bad-fn.rc
at refusals; snap refusals

"$PROG" count-file 20 go4 > prog4.out & p=$!
"$FTR" kprobe -p $p 'r:vfs_read ret=$retval:s64' > kr.out 2> kr.err & kr=$!
wait_for '^Tracing' kr.err $kr; touch go4; wait $p
wait_for 'vfs_read' kr.out $kr; kill -KILL $kr; wait $kr; echo $? > kr.rc
at killed; snap killed
# A SIGKILLed funcgraph leaves the top level's tracer on; its journal
# (/run/ftr) lets the next run put it back.
"$FTR" funcgraph -m 2 vfs_read > kg.out 2> kg.err & kg=$!
wait_for '^Tracing' kg.err $kg; kill -KILL $kg; wait $kg
cat $T/current_tracer > killed-fg.tracer; ls /run/ftr > killed-fg.journals
at killed-fg
"$FTR" doctor > doctor.out 2> doctor.err; echo $? > doctor.rc
at kill-and-doctor; snap final; ls /run/ftr > final.journals 2>&1
"#;

fn guest() -> Option<&'static GuestOutput> {
    static RUN: OnceLock<Option<GuestOutput>> = OnceLock::new();
    RUN.get_or_init(|| {
        let prog = c_program("open_read");
        let script = format!("PROG={}\n{}", prog.display(), SCRIPT).replace("__READS__", &READS.to_string());
        // One vCPU: see run_in_guest_env.
        let run = run_in_guest_env(&script, &[("SMP", "1")])?;
        run.log_timing("guest_funcs");
        Some(run)
    })
    .as_ref()
}

/// The global state a step left: nothing of ftr's.
fn assert_clean(g: &GuestOutput, step: &str) {
    let tracer = g.file(&format!("{step}.tracer"));
    assert_eq!(tracer.trim(), "nop", "{step}: current_tracer left: {tracer}");
    for f in ["filter", "graph"] {
        let text = g.file(&format!("{step}.{f}"));
        assert!(
            text.lines().all(|l| l.starts_with('#') || l.trim().is_empty()),
            "{step}: {f} left set: {text}"
        );
    }
    let pid = g.file(&format!("{step}.pid"));
    assert_eq!(pid.trim(), "no pid", "{step}: set_ftrace_pid left: {pid}");
    let depth = g.file(&format!("{step}.depth"));
    assert_eq!(depth.trim(), "0", "{step}: max_graph_depth left: {depth}");
    let irqs = g.file(&format!("{step}.irqs"));
    assert_eq!(irqs.trim(), "1", "{step}: options/funcgraph-irqs left off");
    let kprobes = g.file(&format!("{step}.kprobes"));
    assert!(!kprobes.contains("ftr_"), "{step}: kprobe_events: {kprobes}");
    let inst = g.file(&format!("{step}.instances"));
    assert!(
        !inst.lines().any(|l| l.starts_with("ftr")),
        "{step}: instances: {inst}"
    );
    assert!(
        g.dir.join(format!("{step}.tracer")).exists(),
        "{}",
        g.context("stdout")
    );
    // funcgraph grows the top-level buffer to 4096 KB per CPU; the first
    // tracer selected in any instance (the capability trial) turns the
    // top level's "7 (expanded: 1408)" into a plain "7" in the kernel,
    // so the check is that ftr's size is gone, not that the text is.
    let size = g.file(&format!("{step}.bufsize"));
    assert!(
        !size.contains("4096"),
        "{step}: top-level buffer_size_kb left at {size}"
    );
}

#[test]
fn funcgraph_shows_the_vfs_read_tree_of_cat() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("fg.rc").trim(), "0", "{}", g.context("fg.err"));
    let out = g.file("fg.out");
    // The first record is cat's first vfs_read: nothing lost before it.
    assert!(
        out.lines().next().is_some_and(|l| l.ends_with("|  vfs_read() {")),
        "the output does not start with a vfs_read tree\n{}",
        g.context("fg.out")
    );
    assert!(!g.file("fg.err").contains("LOST"), "{}", g.context("fg.err"));
    // Callees at depth 1 with durations, and the closing brace with the total.
    assert!(
        out.lines()
            .any(|l| l.contains(" us ") && l.contains("|    ") && l.ends_with("();")),
        "no timed leaf under vfs_read\n{out}"
    );
    assert!(
        out.lines().any(|l| l.contains(" us ") && l.ends_with("|  }")),
        "no closing brace with a duration\n{out}"
    );
    assert_clean(g, "fg");
}

#[test]
fn funccount_counts_the_workloads_reads() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("fc.rc").trim(), "0", "{}", g.context("fc.err"));
    let out = g.file("fc.out");
    let count = out
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "vfs_read").then(|| w.next()?.parse::<u64>().ok())?
        })
        .unwrap_or_else(|| panic!("no vfs_read row\n{}", g.context("fc.out")));
    eprintln!("funccount vfs_read for the workload: {count} (it made {READS} preads)");
    assert!(
        (READS..=READS + 20).contains(&count),
        "vfs_read counted {count}, the workload made {READS}\n{out}"
    );
    assert!(out.contains("FUNC"), "{out}");
    assert_clean(g, "fc");
}

#[test]
fn kprobe_prints_the_opened_file_name() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("kp.rc").trim(), "0", "{}", g.context("kp.err"));
    let file = g.file("kp.file");
    let file = file.trim();
    let out = g.file("kp.out");
    assert!(
        out.lines()
            .any(|l| l.contains("(do_sys_openat2+0x0/") && l.contains(&format!("filename=\"{file}\""))),
        "no event for {file}\n{}",
        g.context("kp.out")
    );
    assert_clean(g, "kp");
}

#[test]
fn kprobe_refusals_are_one_line_and_leave_nothing() {
    let Some(g) = guest() else { return };
    let blacklisted = g.file("blacklisted");
    for (step, words) in [
        ("bad-reg", vec!["kprobe_events", "x=%zz"]),
        ("bad-bl", vec!["blacklist", blacklisted.trim()]),
        ("bad-fn", vec!["no kernel function no_such_function_xyz"]),
    ] {
        let err = g.file(&format!("{step}.err"));
        assert_eq!(g.file(&format!("{step}.rc")).trim(), "1", "{step}: {err}");
        assert_eq!(err.lines().count(), 1, "{step}: {err}");
        assert!(err.starts_with("ftr: "), "{step}: {err}");
        for w in words {
            assert!(err.contains(w), "{step}: {w:?} not in {err}");
        }
        assert!(g.file(&format!("{step}.out")).is_empty(), "{step}");
    }
    eprintln!("the kernel's refusal: {}", g.file("bad-reg.err"));
    assert_clean(g, "refusals");
}

#[test]
fn sigkilled_kprobe_and_funcgraph_are_reclaimed_by_doctor() {
    let Some(g) = guest() else { return };
    let out = g.file("kr.out");
    // A return probe's line: (caller+off/size <- vfs_read) ret=1 (one
    // byte per pread).
    assert!(
        out.lines().any(|l| l.contains("<- vfs_read) ret=1")),
        "no return-probe event before the kill\n{}",
        g.context("kr.err")
    );
    assert_eq!(
        g.file("killed-fg.tracer").trim(),
        "function_graph",
        "the killed funcgraph's tracer should still be on\n{}",
        g.context("kg.err")
    );
    assert!(
        g.file("killed-fg.journals").contains("top-level-"),
        "no journal of the killed funcgraph"
    );
    let left = g.file("killed.kprobes");
    assert!(
        left.contains("ftr_"),
        "the killed run's probe should still be there: {left}"
    );
    assert_eq!(g.file("doctor.rc").trim(), "0", "{}", g.context("doctor.err"));
    let journals = g.file("final.journals");
    assert!(!journals.contains("top-level-"), "journals left: {journals}");
    assert_clean(g, "final");
}
