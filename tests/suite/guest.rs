//! ftr on a second live kernel: Debian's stock 6.1 under QEMU, which has
//! kprobes and function_graph. One boot for the whole module (boots are
//! slow under software emulation); every test checks its part of it.

use crate::util::{run_in_guest, GuestOutput};
use std::sync::OnceLock;

/// Runs in the guest, in the shared directory: each result goes to a file.
const SCRIPT: &str = r#"
T=/sys/kernel/tracing
at() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> times; }
at start; uname -r > uname
"$FTR" doctor --json > doctor.json 2> doctor.err; echo $? > doctor.rc
at doctor
"$FTR" tp sched:sched_process_exec -d 2 > tp.out 2> tp.err & tp=$!
for i in $(seq 100); do grep -q '^Tracing' tp.err 2>/dev/null && break; sleep 0.1; done
/bin/true; /bin/true
wait $tp; echo $? > tp.rc
at tp
cat $T/current_tracer > current_tracer.after
cat $T/set_ftrace_filter > set_ftrace_filter.after
ls $T/instances > instances.after
cat $T/kprobe_events > kprobe_events.after
cat $T/uprobe_events > uprobe_events.after
"#;

fn guest() -> Option<&'static GuestOutput> {
    static RUN: OnceLock<Option<GuestOutput>> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = run_in_guest(SCRIPT)?;
        // Each doctor costs ~12 s under TCG (the tracer trials patch every
        // function entry twice), so only the JSON one runs; shown here.
        let features = serde_json::from_str::<serde_json::Value>(&run.file("doctor.json"))
            .ok()
            .and_then(|v| v["features"].as_object().cloned())
            .unwrap_or_default();
        let features: String = features
            .iter()
            .map(|(n, f)| format!("  {n:22} {} {}\n", f["state"], f["detail"]))
            .collect();
        eprintln!(
            "guest run took {:.1} s; guest uptime after each step:\n{}doctor --json there:\n{features}",
            run.secs,
            run.file("times"),
        );
        Some(run)
    })
    .as_ref()
}

#[test]
fn doctor_proves_kprobes_and_function_graph_on_6_1() {
    let Some(g) = guest() else { return };
    assert!(g.file("uname").starts_with("6.1."), "{}", g.context("uname"));
    assert_eq!(g.file("doctor.rc").trim(), "0", "{}", g.context("doctor.err"));
    let v: serde_json::Value = serde_json::from_str(&g.file("doctor.json"))
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", g.context("doctor.json")));
    let f = &v["features"];
    for name in [
        "instances",
        "kprobe_events",
        "uprobe_events",
        "function tracer",
        "function_graph tracer",
        "set_ftrace_filter",
    ] {
        assert_eq!(f[name]["state"], "yes", "{name}: {}", f[name]);
    }
    // 6.1's instances do not offer function_graph: the trial must fall back
    // to the (idle) top level rather than call it refused.
    let fg = f["function_graph tracer"]["detail"].as_str().unwrap_or("");
    assert!(fg.contains("top level"), "{fg}");
    // Debian's 6.1 is built without CONFIG_FUNCTION_PROFILER.
    assert_eq!(
        f["function profiler"]["state"], "missing",
        "{}",
        f["function profiler"]
    );
    let tools = v["tools"].as_array().expect("tools");
    let cs = tools
        .iter()
        .find(|t| t["name"] == "cachestat")
        .expect("cachestat row");
    assert_eq!(cs["mechanisms"][0]["using"], "kprobes", "{cs}");
}

#[test]
fn tp_prints_an_exec_in_the_guest() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("tp.rc").trim(), "0", "{}", g.context("tp.err"));
    let out = g.file("tp.out");
    assert!(
        out.lines()
            .any(|l| l.contains("sched_process_exec") && l.contains("/bin/true")),
        "{}",
        g.context("tp.out")
    );
}

#[test]
fn guest_is_left_clean() {
    let Some(g) = guest() else { return };
    assert_eq!(g.status, Some(0), "{}", g.context("stdout"));
    g.assert_left_clean();
}
