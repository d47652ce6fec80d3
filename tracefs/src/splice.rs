//! Zero-copy recording: one CPU's ring moved into a file with splice(2).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

/// Bytes of pipe between trace_pipe_raw and the spool file: a larger pipe
/// moves more pages per call (the default is 16 pages).
const SPLICE_PIPE: usize = 1 << 20;

/// Moves one CPU's full sub-buffers from its `trace_pipe_raw` (`src`,
/// see [`crate::Instance::trace_pipe_raw`]) into `spool`
/// with splice(2) through a pipe, so pages go from the ring buffer to the
/// page cache without a copy through user space (trace-cmd's
/// `tracecmd_splice_data`). Runs until `stop` is set and the CPU has no
/// full page left; returns the bytes moved. The kernel only splices whole
/// pages (`tracing_buffers_splice_read` reads with `full` set), so the page
/// the writer is still on stays behind for the final read(2) drain.
pub fn splice_ring(
    src: &Path,
    spool: &File,
    page_size: usize,
    stop: &std::sync::atomic::AtomicBool,
) -> std::io::Result<u64> {
    use nix::errno::Errno;
    use nix::fcntl::{splice, SpliceFFlags};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::Ordering;
    let src = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(src)?;
    let (pipe_r, pipe_w) = nix::unistd::pipe()?;
    let chunk = nix::fcntl::fcntl(
        pipe_w.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(SPLICE_PIPE as i32),
    )
    .map_or(16 * page_size, |n| n as usize)
    .max(page_size)
        / page_size
        * page_size;
    let mut total = 0u64;
    loop {
        let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
        match splice(&src, None, &pipe_w, None, chunk, flags) {
            Ok(0) => {}
            Ok(n) => {
                let mut left = n;
                while left > 0 {
                    match splice(&pipe_r, None, spool, None, left, SpliceFFlags::SPLICE_F_MOVE) {
                        Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                        Ok(m) => left -= m,
                        Err(Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                total += n as u64;
                continue;
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if stop.load(Ordering::Acquire) {
            return Ok(total);
        }
        // Readable means the buffer_percent watermark was reached.
        let mut fds = [PollFd::new(src.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(50u16)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
