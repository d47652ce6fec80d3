#!/usr/bin/env python3
"""Attach time of `ftr biolatency` vs libbpf-tools `biolatency`, and one
side-by-side count comparison on the same workload.

Attach time, per run: t0 = CLOCK_MONOTONIC just before spawn; t1 = when the
tool's "Tracing block device I/O..." line arrives (both tools print it once
their events are enabled/attached; both run on a pty so the line is not
buffered). Then, to prove events were flowing at t1, the script does K
O_DIRECT 4 KiB reads of its own file on the same disk, stops the tool with
SIGINT and requires its histogram to count at least K I/Os; a run where it
does not is reported as a failure, not timed. Median over RUNS runs each,
tools interleaved, with GAP seconds of rest before each run (a tool that
starts while the previous one is still being torn down in the kernel, BPF
programs freed after an RCU grace period, instance buffers freed, waits
for it: about 15 ms here).

Side by side: both tools traced at once (-d DISK), then W O_DIRECT writes
and W reads (4 KiB, one at a time) plus a buffered dd + sync; both stopped
with SIGINT; their total counts are printed with the /proc/diskstats
read+write delta of the whole window.

usage: sudo bench/attach_block.py [FTR_BINARY] [RUNS] [GAP]
"""
import mmap, os, pty, re, select, signal, statistics, subprocess, sys, time

FTR = sys.argv[1] if len(sys.argv) > 1 else "target/release/ftr"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
GAP = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
PEER = "/usr/sbin/biolatency"
K = 5
DIR = "/var/tmp"
mono = lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def disk_of(path):
    st = os.stat(path)
    sys_dir = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if os.path.exists(f"{sys_dir}/partition"):
        sys_dir = os.path.dirname(sys_dir)
    return os.path.basename(sys_dir)


DISK = disk_of(DIR)


def diskstats_rw():
    for line in open("/proc/diskstats"):
        w = line.split()
        if w[2] == DISK:
            return int(w[3]) + int(w[7])
    raise SystemExit(f"no {DISK} in /proc/diskstats")


def make_file(path, blocks):
    with open(path, "wb") as f:
        f.write(b"\x5a" * 4096 * blocks)
        f.flush()
        os.fsync(f.fileno())


def direct_io(path, blocks, write):
    buf = mmap.mmap(-1, 4096)  # page-aligned, as O_DIRECT needs
    buf.write(b"\xa5" * 4096)
    fd = os.open(path, (os.O_RDWR if write else os.O_RDONLY) | os.O_DIRECT)
    try:
        for i in range(blocks):
            n = os.pwritev(fd, [buf], i * 4096) if write else os.preadv(fd, [buf], i * 4096)
            assert n == 4096
    finally:
        os.close(fd)


class Tool:
    """A tool on a pty; `lines` collects its output."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        self.t0 = mono()
        self.p = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        os.close(slave)
        self.buf = b""

    def wait_for(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            r, _, _ = select.select([self.master], [], [], max(0, deadline - time.monotonic()))
            if not r:
                raise SystemExit(f"no {needle!r} within {timeout}s: {self.buf!r}")
            self.buf += os.read(self.master, 65536)
        return mono()

    def stop(self):
        # libbpf-tools installs its SIGINT handler before printing "Tracing"
        # but checks the flag only after sleep(interval) returns, so a
        # SIGINT landing between the two is only acted on at the next one:
        # repeat it while the tool is still running.
        os.killpg(self.p.pid, signal.SIGINT)
        while True:
            try:
                r, _, _ = select.select([self.master], [], [], 1)
                if not r:
                    if self.p.poll() is None:
                        os.killpg(self.p.pid, signal.SIGINT)
                        continue
                    break
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the pty's other end closed
                chunk = b""
            if not chunk:
                break
            self.buf += chunk
        self.p.wait(timeout=10)
        os.close(self.master)
        return self.buf.decode(errors="replace").replace("\r\n", "\n")


def hist_total(text):
    return sum(int(m) for m in re.findall(r"-> \d+\s+: (\d+)", text))


def attach_once(argv, path):
    t = Tool(argv)
    t1 = t.wait_for(b"Tracing block device I/O")
    direct_io(path, K, write=False)
    time.sleep(0.05)
    out = t.stop()
    n = hist_total(out)
    return (t1 - t.t0) / 1e6, n >= K, n


def main():
    path = f"{DIR}/attach-block-{os.getpid()}.dat"
    make_file(path, 256)
    try:
        ftr_argv = [FTR, "biolatency", "-d", DISK]
        peer_argv = [PEER, "-d", DISK]
        times = {"ftr": [], "libbpf-tools": []}
        failed = {"ftr": 0, "libbpf-tools": 0}
        for _ in range(RUNS):
            for name, argv in (("ftr", ftr_argv), ("libbpf-tools", peer_argv)):
                time.sleep(GAP)
                ms, ok, n = attach_once(argv, path)
                if ok:
                    times[name].append(ms)
                else:
                    failed[name] += 1
                    print(f"# {name}: only {n} of {K} I/Os counted", file=sys.stderr)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        for k, v in times.items():
            v.sort()
            print(f"{k:13} attach (spawn -> 'Tracing', events flowing): median {med[k]:.2f} ms, "
                  f"min {v[0]:.2f}, max {v[-1]:.2f} over {len(v)} runs ({failed[k]} failed), {GAP} s apart")
        print(f"ratio ftr / libbpf-tools: {med['ftr'] / med['libbpf-tools']:.2f}")

        # Side by side on the same workload.
        w = 512
        d0 = diskstats_rw()
        a, b = Tool(ftr_argv), Tool(peer_argv)
        a.wait_for(b"Tracing block device I/O")
        b.wait_for(b"Tracing block device I/O")
        direct_io(path, w, write=True)
        direct_io(path, w, write=False)
        subprocess.run(["dd", "if=/dev/zero", f"of={path}.dd", "bs=64k", "count=256"],
                       stderr=subprocess.DEVNULL, check=True)
        subprocess.run(["sync"], check=True)
        time.sleep(0.3)
        fa, fb = hist_total(a.stop()), hist_total(b.stop())
        d1 = diskstats_rw()
        print(f"side by side ({w} O_DIRECT 4 KiB writes + {w} reads + 16 MiB dd + sync on {DISK}): "
              f"ftr counted {fa}, libbpf-tools counted {fb}, diskstats reads+writes {d1 - d0} "
              f"(ftr also counts flushes; diskstats does not)")
    finally:
        for p in (path, f"{path}.dd"):
            if os.path.exists(p):
                os.unlink(p)


main()
