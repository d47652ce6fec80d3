#!/usr/bin/env python3
"""Attach latency of `ftr tp`: time from spawning ftr to the first event the
kernel records for it, median over N runs.

The event is sched:sched_switch (there is always one within microseconds on
a live system) and ftr records with the `mono` trace clock, so the event's
timestamp and this script's CLOCK_MONOTONIC share a time base.

usage: sudo bench/attach_latency.py [FTR_BINARY] [RUNS]
"""
import json, statistics, subprocess, sys, time

ftr = sys.argv[1] if len(sys.argv) > 1 else "target/release/ftr"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
lat_ms = []
for _ in range(runs):
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    p = subprocess.Popen([ftr, "tp", "sched:sched_switch", "-C", "mono", "--json", "-d", "0.3"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = min(json.loads(l)["ts"] for l in p.stdout if l.strip())
    p.wait()
    lat_ms.append((first - t0) / 1e6)
lat_ms.sort()
print(f"ftr tp attach latency over {runs} runs: median {statistics.median(lat_ms):.2f} ms, "
      f"min {lat_ms[0]:.2f} ms, max {lat_ms[-1]:.2f} ms")
