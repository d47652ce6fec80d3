//! A command started for counting: forked, held before exec while the
//! counters are opened on its pid with enable_on_exec, then released, so
//! only the command itself (and its children, through inherit) is counted.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::sys;

/// A forked command waiting before exec.
///
/// Dropping it without [`Workload::start`] makes the child exit without
/// running the command.
pub struct Workload {
    pid: i32,
    program: String,
    gate: Option<OwnedFd>,
    spawner: Option<JoinHandle<io::Result<Child>>>,
}

impl Workload {
    /// Forks `argv` and returns once the child is waiting before exec.
    /// `hook` runs in the child first and must be async-signal-safe (ftr
    /// passes the function that unblocks its stop signals).
    ///
    /// Fails with [`Error::Spawn`] when the fork or the pipes fail, or the
    /// child died before reporting (e.g. `hook` failed).
    pub fn prepare(argv: &[String], hook: fn() -> io::Result<()>) -> Result<Workload, Error> {
        let program = argv.first().cloned().unwrap_or_default();
        let mut cmd = Command::new(&program);
        cmd.args(argv.get(1..).unwrap_or_default());
        Workload::prepare_command(cmd, hook)
    }

    /// Like [`Workload::prepare`], for a [`Command`] the caller configured
    /// (stdio, environment, working directory). Its own `pre_exec` hooks,
    /// if any, run before ftr's.
    pub fn prepare_command(mut cmd: Command, hook: fn() -> io::Result<()>) -> Result<Workload, Error> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let spawn_err = |source| Error::Spawn {
            command: program.clone(),
            source,
        };
        let (report_r, report_w) = sys::pipe().map_err(spawn_err)?;
        let (gate_r, gate_w) = sys::pipe().map_err(spawn_err)?;
        sys::hold_before_exec(&mut cmd, report_w, gate_r, gate_w.as_raw_fd(), hook);
        // Command::spawn returns only after exec, so it runs on a thread
        // while this one opens the counters.
        let spawner = std::thread::Builder::new()
            .name("ftr-spawn".into())
            .spawn(move || cmd.spawn())
            .map_err(spawn_err)?;
        let mut pid = [0u8; 4];
        let mut report = File::from(report_r);
        if let Err(e) = report.read_exact(&mut pid) {
            drop(gate_w);
            let err = match spawner.join() {
                Ok(Err(spawn)) => spawn,
                _ => e,
            };
            return Err(spawn_err(err));
        }
        Ok(Workload {
            pid: u32::from_ne_bytes(pid) as i32,
            program,
            gate: Some(gate_w),
            spawner: Some(spawner),
        })
    }

    /// The child's pid, to open counters on.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Lets the child exec the command; returns it once exec succeeded.
    ///
    /// Fails with [`Error::Spawn`] when exec fails (no such program, ...).
    pub fn start(mut self) -> Result<Child, Error> {
        let gate = self.gate.take().expect("gate is present until start");
        let mut gate = File::from(gate);
        let go = gate.write_all(b"x");
        drop(gate);
        let joined = self
            .spawner
            .take()
            .expect("spawner is present until start")
            .join();
        let spawn_err = |source| Error::Spawn {
            command: self.program.clone(),
            source,
        };
        go.map_err(spawn_err)?;
        match joined {
            Ok(r) => r.map_err(spawn_err),
            Err(_) => Err(spawn_err(io::Error::other("the spawning thread panicked"))),
        }
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        // Closing the gate makes the waiting child fail its spawn and exit.
        self.gate.take();
        if let Some(s) = self.spawner.take() {
            let _ = s.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() -> io::Result<()> {
        Ok(())
    }

    #[test]
    fn child_waits_for_start_then_runs() {
        let w = Workload::prepare(&["true".to_owned()], nothing).unwrap();
        assert!(w.pid() > 0);
        // Still held: /proc/PID/comm is the parent's name, not "true".
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", w.pid())).unwrap();
        assert_ne!(comm.trim(), "true");
        let mut child = w.start().unwrap();
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn missing_program_fails_at_start_and_dropping_releases_the_child() {
        let w = Workload::prepare(&["/nonexistent/ftr-no-such-program".to_owned()], nothing).unwrap();
        let err = w.start().unwrap_err();
        assert!(
            err.to_string()
                .contains("could not run /nonexistent/ftr-no-such-program"),
            "{err}"
        );
        let w = Workload::prepare(&["true".to_owned()], nothing).unwrap();
        drop(w);
    }
}
