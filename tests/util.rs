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

/// Compiles fixtures/progs/NAME.c with extra compiler flags (e.g.
/// `-fno-omit-frame-pointer`) once per test process and flag set; returns
/// the binary, named after `tag` so builds with different flags differ.
pub fn c_program_with(name: &str, tag: &str, flags: &[&str]) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let _l = BUILT.get_or_init(Default::default).lock().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/progs")
        .join(format!("{name}.c"));
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prog-{name}-{tag}-{}", std::process::id()));
    if !out.exists() {
        let st = Command::new("cc")
            .args(flags)
            .args(["-g", "-o"])
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

/// What one command printed in the second live kernel (see `run_in_guest`).
#[derive(Debug)]
pub struct GuestOutput {
    /// The command's stdout and stderr, written to files in `dir` by the
    /// guest and read back here (the console interleaves kernel messages).
    pub stdout: String,
    pub stderr: String,
    /// The command's exit code; None when it never finished.
    pub status: Option<i32>,
    /// The directory shared read-write with the guest and the command's
    /// working directory there: other files it writes land here too.
    pub dir: PathBuf,
    /// qemu-kernel.sh's own output: the guest console and QEMU's verdict.
    pub console: String,
    /// Wall time of the whole boot, in seconds.
    pub secs: f64,
}

impl GuestOutput {
    /// A file the guest command wrote into its working directory ("" if none).
    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The end of the console, for assertion messages.
    pub fn console_tail(&self) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// A guest file with its `.err` companion (for a `.out`), the script's
    /// stderr and the console's end: what an assertion message needs.
    pub fn context(&self, file: &str) -> String {
        let err = file.replace(".out", ".err");
        let err = if err != file {
            format!("\n{err}: {}", self.file(&err))
        } else {
            String::new()
        };
        format!(
            "{file}: {}{err}\nscript stderr: {}\nconsole:\n{}",
            self.file(file),
            self.stderr,
            self.console_tail()
        )
    }

    /// Asserts the guest's global tracing state was left as found, from
    /// the `*.after` files its script wrote at the end (current_tracer,
    /// set_ftrace_filter, instances, kprobe_events, uprobe_events).
    pub fn assert_left_clean(&self) {
        assert!(
            self.dir.join("uprobe_events.after").exists(),
            "the script did not reach its end: {}",
            self.context("stdout")
        );
        let cur = self.file("current_tracer.after");
        assert_eq!(cur.trim(), "nop", "top-level tracer left: {cur}");
        // The tracer trials narrow the top-level filter to one function
        // (6.1 takes function_graph only there) and must widen it again.
        let filter = self.file("set_ftrace_filter.after");
        assert!(
            filter.lines().all(|l| l.starts_with('#')),
            "set_ftrace_filter left narrowed: {filter}"
        );
        let inst = self.file("instances.after");
        assert!(
            !inst.lines().any(|l| l.starts_with("ftr")),
            "instances left: {inst}"
        );
        for f in ["kprobe_events.after", "uprobe_events.after"] {
            let text = self.file(f);
            assert!(!text.contains("ftr_"), "{f}: {text}");
        }
    }

    /// Prints how long the boot took and the guest's uptime after each
    /// step (the script's `times` file), for the test log.
    pub fn log_timing(&self, label: &str) {
        eprintln!(
            "{label} run took {:.1} s; guest uptime after each step:\n{}",
            self.secs,
            self.file("times")
        );
    }
}

/// ../shared/qemu-kernel.sh next to the repository, else /work/shared's.
fn qemu_kernel_script() -> PathBuf {
    let near = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/qemu-kernel.sh");
    if near.exists() {
        near
    } else {
        PathBuf::from("/work/shared/qemu-kernel.sh")
    }
}

/// Boots the second live kernel (Debian's stock 6.1 under QEMU, through
/// qemu-kernel.sh) with the host filesystem visible, runs the bash `cmd`
/// there as root with `$FTR` naming the built ftr binary, and powers off.
/// Boots are slow: put every check of a test module into one `cmd`.
/// Returns None (with a message) when the guest cannot boot here, unless
/// FTR_REQUIRE_KERNEL is set, which makes that a failure.
pub fn run_in_guest(cmd: &str) -> Option<GuestOutput> {
    run_in_guest_env(cmd, &[])
}

/// [`run_in_guest`] with extra environment for qemu-kernel.sh (`SMP`,
/// `MEM`). One virtual CPU (`SMP=1`) keeps QEMU's multi-threaded TCG out
/// of the kernel's cross-CPU text patching: selecting function_graph
/// patches every function, and with two vCPUs both were seen spinning for
/// minutes (soft lockups) in most runs.
pub fn run_in_guest_env(cmd: &str, env: &[(&str, &str)]) -> Option<GuestOutput> {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(format!("guest-{}-{}", std::process::id(), unique()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A private WORK (qemu-kernel.sh writes its initramfs there, so
    // concurrent boots must not share one) whose unpacked kernel is the
    // shared cache.
    let work = dir.with_extension("work");
    std::fs::create_dir_all(&work).unwrap();
    let cache = Path::new("/var/tmp/ftr-qemu/kpkg");
    if std::fs::create_dir_all(cache).is_ok() {
        let _ = std::os::unix::fs::symlink(cache, work.join("kpkg"));
    }
    std::fs::write(dir.join("cmd.sh"), cmd).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("guest.sh"),
        format!(
            "cd {d} && : > .started\nexport FTR={}\nbash {d}/cmd.sh > {d}/stdout 2> {d}/stderr\necho $? > {d}/status\nsync\n",
            env!("CARGO_BIN_EXE_ftr")
        ),
    )
    .unwrap();
    let qemu_timeout: u64 = std::env::var("FTR_GUEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let t0 = std::time::Instant::now();
    // timeout(1) signals its whole process group, so QEMU dies with the
    // script; the extra time covers fetching the kernel on a first run.
    let out = Command::new("timeout")
        .args(["-k", "5", &(qemu_timeout + 60).to_string(), "bash"])
        .arg(qemu_kernel_script())
        .env("HOSTROOT", "1")
        .env("RW_DIR", &dir)
        .env("WORK", &work)
        .env("TIMEOUT", qemu_timeout.to_string())
        .env("GUEST_CMD", format!("bash {d}/guest.sh"))
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output();
    let secs = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&work);
    let console = match &out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("running qemu-kernel.sh: {e}"),
    };
    let run = GuestOutput {
        stdout: std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
        status: std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        dir,
        console,
        secs,
    };
    if !run.dir.join(".started").exists() {
        let why = format!(
            "the 6.1 guest did not boot to its command in {secs:.0} s (needs qemu-system-x86, busybox-static, cpio):\n{}",
            run.console_tail()
        );
        if kernel_required() {
            panic!("FTR_REQUIRE_KERNEL is set but {why}");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(run)
}

fn unique() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Serializes the tests that change or measure global kernel state others
/// would disturb (drop_caches, the page cache of a test file, the
/// top-level tracer). Held for the whole measurement.
pub fn global_state_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding it must not fail every other one.
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes back dirty pages and drops the clean page cache, dentries and
/// inodes (`echo 3 > /proc/sys/vm/drop_caches`); hold
/// [`global_state_lock`] around it and the measurement that follows.
pub fn drop_caches() {
    let st = Command::new("sync").status().expect("running sync");
    assert!(st.success());
    std::fs::write("/proc/sys/vm/drop_caches", "3").expect("writing /proc/sys/vm/drop_caches");
}
