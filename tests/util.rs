//! Helpers shared by the integration tests: running the ftr binary,
//! building C fixtures, extracting captured kernel trees, and checking that
//! a process left no tracing state behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The built ftr binary.
pub fn ftr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ftr"))
}

/// Runs ftr with `args` and returns its output.
pub fn run_ftr(args: &[&str]) -> Output {
    ftr().args(args).output().expect("running ftr")
}

/// Whether tests must not skip (CI sets FTR_REQUIRE_KERNEL=1).
pub fn kernel_required() -> bool {
    std::env::var_os("FTR_REQUIRE_KERNEL").is_some_and(|v| v != "0" && !v.is_empty())
}

/// The live tracing directory, mounting tracefs if needed; None (with a
/// message) when unavailable and not required.
pub fn live_tracing() -> Option<ftr_tracefs::TracingDir> {
    let why = if !nix::unistd::Uid::effective().is_root() {
        "not root".to_owned()
    } else {
        match ftr_tracefs::TracingDir::locate() {
            Ok(t) => return Some(t),
            Err(e) => format!("{e}"),
        }
    };
    if kernel_required() {
        panic!("FTR_REQUIRE_KERNEL is set but tracefs is unusable: {why}");
    }
    eprintln!("SKIPPED: tracefs is unusable here ({why})");
    None
}

/// Compiles fixtures/progs/NAME.c once per test process; returns the binary.
pub fn c_program(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let _l = BUILT.get_or_init(Default::default).lock().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/progs")
        .join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prog-{name}-{}", std::process::id()));
    if !out.exists() {
        let st = Command::new("cc")
            .args(["-O1", "-g", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("running cc");
        assert!(st.success(), "cc failed for {}", src.display());
    }
    out
}

/// Extracts fixtures/kernel-data/ARCHIVE.tar.gz once per test process and
/// returns the directory it was extracted into.
pub fn kernel_data(archive: &str) -> PathBuf {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let _l = LOCK.get_or_init(Default::default).lock().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kd-{archive}-{}", std::process::id()));
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let tar = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/kernel-data")
            .join(format!("{archive}.tar.gz"));
        let st = Command::new("tar")
            .arg("xzf")
            .arg(&tar)
            .arg("-C")
            .arg(&dir)
            .status()
            .expect("running tar");
        assert!(st.success(), "tar failed for {}", tar.display());
    }
    dir
}

/// Instances and probe groups under `root` owned by `pid` (ftr-PID-N,
/// ftr_PID_N): what a run must not leave behind.
pub fn leftovers_of(root: &Path, pid: u32) -> Vec<String> {
    let mut left = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root.join("instances")) {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if ftr_tracefs::instance_owner(&name) == Some(pid as i32) {
                left.push(format!("instance {name}"));
            }
        }
    }
    for f in ["uprobe_events", "kprobe_events"] {
        if let Ok(text) = std::fs::read_to_string(root.join(f)) {
            for line in text.lines() {
                if let Some((g, e)) = ftr_tracefs::parse_probe_line(line) {
                    if ftr_tracefs::group_owner(g) == Some(pid as i32) {
                        left.push(format!("probe {g}/{e}"));
                    }
                }
            }
        }
    }
    left
}

/// Runs `ftr ARGS` that must fail with `code`: 1 means a one-line
/// `ftr: ...` error, 2 clap's usage error; never a panic, nothing on
/// stdout, and no instance or probe left behind.
pub fn assert_fails_cleanly(root: &Path, args: &[&str], code: i32) {
    let child = ftr()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    if code == 1 {
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ftr: "), "{args:?}: {err}");
    }
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert_eq!(leftovers_of(root, pid), Vec::<String>::new(), "{args:?}");
}
