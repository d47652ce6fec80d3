//! `ftr profile` against the live kernel. Ground truth is
//! fixtures/progs/sample_hot.c, whose `spin` mode burns its CPU time in
//! hot(), called main -> outer -> middle -> hot: built with frame pointers
//! the callchains must show that chain; built with -fomit-frame-pointer
//! -O2 only DWARF CFI unwinding can. The frame-pointer build is -O0
//! because gcc 12 gives the leaf hot() no frame at -O1 even with
//! -mno-omit-leaf-frame-pointer, so its caller middle() would be skipped
//! (by perf record -g too). A command's own output comes first on ftr's
//! stdout (it exits before ftr prints): `spin` prints one line.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::util::{assert_fails_cleanly, c_program_with, ftr, kernel_required, live_tracing};

const HOT_CHAIN: &[&str] = &["main", "outer", "middle", "hot"];

fn with_frame_pointers() -> PathBuf {
    c_program_with(
        "sample_hot",
        "fp-O0",
        &["-O0", "-fno-omit-frame-pointer", "-pthread"],
    )
}

fn without_frame_pointers() -> PathBuf {
    c_program_with(
        "sample_hot",
        "nofp-O2",
        &["-O2", "-fomit-frame-pointer", "-pthread"],
    )
}

/// Whether this process may sample (root), else a skip unless required.
fn may_sample() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but we are not root"
    );
    eprintln!("SKIPPED: profile needs root here");
    false
}

/// One folded line: frames (comm first) and the count.
fn parse_folded(text: &str) -> Vec<(Vec<String>, u64)> {
    text.lines()
        .map(|l| {
            let (stack, count) = l.rsplit_once(' ').unwrap_or_else(|| panic!("no count: {l:?}"));
            let count = count.parse().unwrap_or_else(|_| panic!("bad count: {l:?}"));
            let frames: Vec<String> = stack.split(';').map(str::to_owned).collect();
            assert!(frames.iter().all(|f| !f.is_empty()), "empty frame: {l:?}");
            (frames, count)
        })
        .collect()
}

/// The sample total ftr -v reports on stderr.
fn reported_samples(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("ftr: ")?.split_once(" samples, ")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no sample total in {stderr}"))
}

fn profile(args: &[&str]) -> Output {
    let mut out = ftr().arg("-v").arg("profile").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if args.contains(&"spin") {
        let first = out.stdout.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        out.stdout.drain(..first);
    }
    out
}

/// Checks that hot() is the innermost frame of >= 90% of `prog`'s
/// samples, under main -> outer -> middle -> hot, and that the folded
/// counts add up to what was sampled.
fn assert_hot_dominates(out: &Output, prog: &str) {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = parse_folded(&stdout);
    let total: u64 = lines.iter().map(|(_, c)| c).sum();
    assert_eq!(total, reported_samples(&stderr), "{stdout}");
    assert!(!stderr.contains("lost"), "{stderr}");
    let comm = prog;
    let ours: Vec<_> = lines.iter().filter(|(f, _)| f[0] == comm).collect();
    let ours_total: u64 = ours.iter().map(|(_, c)| c).sum();
    // ~2 s of CPU at 999 Hz; a loaded machine still gives the task its
    // CPU time (cpu-clock counts the task's own time), so most remain.
    assert!(ours_total >= 1000, "{ours_total} samples of {comm}: {stdout}");
    let hot: u64 = ours
        .iter()
        .filter(|(f, _)| f.len() > HOT_CHAIN.len() && f[f.len() - HOT_CHAIN.len()..] == *HOT_CHAIN)
        .map(|(_, c)| c)
        .sum();
    assert!(
        hot * 100 >= ours_total * 90,
        "hot() with main;outer;middle;hot in {hot} of {ours_total} samples:\n{stdout}"
    );
}

/// The task name the kernel gives `p`: its file name, cut to 15 bytes.
fn prog_name(p: &std::path::Path) -> String {
    p.file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect()
}

