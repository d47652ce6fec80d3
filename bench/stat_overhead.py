#!/usr/bin/env python3
"""Wall-time overhead of `ftr stat -- true` vs `perf stat -- true`.

Runs each 30 times (after 3 warm-ups), interleaved, and prints the medians
and their ratio ftr/perf (goal: <= 1). Usage:

    cargo build --release && python3 bench/stat_overhead.py [target/release/ftr]
"""
import statistics
import subprocess
import sys
import time

RUNS = 30


def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main():
    ftr = sys.argv[1] if len(sys.argv) > 1 else "target/release/ftr"
    cmds = {"ftr": [ftr, "stat", "--", "true"], "perf": ["perf", "stat", "--", "true"]}
    for c in cmds.values():
        for _ in range(3):
            wall(c)
    times = {k: [] for k in cmds}
    for _ in range(RUNS):
        for k, c in cmds.items():
            times[k].append(wall(c))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in cmds:
        print(f"{k:5} median {med[k] * 1e3:8.2f} ms over {RUNS} runs")
    print(f"ratio ftr/perf {med['ftr'] / med['perf']:.2f}")


if __name__ == "__main__":
    main()
