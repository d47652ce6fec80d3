//! `ftr stat` end to end, side by side with the installed `perf stat`:
//! software counts on a deterministic C workload, a tracepoint count, -I
//! intervals, every name `perf list` prints, hardware events on a machine
//! without a PMU, and the errors a user hits.

use crate::util::{c_program, kernel_required, run_ftr};
use std::path::Path;
use std::process::Command;

/// Whether perf_event_open works for us (root here); skips otherwise
/// unless FTR_REQUIRE_KERNEL is set.
fn counting_allowed() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if kernel_required() {
        panic!("FTR_REQUIRE_KERNEL is set but the stat tests need root");
    }
    eprintln!("SKIPPED: not root");
    false
}

/// The installed perf, if any (the comparisons skip without it).
fn perf() -> Option<Command> {
    let ok = Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: perf is not installed");
        return None;
    }
    Some(Command::new("perf"))
}

/// Whether this machine has a hardware PMU. Without one no test can show
/// hardware counts, FTR_REQUIRE_KERNEL or not: it is the machine, not the
/// kernel configuration.
fn hardware_pmu() -> bool {
    let present = Path::new("/sys/bus/event_source/devices/cpu").exists();
    if !present {
        eprintln!("SKIPPED: no hardware PMU on this machine (/sys/bus/event_source/devices/cpu is absent)");
    }
    present
}

/// Parses `-x,` output into (event, count or marker) pairs.
fn csv_counts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.contains(','))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[0].to_owned())
        })
        .collect()
}

fn count_of(pairs: &[(String, String)], event: &str) -> i64 {
    pairs
        .iter()
        .find(|(e, _)| e == event)
        .unwrap_or_else(|| panic!("no {event} in {pairs:?}"))
        .1
        .parse()
        .unwrap()
}

