//! Killing `ftr tp` in every way leaves no instance and no probe: SIGINT,
//! SIGTERM and SIGHUP through the signal thread and the guard, SIGKILL
//! through the reclaim at the next start (`ftr doctor`).

use super::tp::start_tracing;
use crate::util::{leftovers_of, live_tracing, run_ftr};
use nix::sys::signal::Signal;

fn kill_and_check(sig: Signal) {
    let Some(t) = live_tracing() else { return };
    let tracer = start_tracing(&["tp", "sched:sched_switch", "sched:sched_wakeup"]);
    let pid = tracer.child.id();
    assert!(
        !leftovers_of(t.root(), pid).is_empty(),
        "tp has an instance while running"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
    let (status, _stdout, stderr) = tracer.finish();
    if sig == Signal::SIGKILL {
        let out = run_ftr(&["doctor"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    } else {
        assert!(status.success(), "{sig}: {status:?} {stderr:?}");
        assert!(
            stderr.iter().any(|l| l.contains(" events; ")),
            "{sig}: summary printed: {stderr:?}"
        );
    }
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new(), "after {sig}");
}

#[test]
fn sigint_leaves_nothing() {
    kill_and_check(Signal::SIGINT);
}

#[test]
fn sigterm_leaves_nothing() {
    kill_and_check(Signal::SIGTERM);
}

#[test]
fn sighup_leaves_nothing() {
    kill_and_check(Signal::SIGHUP);
}

#[test]
fn sigkill_then_doctor_reclaims() {
    kill_and_check(Signal::SIGKILL);
}

#[test]
fn panic_after_setup_leaves_nothing() {
    let Some(t) = live_tracing() else { return };
    let child = crate::util::ftr()
        .args(["tp", "sched:sched_switch"])
        .env("FTR_TEST_PANIC_AFTER_SETUP", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{err}");
    assert!(err.contains("FTR_TEST_PANIC_AFTER_SETUP"), "{err}");
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new(), "after a panic");
}
