//! Per-CPU readers of `trace_pipe_raw` that never block shutdown.
//!
//! Each CPU's file is opened O_NONBLOCK and read a whole sub-buffer at a
//! time (the kernel hands out one page per read(2); see
//! `tracing_buffers_read` in kernel/trace/trace.c). [`RingReader::wait`]
//! polls every CPU plus an optional wake descriptor (an eventfd the signal
//! thread writes), so Ctrl-C interrupts a wait at once; a timeout covers
//! kernels whose poll only wakes at `buffer_percent`.

use crate::error::{Error, Result};
use crate::instance::Instance;
use crate::ring::{Page, PageLayout};
use std::fs::File;
use std::io::{ErrorKind as IoKind, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

struct CpuRing {
    cpu: u32,
    file: File,
}

/// Open readers on every CPU's ring of one [`Instance`].
pub struct RingReader {
    rings: Vec<CpuRing>,
    layout: PageLayout,
    buf: Vec<u8>,
}

/// Why [`RingReader::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Some CPU reported data.
    pub data: bool,
    /// The wake descriptor fired (shutdown requested).
    pub woken: bool,
}

/// What one [`RingReader::drain`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Sub-buffers read.
    pub pages: u64,
    /// Bytes of event data in them.
    pub bytes: u64,
}

impl RingReader {
    /// Opens `per_cpu/cpuN/trace_pipe_raw` for every CPU of `instance`.
    /// The files must be closed (drop the reader) before the instance can
    /// be removed; removal retries on EBUSY meanwhile.
    pub fn open(instance: &Instance, layout: PageLayout) -> Result<RingReader> {
        let mut rings = Vec::new();
        for cpu in instance.cpus()? {
            let path = instance.trace_pipe_raw(cpu);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(|source| Error::Read { path, source })?;
            rings.push(CpuRing { cpu, file });
        }
        Ok(RingReader {
            rings,
            buf: vec![0; layout.page_size],
            layout,
        })
    }

    /// The layout pages are decoded with.
    pub fn layout(&self) -> &PageLayout {
        &self.layout
    }

    /// The CPUs being read.
    pub fn cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.rings.iter().map(|r| r.cpu)
    }

    /// Waits until a CPU has data, `wake` becomes readable, or `timeout`
    /// passes (None waits indefinitely). EINTR counts as a timeout.
    pub fn wait(&self, timeout: Option<Duration>, wake: Option<BorrowedFd<'_>>) -> Result<Readiness> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds: Vec<PollFd> = self
            .rings
            .iter()
            .map(|r| PollFd::new(r.file.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(w) = wake {
            fds.push(PollFd::new(w, PollFlags::POLLIN));
        }
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        match poll(&mut fds, t) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {
                return Ok(Readiness {
                    data: false,
                    woken: false,
                })
            }
            Err(e) => return Err(Error::Poll(e.into())),
        }
        let ready = |f: &PollFd| {
            f.revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR))
        };
        let n = self.rings.len();
        Ok(Readiness {
            data: fds[..n].iter().any(ready),
            woken: fds[n..].iter().any(ready),
        })
    }

    /// Reads every page available now on every CPU and hands each decoded
    /// page to `f(cpu, page)`. Pages that fail to parse are errors (they
    /// would mean ftr misread header_page); an empty CPU is not.
    pub fn drain(&mut self, mut f: impl FnMut(u32, &Page<'_>)) -> Result<DrainStats> {
        let mut stats = DrainStats::default();
        for ring in &mut self.rings {
            loop {
                let n = match ring.file.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == IoKind::WouldBlock || e.kind() == IoKind::Interrupted => break,
                    Err(source) => {
                        return Err(Error::Read {
                            path: format!("per_cpu/cpu{}/trace_pipe_raw", ring.cpu).into(),
                            source,
                        })
                    }
                };
                let page = Page::parse(&self.buf[..n], &self.layout).map_err(|source| Error::Page {
                    cpu: ring.cpu,
                    source,
                })?;
                stats.pages += 1;
                stats.bytes += page.data_len() as u64;
                f(ring.cpu, &page);
            }
        }
        Ok(stats)
    }
}
