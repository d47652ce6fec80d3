#!/usr/bin/env python3
"""Sampling overhead of ftr-pmu's sampler vs `perf record -g`, at 99 Hz and
999 Hz cpu-clock with frame-pointer callchains, on a CPU-bound workload.

The workload (fixtures/progs/sample_hot.c, `work ROUNDS`: a fixed number of
calls through middle() -> hot(), built with -fno-omit-frame-pointer) prints
its own wall and CPU time, measured from its first to its last instruction
of work, so neither tool's start-up or shutdown (perf's build-id pass) is
counted. Each configuration runs RUNS times, interleaved with the others;
the script prints the median wall and CPU time of each as a ratio to the
untraced median, and the median sample count of each tool (perf's from
`perf report --stats`, ftr's from the sampler's own count).

The sampler side is pmu/examples/sample_cmd.rs (per-task with inherit,
enable-on-exec, MMAP2/COMM/task records, a 128-page ring per CPU, drained
on wakeup), the same setup `perf record -e cpu-clock -g -F HZ -- CMD` uses.

usage: sudo bench/sampling_overhead.py [RUNS] [ROUNDS]
"""
import os, re, statistics, subprocess, sys, tempfile

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
ROUNDS = sys.argv[2] if len(sys.argv) > 2 else "20000"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
SAMPLER = os.path.join(TARGET, "release/examples/sample_cmd")
TMP = tempfile.mkdtemp(prefix="ftr-sampling-bench-")
PROG = os.path.join(TMP, "sample_hot")
PERF_DATA = os.path.join(TMP, "perf.data")

subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ftr-pmu", "--example", "sample_cmd"],
               cwd=ROOT, check=True)
subprocess.run(["cc", "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", PROG,
                os.path.join(ROOT, "fixtures/progs/sample_hot.c")], check=True)
WORK = [PROG, "work", ROUNDS]


def run(cmd):
    """Runs cmd; returns (wall_ns, cpu_ns) the workload printed, and stderr."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    wall, cpu, _ = p.stdout.split()
    return int(wall), int(cpu), p.stderr


def untraced():
    return run(WORK)[:2] + (None,)


def ftr(hz):
    wall, cpu, err = run([SAMPLER, "-F", str(hz), "-g", "--"] + WORK)
    m = re.search(r"(\d+) samples, (\d+) lost", err)
    if int(m.group(2)):
        print(f"  note: ftr lost {m.group(2)} records", file=sys.stderr)
    return wall, cpu, int(m.group(1))


def perf(hz):
    wall, cpu, _ = run(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-F", str(hz), "-o", PERF_DATA, "--"] + WORK)
    stats = subprocess.run(["perf", "report", "-i", PERF_DATA, "--stats"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"SAMPLE events:\s+(\d+)", stats)
    return wall, cpu, int(m.group(1))


configs = [("untraced", untraced)]
for hz in (99, 999):
    configs += [(f"ftr-pmu -F {hz} -g", lambda hz=hz: ftr(hz)), (f"perf record -F {hz} -g", lambda hz=hz: perf(hz))]
results = {name: [] for name, _ in configs}
for i in range(RUNS):
    for name, fn in configs:
        results[name].append(fn())

base_wall = statistics.median(r[0] for r in results["untraced"])
base_cpu = statistics.median(r[1] for r in results["untraced"])
print(f"workload: sample_hot work {ROUNDS}, {RUNS} runs each, untraced median "
      f"{base_wall / 1e9:.3f} s wall, {base_cpu / 1e9:.3f} s CPU")
print(f"{'configuration':<24}{'wall/untraced':>14}{'CPU/untraced':>14}{'samples':>10}{'expected':>10}")
for name, _ in configs:
    rs = results[name]
    wall = statistics.median(r[0] for r in rs) / base_wall
    cpu = statistics.median(r[1] for r in rs) / base_cpu
    samples = statistics.median(r[2] for r in rs) if rs[0][2] is not None else None
    hz = int(name.split("-F ")[1].split()[0]) if "-F" in name else None
    expected = f"{hz * statistics.median(r[1] for r in rs) / 1e9:.0f}" if hz else "-"
    shown = f"{samples:.0f}" if samples is not None else "-"
    print(f"{name:<24}{wall:>14.3f}{cpu:>14.3f}{shown:>10}{expected:>10}")
for hz in (99, 999):
    f, p = results[f"ftr-pmu -F {hz} -g"], results[f"perf record -F {hz} -g"]
    fc = statistics.median(r[1] for r in f) / base_cpu
    pc = statistics.median(r[1] for r in p) / base_cpu
    fs = statistics.median(r[2] for r in f)
    ps = statistics.median(r[2] for r in p)
    print(f"{hz} Hz: ftr-pmu CPU overhead {100 * (fc - 1):+.2f}% vs perf {100 * (pc - 1):+.2f}%; "
          f"samples ftr/perf = {fs / ps:.3f}")
subprocess.run(["rm", "-rf", TMP])
