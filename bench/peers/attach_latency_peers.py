#!/usr/bin/env python3
"""Attach latency of peer tools, to compare with bench/attach_latency.py (ftr).

Each figure is a median over RUNS runs, t0 = CLOCK_MONOTONIC just before spawn:
  tpoint     perf-tools `tpoint-perf sched:sched_switch` (ftrace text via
             trace_pipe, `local` clock): first event ts - (local-mono offset) - t0.
             The offset is calibrated with a trace_marker write, as for ftr.
  perf       `perf record -e sched:sched_switch -a -k CLOCK_MONOTONIC -- sleep 0.3`:
             earliest sample time - t0 (same clock, no offset needed).
  trace-cmd  `trace-cmd-shim.sh record -e sched:sched_switch -- sleep 0.3`:
             earliest event ts - offset - t0 (includes the shim's unshare+mounts).
  runqlat    libbpf-tools `runqlat` on a pty: time until its "Tracing ..." line
             (printed after BPF attach; a different measure: no event timestamp).
  biolatency same as runqlat.

usage: sudo bench/peers/attach_latency_peers.py [RUNS] [TOOL...]
The script re-runs itself in a private mount namespace in which
/sys/kernel/debug/tracing is a bind of /sys/kernel/tracing (tpoint hard-codes
the debugfs path; this leaves the host's mounts alone).
"""
import os, pty, re, select, signal, statistics, subprocess, sys, time

T = "/sys/kernel/tracing"
SHIM = os.environ.get("TRACE_CMD_SHIM", "/work/shared/trace-cmd-shim.sh")
TPOINT = "/usr/sbin/tpoint-perf"
FLOCK = "/var/tmp/.ftrace-lock"  # tpoint's lock file

if os.environ.get("PEERS_NS") != "1":
    os.environ["PEERS_NS"] = "1"
    setup = (f"mount -t tmpfs none /sys/kernel/debug && mkdir /sys/kernel/debug/tracing"
             f" && mount --bind {T} /sys/kernel/debug/tracing && exec \"$@\"")
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private", "sh", "-c", setup,
                          "sh", sys.executable, os.path.abspath(__file__), *sys.argv[1:]])

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
tools = sys.argv[2:] or ["tpoint", "perf", "trace-cmd", "runqlat", "biolatency"]
mono = lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def local_minus_mono_ns():
    inst = f"{T}/instances/peers-attach-{os.getpid()}"
    os.mkdir(inst)
    try:
        before = mono()
        with open(f"{inst}/trace_marker", "w") as f:
            f.write("calibrate")
        after = mono()
        with open(f"{inst}/trace") as f:
            m = re.search(r"(\d+)\.(\d{6}): tracing_mark_write: calibrate", f.read())
        return int(m.group(1)) * 10**9 + int(m.group(2)) * 1000 - (before + after) // 2
    finally:
        os.rmdir(inst)


def ts_ns(sec, frac):
    return int(sec) * 10**9 + int(frac.ljust(9, "0")[:9])


def top_level_clean():
    with open(f"{T}/set_event") as f:
        left = f.read().strip()
    if left:
        print(f"# warning: events left enabled: {left!r}; disabling", file=sys.stderr)
        with open(f"{T}/set_event", "w") as f:
            f.write("")


def run_tpoint(offset):
    with open(f"{T}/trace_clock") as f:
        assert "[local]" in f.read(), "top-level trace_clock must be local"
    t0 = mono()
    p = subprocess.Popen([TPOINT, "sched:sched_switch"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    first, seen, deadline = None, 0, time.monotonic() + 5
    try:
        for line in p.stdout:
            m = re.search(r"\s(\d+)\.(\d+): sched_switch:", line)
            if m:
                t = ts_ns(*m.groups())
                first = t if first is None else min(first, t)
                seen += 1
            if seen >= 20 or time.monotonic() > deadline:
                break
    finally:
        os.killpg(p.pid, signal.SIGINT)  # tpoint traps INT and disables the event
        p.communicate(timeout=10)
        if os.path.exists(FLOCK):
            os.unlink(FLOCK)
    return (first - offset - t0) / 1e6


def run_perf(offset):
    out = "/tmp/peers-attach-perf.data"
    t0 = mono()
    subprocess.run(["perf", "record", "-q", "-e", "sched:sched_switch", "-a",
                    "-k", "CLOCK_MONOTONIC", "-o", out, "--", "sleep", "0.3"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=True)
    txt = subprocess.run(["perf", "script", "-i", out, "-F", "time", "--ns"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    first = min(ts_ns(*m) for m in re.findall(r"(\d+)\.(\d+):", txt))
    return (first - t0) / 1e6


def run_trace_cmd(offset):
    out = "/tmp/peers-attach-tc.dat"
    t0 = mono()
    try:
        subprocess.run([SHIM, "record", "-e", "sched:sched_switch", "-o", out,
                        "sleep", "0.3"], cwd="/tmp", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30, check=True)
    finally:
        top_level_clean()
    txt = subprocess.run(["trace-cmd", "report", "-t", "-i", out], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    first = min(ts_ns(*m) for m in re.findall(r"\s(\d+)\.(\d+): sched_switch:", txt))
    return (first - offset - t0) / 1e6


def run_bpf_tool(path):
    def run(offset):
        master, slave = pty.openpty()  # a tty, so the tool's stdout is line-buffered
        t0 = mono()
        p = subprocess.Popen([path], stdout=slave, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        os.close(slave)
        buf, t1, deadline = b"", None, time.monotonic() + 10
        try:
            while t1 is None and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.5)
                if r:
                    buf += os.read(master, 4096)
                    if b"Tracing" in buf:
                        t1 = mono()
        finally:
            os.killpg(p.pid, signal.SIGINT)
            try:
                while select.select([master], [], [], 2)[0] and os.read(master, 4096):
                    pass
            except OSError:
                pass
            p.wait(timeout=10)
            os.close(master)
        return (t1 - t0) / 1e6
    return run


RUNNERS = {
    "tpoint": ("tpoint-perf sched:sched_switch", "first event", run_tpoint),
    "perf": ("perf record -a -k mono", "first event", run_perf),
    "trace-cmd": ("trace-cmd record (shim)", "first event", run_trace_cmd),
    "runqlat": ("libbpf-tools runqlat", "'Tracing' line", run_bpf_tool("/usr/sbin/runqlat")),
    "biolatency": ("libbpf-tools biolatency", "'Tracing' line",
                   run_bpf_tool("/usr/sbin/biolatency")),
}

offset = local_minus_mono_ns()
print(f"{'tool':28} {'measure':15} {'runs':>4} {'median_ms':>9} {'min_ms':>7} {'max_ms':>7}")
for name in tools:
    label, measure, fn = RUNNERS[name]
    lat = []
    for _ in range(runs):
        lat.append(fn(offset))
        time.sleep(0.1)
    lat.sort()
    print(f"{label:28} {measure:15} {runs:4d} {statistics.median(lat):9.2f} "
          f"{lat[0]:7.2f} {lat[-1]:7.2f}", flush=True)
top_level_clean()
