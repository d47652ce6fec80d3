//! The binary's process-level unsafe code (file mapping is in mmap.rs).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawns `cmd` with the stop signals unblocked again: ftr blocks SIGINT,
/// SIGTERM and SIGHUP in every thread (see pipeline::stop), and a child
/// would inherit that mask and ignore Ctrl-C.
pub fn spawn_with_signals_unblocked(cmd: &mut Command) -> io::Result<Child> {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls pthread_sigmask, which is async-signal-safe; it allocates
    // nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(crate::pipeline::stop::Stop::unblock_in_child);
    }
    cmd.spawn()
}
