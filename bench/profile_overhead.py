#!/usr/bin/env python3
"""Overhead of `ftr profile` vs `perf record -g` at 99 Hz and 999 Hz, on a
CPU-bound workload, as ratios of CPU time.

The workload is fixtures/progs/sample_hot.c `work ROUNDS` (a fixed number of
calls through middle() -> hot()), built with -fno-omit-frame-pointer; it
prints its own wall and CPU time from its first to its last instruction of
work. For each configuration the script measures, over RUNS interleaved
runs (medians):

  workload CPU / untraced   how much the sampling slows the program itself
                            (sampling interrupts, callchain and stack copies);
  profiler CPU              CPU time of the profiler process alone, from
                            start to its output: the tool's children's
                            rusage minus the workload's own CPU time. ftr's
                            includes symbolizing and printing the stacks;
                            for perf the same result needs `perf report`
                            too, measured as its own line.

Configurations: `ftr profile -f --call-graph fp` and `perf record -g`
(frame-pointer callchains, the like-for-like pair), `ftr profile -f`
(the default: frame pointers, plus an 8 KiB stack copy per sample for the
DWARF fallback) and `ftr profile -f --call-graph dwarf` against
`perf record --call-graph dwarf` (8 KiB copies, unwound by perf report).

usage: sudo bench/profile_overhead.py [RUNS] [ROUNDS]
"""
import os, resource, statistics, subprocess, sys, tempfile

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROUNDS = sys.argv[2] if len(sys.argv) > 2 else "20000"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
FTR = os.path.join(TARGET, "release/ftr")
TMP = tempfile.mkdtemp(prefix="ftr-profile-bench-")
PROG = os.path.join(TMP, "sample_hot")
PERF_DATA = os.path.join(TMP, "perf.data")

subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "ftr"], cwd=ROOT, check=True)
subprocess.run(["cc", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", PROG,
                os.path.join(ROOT, "fixtures/progs/sample_hot.c")], check=True)
WORK = [PROG, "work", ROUNDS]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd, workload_line_first=True):
    """Runs cmd; returns (workload CPU s, profiler CPU s, stdout)."""
    before = children_cpu()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    total = children_cpu() - before
    first, _, rest = p.stdout.partition("\n")
    _, cpu_ns, _ = first.split()
    work = int(cpu_ns) / 1e9
    return work, total - work, rest


def perf_report_cpu():
    before = children_cpu()
    subprocess.run(["perf", "report", "-i", PERF_DATA, "--stdio", "-g", "folded"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return children_cpu() - before


def configs():
    out = [("untraced", lambda: run(WORK) + (None,))]
    for hz in (99, 999):
        f = ["-F", str(hz)]
        out += [
            (f"ftr profile -F {hz} --call-graph fp",
             lambda f=f: run([FTR, "profile", "-f", "--call-graph", "fp"] + f + ["--"] + WORK) + (None,)),
            (f"perf record -F {hz} -g",
             lambda f=f: run(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-o", PERF_DATA] + f + ["--"] + WORK)
             + (perf_report_cpu(),)),
            (f"ftr profile -F {hz} (default)",
             lambda f=f: run([FTR, "profile", "-f"] + f + ["--"] + WORK) + (None,)),
            (f"ftr profile -F {hz} --call-graph dwarf",
             lambda f=f: run([FTR, "profile", "-f", "--call-graph", "dwarf"] + f + ["--"] + WORK) + (None,)),
            (f"perf record -F {hz} --call-graph dwarf",
             lambda f=f: run(["perf", "record", "-q", "-e", "cpu-clock", "--call-graph", "dwarf", "-o", PERF_DATA]
                             + f + ["--"] + WORK) + (perf_report_cpu(),)),
        ]
    return out


CONFIGS = configs()
results = {name: [] for name, _ in CONFIGS}
for i in range(RUNS):
    for name, fn in CONFIGS:
        results[name].append(fn())

base = statistics.median(r[0] for r in results["untraced"])
print(f"workload: sample_hot work {ROUNDS}, {RUNS} runs each, untraced median {base:.3f} s CPU")
print(f"{'configuration':<40}{'workload CPU':>13}{'profiler CPU':>13}{'+ perf report':>14}")
print(f"{'':<40}{'/ untraced':>13}{'/ workload':>13}{'/ workload':>14}")
for name, _ in CONFIGS[1:]:
    rs = results[name]
    work = statistics.median(r[0] for r in rs)
    prof = statistics.median(r[1] for r in rs)
    rep = [r[3] for r in rs if r[3] is not None]
    report = f"{(prof + statistics.median(rep)) / work:>14.4f}" if rep else f"{'':>14}"
    print(f"{name:<40}{work / base:>13.4f}{prof / work:>13.4f}{report}")
for hz in (99, 999):
    def med(n, i):
        return statistics.median(r[i] for r in results[n])
    f, p = f"ftr profile -F {hz} --call-graph fp", f"perf record -F {hz} -g"
    print(f"{hz} Hz fp: workload CPU ftr/perf = {med(f, 0) / med(p, 0):.4f}; "
          f"profiler CPU ftr / (perf record + perf report) = "
          f"{med(f, 1) / (med(p, 1) + statistics.median(r[3] for r in results[p])):.3f}")
