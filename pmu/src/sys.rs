//! The kernel ABI of perf_event_open(2) and bpf(2): constants, `#[repr(C)]`
//! structs, the two raw syscalls, the perf ioctls and the mmap'd ring
//! ([`RingMap`]), wrapped so that callers get an [`OwnedFd`], safe ring
//! accessors or an [`io::Error`] carrying the errno.
//!
//! This is the only module of ftr-pmu that may use `unsafe`. The constants
//! mirror `include/uapi/linux/perf_event.h` and `include/uapi/linux/bpf.h`;
//! the counting and sampling code uses more of them than capability probing
//! does, hence the `dead_code` allowance on this ABI table.
#![allow(dead_code)]

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

// ---------------------------------------------------------------------------
// perf_event_open(2)

/// `perf_event_attr.type`: generalised hardware events (`PERF_COUNT_HW_*`).
pub(crate) const PERF_TYPE_HARDWARE: u32 = 0;
/// `perf_event_attr.type`: kernel software events (`PERF_COUNT_SW_*`).
pub(crate) const PERF_TYPE_SOFTWARE: u32 = 1;
/// `perf_event_attr.type`: a tracepoint; `config` is its id from
/// `events/<sys>/<event>/id`.
pub(crate) const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `perf_event_attr.type`: generalised cache events.
pub(crate) const PERF_TYPE_HW_CACHE: u32 = 3;
/// `perf_event_attr.type`: raw PMU-specific events (`rNNNN`).
pub(crate) const PERF_TYPE_RAW: u32 = 4;
/// `perf_event_attr.type`: hardware breakpoints.
pub(crate) const PERF_TYPE_BREAKPOINT: u32 = 5;

pub(crate) const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
pub(crate) const PERF_COUNT_HW_INSTRUCTIONS: u64 = 1;
pub(crate) const PERF_COUNT_HW_CACHE_REFERENCES: u64 = 2;
pub(crate) const PERF_COUNT_HW_CACHE_MISSES: u64 = 3;
pub(crate) const PERF_COUNT_HW_BRANCH_INSTRUCTIONS: u64 = 4;
pub(crate) const PERF_COUNT_HW_BRANCH_MISSES: u64 = 5;
pub(crate) const PERF_COUNT_HW_BUS_CYCLES: u64 = 6;
pub(crate) const PERF_COUNT_HW_STALLED_CYCLES_FRONTEND: u64 = 7;
pub(crate) const PERF_COUNT_HW_STALLED_CYCLES_BACKEND: u64 = 8;
pub(crate) const PERF_COUNT_HW_REF_CPU_CYCLES: u64 = 9;

pub(crate) const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
pub(crate) const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
pub(crate) const PERF_COUNT_SW_PAGE_FAULTS: u64 = 2;
pub(crate) const PERF_COUNT_SW_CONTEXT_SWITCHES: u64 = 3;
pub(crate) const PERF_COUNT_SW_CPU_MIGRATIONS: u64 = 4;
pub(crate) const PERF_COUNT_SW_PAGE_FAULTS_MIN: u64 = 5;
pub(crate) const PERF_COUNT_SW_PAGE_FAULTS_MAJ: u64 = 6;
pub(crate) const PERF_COUNT_SW_ALIGNMENT_FAULTS: u64 = 7;
pub(crate) const PERF_COUNT_SW_EMULATION_FAULTS: u64 = 8;
pub(crate) const PERF_COUNT_SW_DUMMY: u64 = 9;
pub(crate) const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
pub(crate) const PERF_COUNT_SW_CGROUP_SWITCHES: u64 = 11;

