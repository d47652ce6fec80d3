#!/usr/bin/env python3
"""Decode throughput of peer tools on sched:sched_switch, in events per second
of CPU time (user+sys of the decoding process, pinned to one core, output to
/dev/null, best of RUNS). Both peers format text, so this includes formatting.

Records (system-wide, under bench/peers/load.sh):
  trace-cmd  --file-version 6            -> /tmp/peers-tc6.dat
  trace-cmd  default (v7, zstd)           -> /tmp/peers-tc7.dat
  trace-cmd  --file-version 7 --compression none -> /tmp/peers-tc7n.dat
  perf record -e sched:sched_switch -a    -> /tmp/peers-perf.data
then times `trace-cmd report -i F` and `perf script -i F`.

usage: sudo bench/peers/decode_throughput.py [--reuse] [LOAD_N] [RUNS]
  --reuse: skip recording if the files exist.
Needs trace-cmd, linux-perf; trace-cmd records via /work/shared/trace-cmd-shim.sh
(this kernel refuses the function-tracer files).
"""
import os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD = os.path.join(HERE, "load.sh")
SHIM = os.environ.get("TRACE_CMD_SHIM", "/work/shared/trace-cmd-shim.sh")
T = "/sys/kernel/tracing"

args = [a for a in sys.argv[1:] if a != "--reuse"]
reuse = "--reuse" in sys.argv
load_n = args[0] if len(args) > 0 else "20000"
runs = int(args[1]) if len(args) > 1 else 3
CPU = str(os.cpu_count() - 1)  # decoder pinned to the last CPU


with open(f"{T}/buffer_size_kb") as f:
    BUF_KB = f.read().split()[0]  # e.g. "1408" ("7 (expanded: 1408)" before first use)


def cleanup():
    # trace-cmd leaves -b's size on the top-level buffer; restore the rest too.
    for name, val in (("set_event", ""), ("tracing_on", "1"), ("buffer_size_kb", BUF_KB)):
        with open(f"{T}/{name}", "w") as f:
            f.write(val)


def record(cmd, out):
    if reuse and os.path.exists(out):
        return
    print(f"# recording {out}: {' '.join(cmd)}", file=sys.stderr)
    try:
        subprocess.run(cmd, cwd="/tmp", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300, check=True)
    finally:
        cleanup()


def cpu_time(cmd):
    """best-of-runs user+sys seconds of cmd (stdout to /dev/null)."""
    best = None
    for _ in range(runs):
        p = subprocess.Popen(["taskset", "-c", CPU] + cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, cmd
        t = ru.ru_utime + ru.ru_stime
        best = t if best is None else min(best, t)
    return best


def count(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         timeout=300, check=True).stdout
    return sum(1 for l in out.splitlines() if b"sched_switch" in l)


tc = lambda *a: [SHIM, "record", "-e", "sched:sched_switch", "-b", "20000", *a]
cases = [
    ("trace-cmd report", "v6", "/tmp/peers-tc6.dat",
     tc("--file-version", "6", "-o", "/tmp/peers-tc6.dat", LOAD, load_n)),
    ("trace-cmd report", "v7 zstd (default)", "/tmp/peers-tc7.dat",
     tc("-o", "/tmp/peers-tc7.dat", LOAD, load_n)),
    ("trace-cmd report", "v7 uncompressed", "/tmp/peers-tc7n.dat",
     tc("--file-version", "7", "--compression", "none", "-o", "/tmp/peers-tc7n.dat",
        LOAD, load_n)),
    ("perf script", "perf.data", "/tmp/peers-perf.data",
     ["perf", "record", "-q", "-e", "sched:sched_switch", "-a", "-m", "4096",
      "-o", "/tmp/peers-perf.data", "--", LOAD, load_n]),
]

print(f"{'tool':18} {'file':20} {'events':>8} {'cpu_s':>7} {'events/s':>10}")
for tool, kind, path, rec in cases:
    record(rec, path)
    if tool.startswith("trace-cmd"):
        dec = ["trace-cmd", "report", "-i", path]
    else:
        dec = ["perf", "script", "-i", path]
    n = count(dec)
    t = cpu_time(dec)
    print(f"{tool:18} {kind:20} {n:8d} {t:7.3f} {n / t:10.0f}", flush=True)