#[test]
fn frame_pointer_build_puts_hot_on_top_with_its_callers() {
    if !may_sample() {
        return;
    }
    let prog = with_frame_pointers();
    let out = profile(&[
        "-F",
        "999",
        "-U",
        "-f",
        "--call-graph",
        "fp",
        "--",
        prog.to_str().unwrap(),
        "spin",
        "2",
    ]);
    assert_hot_dominates(&out, &prog_name(&prog));
}

#[test]
fn build_without_frame_pointers_unwinds_with_dwarf() {
    if !may_sample() {
        return;
    }
    let prog = without_frame_pointers();
    let p = prog.to_str().unwrap();
    let out = profile(&[
        "-F",
        "999",
        "-U",
        "-f",
        "--call-graph",
        "dwarf",
        "--",
        p,
        "spin",
        "2",
    ]);
    assert_hot_dominates(&out, &prog_name(&prog));
    // The default mode falls back to DWARF where frame pointers give one
    // user frame, so it finds the same chain.
    let out = profile(&["-F", "999", "-U", "-f", "--", p, "spin", "2"]);
    assert_hot_dominates(&out, &prog_name(&prog));
    // Frame pointers alone cannot: hot() stands alone (the negative
    // control that shows DWARF did the work above).
    let out = profile(&[
        "-F",
        "999",
        "-U",
        "-f",
        "--call-graph",
        "fp",
        "--",
        p,
        "spin",
        "1",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("outer;middle;hot "), "{text}");
}

/// The frame-pointer build of sample_hot spinning for 4 s.
fn spinner_for_4s() -> std::process::Child {
    Command::new(with_frame_pointers())
        .args(["spin", "4"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_running_process_is_sampled_with_p() {
    if !may_sample() {
        return;
    }
    let mut child = spinner_for_4s();
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    let out = profile(&["-F", "999", "-U", "-f", "-d", "2", "-p", &pid]);
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let lines = parse_folded(&text);
    assert!(
        lines
            .iter()
            .all(|(f, _)| f[0] == prog_name(&with_frame_pointers())),
        "{text}"
    );
    let total: u64 = lines.iter().map(|(_, c)| c).sum();
    let hot: u64 = lines
        .iter()
        .filter(|(f, _)| f.ends_with(&HOT_CHAIN.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
        .map(|(_, c)| c)
        .sum();
    assert!(
        total > 500 && hot * 100 >= total * 90,
        "{hot} of {total}:\n{text}"
    );
}

#[test]
fn multiline_output_reads_like_bcc_profile() {
    if !may_sample() {
        return;
    }
    let prog = with_frame_pointers();
    let out = profile(&["-F", "999", "--", prog.to_str().unwrap(), "spin", "1"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.trim().is_empty()).collect();
    assert!(!blocks.is_empty(), "{text}");
    let mut counts = Vec::new();
    for b in &blocks {
        let lines: Vec<&str> = b.lines().collect();
        let n = lines.len();
        assert!(n >= 3, "{b}");
        assert!(lines[..n - 1].iter().all(|l| l.starts_with("    ")), "{b}");
        assert!(lines[n - 2].starts_with("    -                "), "{b}");
        assert!(lines[n - 2].ends_with(')'), "{b}");
        counts.push(lines[n - 1].trim().parse::<u64>().unwrap());
    }
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "ascending, hottest last: {counts:?}"
    );
    let last = blocks.last().unwrap();
    assert!(
        last.starts_with("    hot\n    middle\n    outer\n    main\n"),
        "{last}"
    );
}

#[test]
fn kernel_frames_are_kallsyms_names() {
    if !may_sample() {
        return;
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let names: HashSet<&str> = kallsyms
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    // dd spends its time in read(2)/write(2) of /dev/zero and /dev/null.
    let out = profile(&[
        "-F",
        "999",
        "-K",
        "-f",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=64k",
        "count=100000",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = parse_folded(&text);
    let kernel: Vec<_> = lines.iter().filter(|(f, _)| f.len() > 1).collect();
    assert!(!kernel.is_empty(), "no kernel stacks: {text}");
    for (frames, _) in kernel {
        for f in &frames[1..] {
            assert!(
                names.contains(f.as_str()),
                "{f} is not in /proc/kallsyms: {frames:?}"
            );
        }
    }
}

#[test]
fn folded_output_feeds_inferno_and_svg_parses() {
    if !may_sample() {
        return;
    }
    let prog = with_frame_pointers();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("profile-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("cpu.svg");
    let out = profile(&[
        "-F",
        "999",
        "-f",
        "--svg",
        svg.to_str().unwrap(),
        "--",
        prog.to_str().unwrap(),
        "spin",
        "1",
    ]);
    let folded = String::from_utf8(out.stdout).unwrap();
    // The folded text, unchanged, is what inferno-flamegraph reads.
    let mut drawn = Vec::new();
    let mut opts = inferno::flamegraph::Options::default();
    inferno::flamegraph::from_lines(&mut opts, folded.lines(), &mut drawn).unwrap();
    assert!(String::from_utf8(drawn).unwrap().contains("hot"));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("hot") && text.contains("middle"),
        "SVG names the hot function"
    );
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])",
        ])
        .arg(&svg)
        .status()
        .expect("python3 parses the SVG as XML");
    assert!(parsed.success(), "{} is not well-formed XML", svg.display());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_fails_in_one_line_and_leaves_nothing() {
    let Some(t) = live_tracing() else { return };
    let root = t.root().to_owned();
    assert_fails_cleanly(&root, &["profile", "-p", "999999999"], 1);
    assert_fails_cleanly(&root, &["profile", "-p", "1", "-a"], 1);
    assert_fails_cleanly(&root, &["profile", "-F", "0"], 1);
    assert_fails_cleanly(&root, &["profile", "-d", "0"], 1);
    assert_fails_cleanly(&root, &["profile", "--bogus"], 2);
    assert_fails_cleanly(&root, &["profile", "--call-graph", "lbr"], 2);
    assert_fails_cleanly(&root, &["profile", "-K", "-U"], 2);
    assert_fails_cleanly(&root, &["profile", "--", "/nonexistent/prog"], 1);
}

#[test]
fn ctrl_c_ends_sampling_and_prints() {
    if !may_sample() {
        return;
    }
    let mut spinner = spinner_for_4s();
    let pid = spinner.id().to_string();
    let child = ftr()
        .args(["profile", "-F", "999", "-f", "-U", "-p", &pid])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = spinner.kill();
    let _ = spinner.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.contains("main;outer;middle;hot ")),
        "{text}"
    );
}

#[test]
fn a_command_that_exits_before_the_first_drain_still_symbolizes() {
    if !may_sample() {
        return;
    }
    // 50 ms of work ends before ftr first reads the rings (it waits for a
    // half-full ring or 200 ms): its maps come from MMAP2 records, not
    // /proc, which is empty by then.
    for (prog, mode) in [(with_frame_pointers(), "fp"), (without_frame_pointers(), "dwarf")] {
        let out = profile(&[
            "-F",
            "999",
            "-U",
            "-f",
            "--call-graph",
            mode,
            "--",
            prog.to_str().unwrap(),
            "spin",
            "0.05",
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        let lines = parse_folded(&text);
        let total: u64 = lines.iter().map(|(_, c)| c).sum();
        let hot: u64 = lines
            .iter()
            .filter(|(f, _)| f.ends_with(&HOT_CHAIN.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
            .map(|(_, c)| c)
            .sum();
        assert!(
            total >= 20 && hot * 100 >= total * 90,
            "{mode}: {hot} of {total}:\n{text}"
        );
    }
}
