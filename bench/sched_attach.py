#!/usr/bin/env python3
"""Attach time of runqlat implementations: spawn -> "Tracing run queue
latency..." line, median over RUNS runs, each tool on a pty (so stdout is
line-buffered for the BCC and libbpf-tools tools, which print the line on
stdout; ftr prints it on stderr). Every tool prints the line only after its
probes are attached: ftr after its instance exists, the sched events are
enabled and the per-CPU readers are open; libbpf-tools after
runqlat_bpf__attach; BCC after BPF() compiled and attached the program.

usage: sudo bench/sched_attach.py [FTR_BINARY] [RUNS]
BCC needs kernel headers on this kernel: run
  eval "$(/work/shared/bcc-headers.sh)"
first (it exports BCC_KERNEL_SOURCE); BCC is skipped when that is unset.
"""
import os, pty, select, signal, statistics, subprocess, sys, time

ftr = sys.argv[1] if len(sys.argv) > 1 else "target/release/ftr"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
mono = lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def attach_ms(argv):
    master, slave = pty.openpty()
    t0 = mono()
    p = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    os.close(slave)
    buf, t1, deadline = b"", None, time.monotonic() + 30
    try:
        while t1 is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                buf += os.read(master, 4096)
                if b"Tracing run queue latency" in buf:
                    t1 = mono()
    finally:
        os.killpg(p.pid, signal.SIGINT)
        try:
            while select.select([master], [], [], 2)[0] and os.read(master, 4096):
                pass
        except OSError:
            pass
        p.wait(timeout=30)
        os.close(master)
    if t1 is None:
        raise SystemExit(f"{argv[0]} never said it was tracing: {buf[-300:]!r}")
    return (t1 - t0) / 1e6


tools = [("ftr runqlat", [ftr, "runqlat"]), ("libbpf-tools runqlat", ["/usr/sbin/runqlat"])]
if os.environ.get("BCC_KERNEL_SOURCE"):
    tools.append(("bcc runqlat-bpfcc", ["/usr/sbin/runqlat-bpfcc"]))
else:
    print("# BCC_KERNEL_SOURCE unset: skipping runqlat-bpfcc", file=sys.stderr)
med = {}
print(f"{'tool':24} {'runs':>4} {'median_ms':>9} {'min_ms':>7} {'max_ms':>7}")
for name, argv in tools:
    lat = []
    for _ in range(runs):
        lat.append(attach_ms(argv))
        time.sleep(0.2)
    lat.sort()
    med[name] = statistics.median(lat)
    print(f"{name:24} {runs:4d} {med[name]:9.2f} {lat[0]:7.2f} {lat[-1]:7.2f}", flush=True)
base = med["ftr runqlat"]
for name, m in med.items():
    if name != "ftr runqlat":
        print(f"{name} / ftr runqlat = {m / base:.1f}x")