fn ftr_csv(args: &[&str]) -> Vec<(String, String)> {
    let out = run_ftr(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    csv_counts(&String::from_utf8_lossy(&out.stderr))
}

fn perf_csv(mut perf: Command, args: &[&str]) -> Vec<(String, String)> {
    let out = perf.arg("stat").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    csv_counts(&String::from_utf8_lossy(&out.stderr))
}

#[test]
fn software_counts_match_perf_stat_on_a_c_workload() {
    if !counting_allowed() {
        return;
    }
    let Some(_) = perf() else { return };
    let prog = c_program("stat_work");
    let prog = prog.to_str().unwrap();
    // 2000 touched pages, 20 one-millisecond sleeps, a short loop.
    let events = "page-faults,context-switches,minor-faults,major-faults";
    let args = ["-x,", "-e", events, "--", prog, "2000", "20", "1000000"];
    let mut ftr_args = vec!["stat"];
    ftr_args.extend(args);
    let f = ftr_csv(&ftr_args);
    let p = perf_csv(perf().unwrap(), &args);
    // Faults: 2000 from the loop plus ~50 from exec and the loader; the
    // latter vary by a few with ASLR (stack and mmap alignment).
    let (fp, pp) = (count_of(&f, "page-faults"), count_of(&p, "page-faults"));
    assert!(fp >= 2000 && (fp - pp).abs() <= 10, "ftr {fp} vs perf {pp}");
    assert_eq!(count_of(&f, "major-faults"), count_of(&p, "major-faults"));
    // Context switches: one per sleep, plus at most a couple of
    // preemptions on a busy machine.
    let (fc, pc) = (count_of(&f, "context-switches"), count_of(&p, "context-switches"));
    assert!(
        (20..=25).contains(&fc) && (fc - pc).abs() <= 3,
        "ftr {fc} vs perf {pc}"
    );
}

#[test]
fn tracepoint_count_matches_perf_exec_count() {
    if !counting_allowed() {
        return;
    }
    let line = "for i in $(seq 20); do /bin/true; done";
    let args = ["-x,", "-e", "sched:sched_process_exec", "--", "sh", "-c", line];
    let mut ftr_args = vec!["stat"];
    ftr_args.extend(args);
    let f = ftr_csv(&ftr_args);
    // The sh, the seq and 20 × true.
    assert_eq!(count_of(&f, "sched:sched_process_exec"), 22);
    if let Some(perf) = perf() {
        assert_eq!(count_of(&perf_csv(perf, &args), "sched:sched_process_exec"), 22);
    }
}

#[test]
fn interval_mode_prints_about_five_intervals_system_wide() {
    if !counting_allowed() {
        return;
    }
    let out = run_ftr(&["stat", "-I", "200", "-a", "--", "sleep", "1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let stamps: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.contains("cpu-clock"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // Five full intervals and, like perf, the partial one at exit.
    assert!((5..=6).contains(&stamps.len()), "{text}");
    assert!(
        text.starts_with("#           time             counts unit events\n"),
        "{text}"
    );
}

#[test]
fn default_output_has_perfs_layout() {
    if !counting_allowed() {
        return;
    }
    let out = run_ftr(&["stat", "--", "true"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.starts_with("\n Performance counter stats for 'true':\n\n"),
        "{text}"
    );
    for e in [
        "task-clock",
        "context-switches",
        "cpu-migrations",
        "page-faults",
        "cycles",
        "instructions",
        "branches",
        "branch-misses",
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().any(|w| w == e)),
            "{e} missing:\n{text}"
        );
    }
    assert!(
        text.contains(" msec task-clock ") && text.contains("CPUs utilized"),
        "{text}"
    );
    assert!(
        text.contains(" seconds time elapsed\n\n")
            && text.contains(" seconds user\n")
            && text.contains(" seconds sys\n")
    );
}

#[test]
fn hardware_events_print_not_supported_like_perf_without_a_pmu() {
    if !counting_allowed() {
        return;
    }
    let events = "cycles,instructions:u,branches,cache-misses,L1-dcache-load-misses";
    let f = ftr_csv(&["stat", "-x,", "-e", events, "--", "true"]);
    if hardware_pmu() {
        // With a PMU every one of them counts.
        assert!(f.iter().all(|(_, v)| v.parse::<u64>().is_ok()), "{f:?}");
        return;
    }
    if let Some(perf) = perf() {
        let p = perf_csv(perf, &["-x,", "-e", events, "--", "true"]);
        assert_eq!(f, p);
    }
    assert!(f.iter().all(|(_, v)| v == "<not supported>"), "{f:?}");
}

#[test]
fn instructions_and_branches_match_perf_within_one_percent() {
    if !counting_allowed() || !hardware_pmu() {
        return;
    }
    let Some(_) = perf() else { return };
    let prog = c_program("stat_work");
    let prog = prog.to_str().unwrap();
    let args = [
        "-x,",
        "-e",
        "instructions:u,branches:u",
        "--",
        prog,
        "10",
        "0",
        "50000000",
    ];
    let mut ftr_args = vec!["stat"];
    ftr_args.extend(args);
    let (f, p) = (ftr_csv(&ftr_args), perf_csv(perf().unwrap(), &args));
    for e in ["instructions:u", "branches:u"] {
        let (a, b) = (count_of(&f, e) as f64, count_of(&p, e) as f64);
        assert!((a - b).abs() / b < 0.01, "{e}: ftr {a} vs perf {b}");
    }
}

#[test]
fn more_hardware_events_than_counters_are_scaled_with_percentages() {
    if !counting_allowed() || !hardware_pmu() {
        return;
    }
    let twelve = "cycles,instructions,branches,branch-misses,cache-references,cache-misses,\
                  cycles:u,instructions:u,branches:u,branch-misses:u,cache-references:u,cache-misses:u";
    let prog = c_program("stat_work");
    let out = run_ftr(&[
        "stat",
        "-e",
        twelve,
        "--",
        prog.to_str().unwrap(),
        "10",
        "0",
        "100000000",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.lines().any(|l| l.trim_end().ends_with("%)")),
        "no scaled counts:\n{text}"
    );
}

/// Event names from `perf list` under the given section markers.
fn perf_list_names(sections: &[&str], filter: impl Fn(&str) -> bool) -> Vec<String> {
    let out = Command::new("perf").arg("list").output().unwrap();
    let mut names = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(section) = sections.iter().find(|s| line.contains(&format!("[{s}]"))) else {
            continue;
        };
        let _ = section;
        let spec = line.split('[').next().unwrap().trim();
        for name in spec.split(" OR ") {
            if filter(name.trim()) {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

#[test]
fn every_perf_list_name_is_accepted() {
    if !counting_allowed() {
        return;
    }
    let Some(_) = perf() else { return };
    let mut names = perf_list_names(
        &["Software event", "Hardware event", "Hardware cache event"],
        |_| true,
    );
    let software = names.len();
    names.extend(perf_list_names(&["Tracepoint event"], |n| {
        n.starts_with("sched:")
    }));
    assert!(
        software >= 10 && names.len() > software,
        "perf list printed {names:?}"
    );
    // One ftr run for all of them: a parse error would fail it.
    let list = names.join(",");
    let out = run_ftr(&["stat", "-x,", "-e", &list, "--", "true"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = csv_counts(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(got.len(), names.len());
}

#[test]
fn unknown_event_names_the_closest_and_exits_1() {
    let out = run_ftr(&["stat", "-e", "instrucions", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "ftr: unknown event \"instrucions\" (did you mean instructions?)\n"
    );
    let out = run_ftr(&["stat", "-e", "context-switch", "--", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean context-switches"));
}

#[test]
fn dead_pid_is_one_line_and_exit_1() {
    // A pid above pid_max never exists.
    let out = run_ftr(&["stat", "-p", "99999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ftr: no such process: 99999999\n"
    );
}

#[test]
fn attaches_to_a_running_pid_until_it_exits() {
    if !counting_allowed() {
        return;
    }
    let prog = c_program("stat_work");
    // Sleeps 300 × 1 ms, then exits; ftr stops with it.
    let mut child = Command::new(&prog).args(["0", "300", "0"]).spawn().unwrap();
    let pid = child.id().to_string();
    let f = ftr_csv(&["stat", "-x,", "-e", "cs", "-p", &pid]);
    child.wait().unwrap();
    let cs = count_of(&f, "cs");
    assert!((100..=310).contains(&cs), "{f:?}");
}

#[test]
fn attaches_to_a_thread_with_t_until_it_exits() {
    if !counting_allowed() {
        return;
    }
    let prog = c_program("stat_work");
    let mut child = Command::new(&prog).args(["0", "300", "0"]).spawn().unwrap();
    let tid = child.id().to_string();
    let out = run_ftr(&["stat", "-e", "cs,task-clock", "-t", &tid]);
    child.wait().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("Performance counter stats for thread id '{tid}':")),
        "{text}"
    );
    let cs: i64 = text
        .lines()
        .find(|l| l.contains("context-switches") || l.contains(" cs "))
        .and_then(|l| l.split_whitespace().next()?.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((100..=310).contains(&cs), "one switch per 1 ms sleep: {text}");
    let out = run_ftr(&["stat", "-e", "cs", "-t", "99999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ftr: no such process: 99999999\n"
    );
}

#[test]
fn per_cpu_rows_line_up_with_perf_a_a() {
    if !counting_allowed() {
        return;
    }
    let Some(perf) = perf() else { return };
    let args = ["-A", "-a", "-e", "task-clock,context-switches", "sleep", "0.2"];
    let ours = run_ftr(&[&["stat"][..], &args[..]].concat());
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let theirs = { perf }.arg("stat").args(args).output().unwrap();
    // Rows are (prefix up to the unit) event: the CPU column and the count's
    // right edge must sit where perf puts them, rows in perf's order.
    let layout = |o: &std::process::Output| -> Vec<(String, usize, String)> {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| l.starts_with("CPU"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let end = l.find(f[1]).unwrap() + f[1].len();
                let event = if f[2] == "msec" { f[3] } else { f[2] };
                (f[0].to_owned(), end, event.to_owned())
            })
            .collect()
    };
    let (a, b) = (layout(&ours), layout(&theirs));
    assert!(!a.is_empty(), "{}", String::from_utf8_lossy(&ours.stderr));
    assert_eq!(a, b, "ftr vs perf -A rows");
    // CSV: the CPU is the first field, and the per-CPU task-clocks add up to
    // about two CPUs' worth of the 0.2 s.
    let csv = run_ftr(&["stat", "-A", "-a", "-x,", "-e", "task-clock", "sleep", "0.2"]);
    let text = String::from_utf8_lossy(&csv.stderr);
    let ms: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("CPU"))
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    assert!(
        !ms.is_empty() && online.contains(&format!("{}", ms.len() - 1)),
        "{text}"
    );
    for m in ms {
        assert!((150.0..400.0).contains(&m), "{text}");
    }
    let out = run_ftr(&["stat", "-A", "-e", "cs", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs -a or -C"));
}

#[test]
fn output_file_holds_the_report_like_perf_o() {
    if !counting_allowed() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ftr-stat-o-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("counts.txt");
    let out = run_ftr(&["stat", "-o", file.to_str().unwrap(), "-e", "task-clock", "true"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# started on "), "{text}");
    assert!(text.contains("Performance counter stats for 'true':"), "{text}");
    assert!(text.contains("msec task-clock"), "{text}");
    let bad = run_ftr(&["stat", "-o", "/nonexistent-dir/x", "-e", "task-clock", "true"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn doctor_lists_the_events_that_count_as_perf_does() {
    if !counting_allowed() {
        return;
    }
    let Some(_) = perf() else { return };
    let out = run_ftr(&["doctor", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = v["perf_events"].as_object().expect("perf_events");
    assert_eq!(events["task-clock"]["state"], "counts", "{events:?}");
    for name in [
        "cycles",
        "instructions",
        "branches",
        "task-clock",
        "page-faults",
        "L1-dcache-loads",
    ] {
        let perf = perf_csv(perf().unwrap(), &["-x,", "-e", name, "true"]);
        let perf_counts = !perf.iter().any(|(_, c)| c.starts_with('<'));
        let ours = events[name]["state"] == "counts";
        assert_eq!(ours, perf_counts, "{name}: ftr {} vs perf {perf:?}", events[name]);
    }
}

#[test]
fn json_lines_have_perfs_layout() {
    if !counting_allowed() {
        return;
    }
    let Some(perf) = perf() else { return };
    // Numbers differ run to run: compare the lines with every number masked
    // (and the K/M of a rate). perf 6.1 prints "(null)" as the unit of an
    // event without a metric; ftr prints "" as perf does for unsupported ones.
    let mask = |text: &str| -> Vec<String> {
        let mut lines = Vec::new();
        for l in text.lines().filter(|l| l.starts_with('{')) {
            let mut m = String::new();
            let mut in_number = false;
            for c in l
                .replace("\"(null)\"", "\"\"")
                .replace("K/sec", "/sec")
                .replace("M/sec", "/sec")
                .chars()
            {
                if c.is_ascii_digit() || (in_number && c == '.') {
                    if !in_number {
                        m.push('N');
                    }
                    in_number = true;
                } else {
                    in_number = false;
                    m.push(c);
                }
            }
            lines.push(m);
        }
        lines
    };
    let args = [
        "-j",
        "-e",
        "task-clock,page-faults,cycles,sched:sched_process_exec",
        "true",
    ];
    let ours = run_ftr(&[&["stat"][..], &args[..]].concat());
    let theirs = { perf }.arg("stat").args(args).output().unwrap();
    let (a, b) = (
        mask(&String::from_utf8_lossy(&ours.stderr)),
        mask(&String::from_utf8_lossy(&theirs.stderr)),
    );
    assert_eq!(a.len(), 4, "{a:#?}");
    assert_eq!(a, b);
    for l in String::from_utf8_lossy(&ours.stderr).lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
}
