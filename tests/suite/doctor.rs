//! `ftr doctor` on the live kernel: one screen, JSON too, and the facts it
//! states match what the files say.

use crate::util::{live_tracing, run_ftr};

#[test]
fn doctor_reports_features_and_tools() {
    let Some(t) = live_tracing() else { return };
    let out = run_ftr(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("FEATURE") && text.contains("TOOL"), "{text}");
    let tp = text.lines().find(|l| l.starts_with("tp ")).expect("tp row");
    assert!(tp.contains("ready"), "{tp}");
    let out = run_ftr(&["doctor", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kp = &v["features"]["kprobe_events"]["state"];
    let expect = if t.path("kprobe_events").exists() {
        "yes"
    } else {
        "missing"
    };
    assert_eq!(kp, expect, "kprobe_events state follows the file");
    assert_eq!(
        v["features"]["uprobe_events"]["state"],
        if t.path("uprobe_events").exists() {
            "yes"
        } else {
            "missing"
        }
    );
    let tools = v["tools"].as_array().unwrap();
    for name in [
        "tp",
        "list",
        "stat",
        "memleak",
        "biolatency",
        "cachestat",
        "funcgraph",
        "record",
        "report",
        "profile",
    ] {
        assert!(tools.iter().any(|x| x["name"] == name), "doctor lists {name}");
    }
    // cachestat must pick a mechanism that exists here.
    let cs = tools.iter().find(|x| x["name"] == "cachestat").unwrap();
    let using = cs["mechanisms"][0]["using"].as_str().unwrap_or("");
    if !t.path("kprobe_events").exists() {
        assert!(!using.starts_with("kprobes"), "{cs}");
    }
}
