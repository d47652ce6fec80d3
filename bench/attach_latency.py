#!/usr/bin/env python3
"""Attach latency of `ftr tp`: time from spawning ftr to the first event the
kernel records for it, median over N runs.

The event is sched:sched_switch (there is always one within microseconds on
a live system). ftr records with the default `local` trace clock; the offset
between it and this script's CLOCK_MONOTONIC is measured first with a
trace_marker write in a scratch instance. (`-C mono` would avoid that, but
switching the clock resets the buffer and costs ~28 ms on this kernel, which
would be measured as attach time.)

usage: sudo bench/attach_latency.py [FTR_BINARY] [RUNS]
"""
import json, os, re, statistics, subprocess, sys, time

TRACING = "/sys/kernel/tracing"


def local_minus_mono_ns():
    inst = f"{TRACING}/instances/attach-bench-{os.getpid()}"
    os.mkdir(inst)
    try:
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        with open(f"{inst}/trace_marker", "w") as f:
            f.write("calibrate")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        with open(f"{inst}/trace") as f:
            m = re.search(r"(\d+)\.(\d{6}): tracing_mark_write: calibrate", f.read())
        local = int(m.group(1)) * 1_000_000_000 + int(m.group(2)) * 1000
        return local - (before + after) // 2
    finally:
        os.rmdir(inst)


ftr = sys.argv[1] if len(sys.argv) > 1 else "target/release/ftr"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
offset = local_minus_mono_ns()
lat_ms = []
for _ in range(runs):
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    p = subprocess.Popen([ftr, "tp", "sched:sched_switch", "--json", "-d", "0.3"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = min(json.loads(l)["ts"] for l in p.stdout if l.strip())
    p.wait()
    lat_ms.append((first - offset - t0) / 1e6)
lat_ms.sort()
print(f"ftr tp attach latency over {runs} runs: median {statistics.median(lat_ms):.2f} ms, "
      f"min {lat_ms[0]:.2f} ms, max {lat_ms[-1]:.2f} ms")