// perf_event_attr.sample_type bits.
pub(crate) const PERF_SAMPLE_IP: u64 = 1 << 0;
pub(crate) const PERF_SAMPLE_TID: u64 = 1 << 1;
pub(crate) const PERF_SAMPLE_TIME: u64 = 1 << 2;
pub(crate) const PERF_SAMPLE_ADDR: u64 = 1 << 3;
pub(crate) const PERF_SAMPLE_READ: u64 = 1 << 4;
pub(crate) const PERF_SAMPLE_CALLCHAIN: u64 = 1 << 5;
pub(crate) const PERF_SAMPLE_ID: u64 = 1 << 6;
pub(crate) const PERF_SAMPLE_CPU: u64 = 1 << 7;
pub(crate) const PERF_SAMPLE_PERIOD: u64 = 1 << 8;
pub(crate) const PERF_SAMPLE_STREAM_ID: u64 = 1 << 9;
pub(crate) const PERF_SAMPLE_RAW: u64 = 1 << 10;
pub(crate) const PERF_SAMPLE_BRANCH_STACK: u64 = 1 << 11;
pub(crate) const PERF_SAMPLE_REGS_USER: u64 = 1 << 12;
pub(crate) const PERF_SAMPLE_STACK_USER: u64 = 1 << 13;
pub(crate) const PERF_SAMPLE_WEIGHT: u64 = 1 << 14;
pub(crate) const PERF_SAMPLE_DATA_SRC: u64 = 1 << 15;
pub(crate) const PERF_SAMPLE_IDENTIFIER: u64 = 1 << 16;

// perf_event_attr.read_format bits.
pub(crate) const PERF_FORMAT_TOTAL_TIME_ENABLED: u64 = 1 << 0;
pub(crate) const PERF_FORMAT_TOTAL_TIME_RUNNING: u64 = 1 << 1;
pub(crate) const PERF_FORMAT_ID: u64 = 1 << 2;
pub(crate) const PERF_FORMAT_GROUP: u64 = 1 << 3;

// The bitfield word of perf_event_attr (`disabled:1, inherit:1, ...`), as
// bits of `PerfEventAttr::flags`. C bitfields on the little- and big-endian
// Linux ABIs ftr supports are allocated from bit 0 of the u64 upwards.
pub(crate) const ATTR_DISABLED: u64 = 1 << 0;
pub(crate) const ATTR_INHERIT: u64 = 1 << 1;
pub(crate) const ATTR_PINNED: u64 = 1 << 2;
pub(crate) const ATTR_EXCLUSIVE: u64 = 1 << 3;
pub(crate) const ATTR_EXCLUDE_USER: u64 = 1 << 4;
pub(crate) const ATTR_EXCLUDE_KERNEL: u64 = 1 << 5;
pub(crate) const ATTR_EXCLUDE_HV: u64 = 1 << 6;
pub(crate) const ATTR_EXCLUDE_IDLE: u64 = 1 << 7;
pub(crate) const ATTR_MMAP: u64 = 1 << 8;
pub(crate) const ATTR_COMM: u64 = 1 << 9;
pub(crate) const ATTR_FREQ: u64 = 1 << 10;
pub(crate) const ATTR_INHERIT_STAT: u64 = 1 << 11;
pub(crate) const ATTR_ENABLE_ON_EXEC: u64 = 1 << 12;
pub(crate) const ATTR_TASK: u64 = 1 << 13;
pub(crate) const ATTR_WATERMARK: u64 = 1 << 14;
/// `precise_ip` is two bits wide, starting here.
pub(crate) const ATTR_PRECISE_IP_SHIFT: u32 = 15;
pub(crate) const ATTR_MMAP_DATA: u64 = 1 << 17;
pub(crate) const ATTR_SAMPLE_ID_ALL: u64 = 1 << 18;
pub(crate) const ATTR_EXCLUDE_HOST: u64 = 1 << 19;
pub(crate) const ATTR_EXCLUDE_GUEST: u64 = 1 << 20;
pub(crate) const ATTR_EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
pub(crate) const ATTR_EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
pub(crate) const ATTR_MMAP2: u64 = 1 << 23;
pub(crate) const ATTR_COMM_EXEC: u64 = 1 << 24;
pub(crate) const ATTR_USE_CLOCKID: u64 = 1 << 25;
pub(crate) const ATTR_CONTEXT_SWITCH: u64 = 1 << 26;

