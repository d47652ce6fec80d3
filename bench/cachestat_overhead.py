#!/usr/bin/env python3
"""Overhead of `ftr cachestat` on a hot cached-read benchmark, per method.

The benchmark reads a cached file in 4 KiB reads (`dd bs=4k`), which is the
worst case for page cache tracing: one traced access per 4 KiB copied.
It runs with nothing traced, then under `ftr cachestat --method M` for each
method that starts on this kernel (and under a peer, e.g. libbpf-tools
cachestat, when given and it starts), interleaved, and prints each median
and its ratio to no tracing. Methods that cannot run here are listed with
ftr's one-line reason.

    cargo build --release
    python3 bench/cachestat_overhead.py [--ftr target/release/ftr] [--mb 64] [--runs 7] [--peer /usr/sbin/cachestat]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def start(cmd, ready):
    """Starts a tracer; returns (process, None) once its stderr shows
    `ready`, or (None, reason) if it exits first."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stderr:
        lines.append(line.strip())
        if ready(line):
            return p, None
    p.wait()
    return None, " ".join(lines[-1:]) or f"exit {p.returncode}"


def stop(p):
    p.send_signal(signal.SIGINT)
    p.stderr.read()
    p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ftr", default="target/release/ftr")
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--peer", help="a peer cachestat binary to measure too")
    a = ap.parse_args()
    fd, path = tempfile.mkstemp(prefix="cachestat-bench-", dir=a.dir)
    os.close(fd)
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={a.mb}", "status=none"], check=True)
        read = ["dd", f"if={path}", "of=/dev/null", "bs=4k", "status=none"]
        for _ in range(2):
            wall(read)
        tracers = {}
        for m in ["kprobe", "function", "tracepoint"]:
            tracers[m] = ([a.ftr, "cachestat", "--method", m, "3600"], lambda l: l.startswith("Tracing"))
        if a.peer:
            tracers["peer " + os.path.basename(a.peer)] = ([a.peer, "3600"], lambda l: "Tracing" in l or "HITS" in l)
        times = {"none": []}
        unavailable = {}
        for _ in range(a.runs):
            times["none"].append(wall(read))
            for name, (cmd, ready) in tracers.items():
                if name in unavailable:
                    continue
                p, why = start(cmd, ready)
                if p is None:
                    unavailable[name] = why
                    continue
                wall(read)  # warm-up under tracing
                times.setdefault(name, []).append(wall(read))
                stop(p)
        base = statistics.median(times["none"])
        pages = a.mb * 256
        print(f"4 KiB reads of a cached {a.mb} MiB file ({pages} reads), median of {a.runs}")
        print(f"{'method':28} {'median ms':>10} {'ns/read':>8} {'ratio':>6}")
        for name, t in times.items():
            med = statistics.median(t)
            print(f"{name:28} {med * 1e3:10.1f} {med * 1e9 / pages:8.0f} {med / base:6.2f}")
        for name, why in unavailable.items():
            print(f"{name:28} unavailable: {why}")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
