//! Ctrl-C, SIGTERM and SIGHUP as a stop request every loop can see.
//!
//! The signals are blocked in every thread and taken by one thread with
//! sigwait(2), so no code runs in signal context. The first signal sets the
//! flag and wakes pollers through an eventfd, so a tool stops, prints its
//! final summary and cleans up through its guards. A second signal means the
//! user will not wait: the thread undoes every recorded tracefs change
//! itself and exits with 128+signal.

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Shared {
    requested: AtomicBool,
    signal: AtomicI32,
    wake: EventFd,
}

/// A stop request: from a signal, or from a deadline (`-d SECS`).
#[derive(Clone)]
pub struct Stop {
    shared: Arc<Shared>,
    deadline: Option<Instant>,
}

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

fn signal_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in SIGNALS {
        set.add(s);
    }
    set
}

impl Stop {
    /// Blocks the stop signals in this thread (and so in every thread it
    /// spawns later; call it first thing) and starts the signal thread.
    pub fn install() -> anyhow::Result<Stop> {
        let set = signal_set();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        let shared = Arc::new(Shared {
            requested: AtomicBool::new(false),
            signal: AtomicI32::new(0),
            wake: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("ftr-signals".into())
            .spawn(move || loop {
                let Ok(sig) = set.wait() else { continue };
                if s.requested.swap(true, Ordering::SeqCst) {
                    eprintln!("ftr: {sig} again: cleaning up and exiting now");
                    if let Err(errors) = ftr_tracefs::undo_all() {
                        for e in errors {
                            eprintln!("ftr: cleanup failed: {}", ftr_tracefs::error_chain(&e));
                        }
                    }
                    std::process::exit(128 + sig as i32);
                }
                s.signal.store(sig as i32, Ordering::SeqCst);
                let _ = s.wake.write(1);
            })?;
        Ok(Stop {
            shared,
            deadline: None,
        })
    }

    /// The same stop, also requested once `d` has passed from now.
    pub fn with_duration(mut self, d: Option<Duration>) -> Stop {
        self.deadline = d.map(|d| Instant::now() + d);
        self
    }

    /// Asks every loop to stop, as a signal would (a printer whose reader
    /// went away, `ftr tp | head`).
    pub fn request(&self) {
        self.shared.requested.store(true, Ordering::SeqCst);
        let _ = self.shared.wake.write(1);
    }

    /// Whether a signal arrived or the deadline passed.
    pub fn requested(&self) -> bool {
        self.shared.requested.load(Ordering::SeqCst) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Time left until the deadline, if there is one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// A descriptor that becomes readable when a signal arrives.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.shared.wake.as_fd()
    }

    /// The signal that asked us to stop, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.shared.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Unblocks the stop signals again; a child command must not inherit
    /// the blocked mask (call between fork and exec).
    pub fn unblock_in_child() -> std::io::Result<()> {
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&signal_set()), None)
            .map_err(Into::into)
    }
}