// perf_event_open(2) `flags`.
pub(crate) const PERF_FLAG_FD_NO_GROUP: u64 = 1 << 0;
pub(crate) const PERF_FLAG_FD_OUTPUT: u64 = 1 << 1;
pub(crate) const PERF_FLAG_PID_CGROUP: u64 = 1 << 2;
/// Linux 3.14+. Older kernels (RHEL7's 3.10) fail any unknown flag with
/// EINVAL, see the flag check at the top of `perf_event_open` in
/// kernel/events/core.c.
pub(crate) const PERF_FLAG_FD_CLOEXEC: u64 = 1 << 3;

/// Size of the first `perf_event_attr` (Linux 2.6.32), up to `config1`.
pub(crate) const PERF_ATTR_SIZE_VER0: u32 = 64;
/// Size with `config3` (Linux 6.3): the layout [`PerfEventAttr`] declares.
pub(crate) const PERF_ATTR_SIZE_VER8: u32 = 136;

/// `struct perf_event_attr` as of PERF_ATTR_SIZE_VER8.
///
/// Older kernels accept this larger struct as long as every byte they do not
/// know is zero (`perf_copy_attr` in kernel/events/core.c returns E2BIG
/// otherwise), so the zero `Default` is safe to send to 3.10.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PerfEventAttr {
    /// `PERF_TYPE_*`, or a dynamic PMU type from sysfs.
    pub type_: u32,
    /// `size`: set by [`perf_event_open`].
    pub size: u32,
    pub config: u64,
    /// `sample_period`, or `sample_freq` with [`ATTR_FREQ`].
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    /// The bitfield word, `ATTR_*` bits.
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` with [`ATTR_WATERMARK`].
    pub wakeup_events: u32,
    pub bp_type: u32,
    /// `bp_addr`, `kprobe_func`, `uprobe_path` or `config1`.
    pub config1: u64,
    /// `bp_len`, `kprobe_addr`, `probe_offset` or `config2`.
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved_2: u16,
    pub aux_sample_size: u32,
    /// `aux_action` bits (6.13+), `__reserved_3` before.
    pub aux_action: u32,
    pub sig_data: u64,
    pub config3: u64,
}

const _: () = assert!(mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER8 as usize);

/// Opens a perf event: `perf_event_open(attr, pid, cpu, group, flags)`.
///
/// `attr.size` is filled in here. The descriptor is close-on-exec: the call
/// asks for `PERF_FLAG_FD_CLOEXEC` and, on kernels older than 3.14 that
/// reject it with EINVAL, retries without it and sets `FD_CLOEXEC` itself.
/// The caller owns the returned descriptor; dropping it closes the event.
///
/// Fails with the kernel's errno: EACCES/EPERM when `perf_event_paranoid`,
/// missing CAP_PERFMON, an LSM or seccomp refuse, ENOENT/EOPNOTSUPP when no
/// PMU handles the event, ENOSYS without CONFIG_PERF_EVENTS.
pub(crate) fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group: Option<BorrowedFd<'_>>,
    flags: u64,
) -> io::Result<OwnedFd> {
    let mut attr = *attr;
    attr.size = PERF_ATTR_SIZE_VER8;
    let group_fd = group.map_or(-1, |fd| fd.as_raw_fd());
    match sys_perf_event_open(&mut attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC) {
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            let fd = sys_perf_event_open(&mut attr, pid, cpu, group_fd, flags)?;
            set_cloexec(&fd)?;
            Ok(fd)
        }
        result => result,
    }
}

/// The one raw perf_event_open(2).
fn sys_perf_event_open(
    attr: &mut PerfEventAttr,
    pid: i32,
    cpu: i32,
    group_fd: RawFd,
    flags: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: `attr` points to an initialised `PerfEventAttr` of
    // `attr.size` bytes that stays alive and exclusively borrowed for the
    // whole call; the kernel reads it and may write back `size` (on E2BIG),
    // both within the struct. The remaining arguments are plain integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *mut PerfEventAttr,
            pid as libc::c_int,
            cpu as libc::c_int,
            group_fd as libc::c_int,
            flags as libc::c_ulong,
        )
    };
    fd_from_syscall(ret)
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: F_SETFD on a descriptor we own; no pointers are passed.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Turns a syscall's return value into a new owned descriptor or the errno.
fn fd_from_syscall(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(ret).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: on success perf_event_open(2) and bpf(2) return a descriptor
    // that was just installed in our table and that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// perf event ioctls, include/uapi/linux/perf_event.h: _IO('$', 0..3).
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_EVENT_IOC_RESET: libc::c_ulong = 0x2403;
/// `PERF_IOC_FLAG_GROUP`: apply the ioctl to the whole group.
const PERF_IOC_FLAG_GROUP: libc::c_ulong = 1;

/// What an ioctl on a counter does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CounterIoctl {
    /// Start counting (the group, when `group`).
    Enable,
    /// Stop counting.
    Disable,
    /// Zero the count.
    Reset,
}

/// Enables, disables or resets a perf event (its whole group when `group`
/// is set and `fd` is the leader). Fails with the kernel's errno.
pub(crate) fn perf_event_ioctl(fd: BorrowedFd<'_>, op: CounterIoctl, group: bool) -> io::Result<()> {
    let request = match op {
        CounterIoctl::Enable => PERF_EVENT_IOC_ENABLE,
        CounterIoctl::Disable => PERF_EVENT_IOC_DISABLE,
        CounterIoctl::Reset => PERF_EVENT_IOC_RESET,
    };
    let arg = if group { PERF_IOC_FLAG_GROUP } else { 0 };
    // SAFETY: a perf event ioctl on a descriptor the caller borrows for the
    // call; the argument is an integer flag, no memory is passed.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a counter opened with `read_format =
/// PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING` (and
/// no group format): `[value, time_enabled, time_running]`.
pub(crate) fn read_counter(fd: BorrowedFd<'_>) -> io::Result<[u64; 3]> {
    let mut buf = [0u64; 3];
    // SAFETY: `buf` is 24 writable bytes that outlive the call and we pass
    // exactly that length; the kernel writes at most that much.
    let ret = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), mem::size_of_val(&buf)) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if ret as usize != mem::size_of_val(&buf) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("perf counter read returned {ret} bytes, expected 24"),
        ));
    }
    Ok(buf)
}

// ---------------------------------------------------------------------------
// Sampling: output redirection, event ids and the mmap'd ring

// _IO('$', 5) and _IOR('$', 7, __u64 *), include/uapi/linux/perf_event.h.
const PERF_EVENT_IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const PERF_EVENT_IOC_ID: libc::c_ulong =
    (2 << 30) | ((mem::size_of::<*mut u64>() as libc::c_ulong) << 16) | 0x2400 | 7;

/// Sends `fd`'s records into `target`'s ring (`PERF_EVENT_IOC_SET_OUTPUT`);
/// both must be on the same CPU (or the same task with cpu -1). Fails with
/// EINVAL when they are not, the kernel's errno otherwise.
pub(crate) fn perf_event_set_output(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a perf ioctl on a borrowed descriptor whose argument is
    // another descriptor number, an integer; no memory is passed.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_OUTPUT as _, target.as_raw_fd()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kernel's id of an event (`PERF_EVENT_IOC_ID`, Linux 3.12+), the
/// value PERF_SAMPLE_IDENTIFIER carries in its records.
pub(crate) fn perf_event_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut id = 0u64;
    // SAFETY: the kernel writes one u64 through the pointer, which points
    // to `id`, alive and exclusively borrowed for the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ID as _, &mut id as *mut u64) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(id)
}

