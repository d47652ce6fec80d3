//! `ftr offcputime` against the live kernel. Ground truth is
//! fixtures/progs/offcpu_sleep.c, which sleeps in nanosleep(2) through
//! main -> waiter -> nap, in 10 ms naps: traced for 1.5 s it is off CPU
//! for nearly all of it, in do_nanosleep, under waiter and main.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{assert_fails_cleanly, c_program_with, ftr, kernel_required, live_tracing};

fn may_sample() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but we are not root"
    );
    eprintln!("SKIPPED: offcputime needs root here");
    false
}

/// The task name the kernel gives `p`: its file name, cut to 15 bytes.
fn comm(p: &std::path::Path) -> String {
    p.file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect()
}

#[test]
fn a_sleeping_process_is_off_cpu_in_nanosleep_under_its_callers() {
    if !may_sample() || live_tracing().is_none() {
        return;
    }
    let prog = c_program_with("offcpu_sleep", "fp-O0", &["-O0", "-fno-omit-frame-pointer"]);
    let mut child = Command::new(&prog)
        .args(["400", "10"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pid = child.id().to_string();
    let out = ftr()
        .args(["-v", "offcputime", "-f", "-d", "1.5", "-p", &pid])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut total = 0u64;
    let mut in_nap = 0u64;
    for l in text.lines() {
        let (stack, us) = l.rsplit_once(' ').unwrap();
        let us: u64 = us.parse().unwrap();
        let frames: Vec<&str> = stack.split(';').collect();
        assert_eq!(frames[0], comm(&prog), "{l}");
        total += us;
        let user_ok = frames.windows(2).any(|w| w == ["main", "waiter"]);
        if user_ok && frames.contains(&"do_nanosleep") {
            in_nap += us;
        }
    }
    // 1.5 s of tracing, less the nap under way at the start (its
    // switch-out came before tracing) and at the end (not back yet).
    assert!(
        (1_200_000..=1_550_000).contains(&total),
        "{total} us off CPU in 1.5 s:\n{text}\n{stderr}"
    );
    assert!(
        in_nap * 100 >= total * 95,
        "{in_nap} of {total} us in nap:\n{text}"
    );
}

#[test]
fn svg_and_multiline_output() {
    if !may_sample() || live_tracing().is_none() {
        return;
    }
    let prog = c_program_with("offcpu_sleep", "fp-O0", &["-O0", "-fno-omit-frame-pointer"]);
    let mut child = Command::new(&prog)
        .args(["200", "10"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let svg = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("offcpu-{}.svg", std::process::id()));
    let out = ftr()
        .args([
            "offcputime",
            "-d",
            "0.5",
            "-p",
            &pid,
            "--svg",
            svg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("do_nanosleep"), "{text}");
    let _ = std::fs::remove_file(&svg);
    let out = ftr()
        .args(["offcputime", "-d", "0.5", "-p", &pid, "-U"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .last()
        .unwrap();
    assert!(last.contains("    waiter\n    main\n"), "{text}");
    assert!(
        last.contains(&format!("    -                {} ({pid})", comm(&prog))),
        "{text}"
    );
}

#[test]
fn bad_input_fails_in_one_line_and_leaves_nothing() {
    let Some(t) = live_tracing() else { return };
    let root = t.root().to_owned();
    assert_fails_cleanly(&root, &["offcputime", "-p", "999999999"], 1);
    assert_fails_cleanly(&root, &["offcputime", "-m", "10", "-M", "5"], 1);
    assert_fails_cleanly(&root, &["offcputime", "-d", "0"], 1);
    assert_fails_cleanly(&root, &["offcputime", "-u", "-k"], 2);
    assert_fails_cleanly(&root, &["offcputime", "--nope"], 2);
}