/// The page size the ring is counted in.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf takes and returns integers.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n <= 0 {
        4096
    } else {
        n as usize
    }
}

/// Byte offsets of `data_head` and `data_tail` in `struct
/// perf_event_mmap_page` (whose first 1024 bytes are the counter-reading
/// fields and reserved space; the struct is 1088 bytes).
const DATA_HEAD_OFFSET: usize = 1024;
const DATA_TAIL_OFFSET: usize = 1032;

/// A perf event's ring buffer mapped read-write: one metadata page, then
/// `2^n` data pages. Writable means the kernel honours `data_tail` and
/// never overwrites what was not consumed (it counts LOST records instead).
/// Unmapped on drop.
pub(crate) struct RingMap {
    base: std::ptr::NonNull<u8>,
    len: usize,
    page: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value; the
// kernel is the only other party and all shared-field accesses are atomic.
unsafe impl Send for RingMap {}

impl RingMap {
    /// Maps the ring of `fd` with `data_pages` data pages (a power of two,
    /// checked by the kernel: EINVAL otherwise). Fails with the errno:
    /// EPERM/ENOMEM over `perf_event_mlock_kb` without CAP_IPC_LOCK, EINVAL
    /// for a bad size or an inherited event opened with cpu -1.
    pub(crate) fn map(fd: BorrowedFd<'_>, data_pages: usize) -> io::Result<RingMap> {
        let page = page_size();
        let len = data_pages
            .checked_add(1)
            .and_then(|n| n.checked_mul(page))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh shared mapping of a perf descriptor; no existing
        // memory is affected (address hint null, no MAP_FIXED).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(RingMap { base, len, page })
    }

    fn field(&self, offset: usize) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: `offset` is DATA_HEAD_OFFSET or DATA_TAIL_OFFSET, inside
        // the first page of a live mapping and 8-byte aligned (the mapping
        // is page aligned); the kernel accesses these words as u64 too, so
        // viewing them as atomics is sound for the mapping's lifetime,
        // which bounds the returned borrow.
        unsafe { &*(self.base.as_ptr().add(offset) as *const std::sync::atomic::AtomicU64) }
    }

    /// Bytes of data area (a power of two).
    pub(crate) fn data_size(&self) -> usize {
        self.len - self.page
    }

    /// `data_head`, loaded with Acquire: the kernel publishes records before
    /// moving the head (its smp_wmb in `perf_output_put_handle`), and the
    /// Acquire is the reader's matching smp_rmb, so every byte below the
    /// returned head is complete when read afterwards.
    pub(crate) fn data_head(&self) -> u64 {
        self.field(DATA_HEAD_OFFSET)
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The current `data_tail` (only this process writes it).
    pub(crate) fn data_tail(&self) -> u64 {
        self.field(DATA_TAIL_OFFSET)
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stores `data_tail` with Release, so every read of the consumed
    /// bytes happens before the kernel may see the space as free (the
    /// smp_mb the uapi header asks for before writing the tail).
    pub(crate) fn set_data_tail(&self, tail: u64) {
        self.field(DATA_TAIL_OFFSET)
            .store(tail, std::sync::atomic::Ordering::Release)
    }

    /// Appends `len` bytes of the data area starting at the free-running
    /// position `from` to `out`, in two pieces where they wrap past the
    /// end. `len` is clamped to the data size.
    pub(crate) fn copy_data(&self, from: u64, len: usize, out: &mut Vec<u8>) {
        let size = self.data_size();
        let len = len.min(size);
        let start = (from % size as u64) as usize;
        let first = len.min(size - start);
        out.reserve(len);
        // SAFETY: both source ranges lie inside the data area of a live
        // mapping (start + first <= size, len - first <= size). The caller
        // only copies bytes between data_tail and a data_head loaded with
        // Acquire, which the kernel does not write until the tail moves
        // past them, so no write races with these reads. `out` has room
        // for `len` more bytes after the reserve and does not overlap the
        // mapping.
        unsafe {
            let data = self.base.as_ptr().add(self.page);
            let dst = out.as_mut_ptr().add(out.len());
            std::ptr::copy_nonoverlapping(data.add(start), dst, first);
            std::ptr::copy_nonoverlapping(data, dst.add(first), len - first);
            out.set_len(out.len() + len);
        }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `map`; no borrow of
        // it outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

// ---------------------------------------------------------------------------
// Holding a forked command before exec

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the two-int array we pass.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Makes `cmd`'s child, after fork and before exec, run `hook`, write its
/// pid (4 bytes, native endian) to `report` and wait for one byte on
/// `gate`: one byte means exec, end of file means fail the spawn. The
/// caller keeps the other pipe ends. This is how counters are opened on the
/// child with enable_on_exec before the command's first instruction (perf's
/// `evlist__prepare_workload` does the same with a fork and a pipe).
///
/// `parent_end` is the parent's write end of the gate, closed in the child
/// first so that the child sees end of file when the parent drops it.
pub(crate) fn hold_before_exec(
    cmd: &mut std::process::Command,
    report: OwnedFd,
    gate: OwnedFd,
    parent_end: RawFd,
    hook: fn() -> io::Result<()>,
) {
    use std::os::unix::process::CommandExt;
    // The closure owns both descriptors: they exist in the child, and the
    // parent's copies close when the Command is dropped.
    let closure = move || -> io::Result<()> {
        let (report_fd, gate_fd) = (report.as_raw_fd(), gate.as_raw_fd());
        // SAFETY: closes the child's copy of the parent's gate end, a
        // descriptor number no code in the child uses; close(2) is
        // async-signal-safe.
        unsafe { libc::close(parent_end) };
        hook()?;
        let pid = std::process::id() as u32;
        let bytes = pid.to_ne_bytes();
        // SAFETY: write(2) and read(2) are async-signal-safe; the buffers
        // are on this (child) stack and outlive the calls; the descriptors
        // are owned by this closure, which the Command keeps alive.
        let w = unsafe { libc::write(report_fd, bytes.as_ptr().cast(), bytes.len()) };
        if w != bytes.len() as isize {
            return Err(io::Error::last_os_error());
        }
        let mut go = [0u8; 1];
        loop {
            // SAFETY: as above.
            let r = unsafe { libc::read(gate_fd, go.as_mut_ptr().cast(), 1) };
            if r == 1 {
                return Ok(());
            }
            if r == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "ftr did not start the command",
                ));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    };
    // SAFETY: the closure runs in the forked child before exec. It calls
    // only async-signal-safe functions (the hook, documented as such by its
    // caller, close, getpid via process::id, write, read) and allocates
    // nothing.
    unsafe {
        cmd.pre_exec(closure);
    }
}

// ---------------------------------------------------------------------------
// bpf(2)

pub(crate) const BPF_PROG_LOAD: libc::c_int = 5;
pub(crate) const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

// Opcode parts, include/uapi/linux/bpf_common.h and bpf.h.
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_K: u8 = 0x00;
const BPF_MOV: u8 = 0xb0;
const BPF_EXIT: u8 = 0x90;

/// `struct bpf_insn`: opcode, `dst_reg:4`/`src_reg:4`, offset, immediate.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct BpfInsn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const _: () = assert!(mem::size_of::<BpfInsn>() == 8);

/// The `BPF_PROG_LOAD` member of `union bpf_attr` up to `prog_flags`
/// (Linux 4.12). The kernel zero-fills what a shorter attr leaves out
/// (`bpf_check_uarg_tail_zero` and `copy_from_bpfptr` in kernel/bpf/syscall.c),
/// and 3.19 to 4.11 accept the longer one because the extra fields are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct BpfProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

const _: () = assert!(mem::size_of::<BpfProgLoadAttr>() == 48);

/// Loads the smallest valid program, a socket filter `r0 = 0; exit`, and
/// returns its descriptor (close-on-exec, owned by the caller; dropping it
/// unloads the program). Nothing is attached anywhere.
///
/// Fails with the kernel's errno: EPERM without CAP_BPF/CAP_SYS_ADMIN when
/// `kernel.unprivileged_bpf_disabled` is set (or, before 5.11, when
/// RLIMIT_MEMLOCK is too small), ENOSYS without CONFIG_BPF_SYSCALL, EINVAL
/// on kernels before 3.19 that know no socket-filter programs.
pub(crate) fn bpf_prog_load_trivial() -> io::Result<OwnedFd> {
    let insns = [
        // r0 = 0
        BpfInsn {
            code: BPF_ALU64 | BPF_MOV | BPF_K,
            regs: 0,
            off: 0,
            imm: 0,
        },
        // exit
        BpfInsn {
            code: BPF_JMP | BPF_EXIT,
            regs: 0,
            off: 0,
            imm: 0,
        },
    ];
    let license = b"GPL\0";
    let mut attr = BpfProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..BpfProgLoadAttr::default()
    };
    // SAFETY: `attr` is an initialised BPF_PROG_LOAD attr of the size we
    // pass; its `insns` and `license` point to `insns` (insn_cnt entries)
    // and a NUL-terminated string, all of which outlive the call. No log
    // buffer is given (log_level 0), so the kernel writes nothing to us.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &mut attr as *mut BpfProgLoadAttr,
            mem::size_of::<BpfProgLoadAttr>() as libc::c_uint,
        )
    };
    fd_from_syscall(ret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::addr_of;

    fn offset<T>(base: &PerfEventAttr, field: *const T) -> usize {
        field as usize - base as *const PerfEventAttr as usize
    }

    #[test]
    fn perf_event_attr_layout_matches_the_uapi_header() {
        let a = PerfEventAttr::default();
        assert_eq!(mem::size_of::<PerfEventAttr>(), 136);
        assert_eq!(offset(&a, addr_of!(a.config)), 8);
        assert_eq!(offset(&a, addr_of!(a.flags)), 40);
        assert_eq!(offset(&a, addr_of!(a.config1)), 56);
        // PERF_ATTR_SIZE_VER0 ends after config1.
        assert_eq!(offset(&a, addr_of!(a.config2)), PERF_ATTR_SIZE_VER0 as usize);
        assert_eq!(offset(&a, addr_of!(a.branch_sample_type)), 72);
        assert_eq!(offset(&a, addr_of!(a.sample_regs_intr)), 96);
        assert_eq!(offset(&a, addr_of!(a.aux_watermark)), 104);
        assert_eq!(offset(&a, addr_of!(a.sig_data)), 120);
        assert_eq!(offset(&a, addr_of!(a.config3)), 128);
    }

    #[test]
    fn software_counter_opens_and_closes() {
        // A user-only task clock on ourselves is allowed up to
        // perf_event_paranoid=2; skip quietly where even that is refused.
        let attr = PerfEventAttr {
            type_: PERF_TYPE_SOFTWARE,
            config: PERF_COUNT_SW_TASK_CLOCK,
            flags: ATTR_DISABLED | ATTR_EXCLUDE_KERNEL | ATTR_EXCLUDE_HV,
            ..PerfEventAttr::default()
        };
        match perf_event_open(&attr, 0, -1, None, 0) {
            Ok(fd) => {
                // SAFETY: F_GETFD on a descriptor we own.
                let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
                assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
            }
            Err(err) => eprintln!("perf_event_open refused here: {err}"),
        }
    }

    #[test]
    fn bad_attr_fails_with_an_errno_not_a_panic() {
        let attr = PerfEventAttr {
            type_: u32::MAX,
            ..PerfEventAttr::default()
        };
        let err = perf_event_open(&attr, 0, -1, None, 0).unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
    }
}
