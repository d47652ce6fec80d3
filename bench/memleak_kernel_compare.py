#!/usr/bin/env python3
"""ftr memleak's kernel mode (no -p/-c) side by side with BCC
memleak-bpfcc's, on fixtures/progs/hold_eventfds.c:

1. Exactness: `hold_eventfds N` keeps N eventfds open, each one kmalloc
   of a struct eventfd_ctx by do_eventfd. Each tool runs system-wide with
   -o 0, -z 64 -Z 64 and a 1 s interval while they are held; the most allocations (and
   their bytes) any report shows on the stacks where do_eventfd called the
   allocator (>= N expected: other processes' eventfds add to it). Every
   report counts: BCC prints nothing on Ctrl-C and a report cut short by
   the signal is incomplete, and reports before the program started count
   fewer, never more.
2. Event rate: `hold_eventfds churn MS` creates and closes eventfds one at
   a time (about 4 allocations and 4 frees each) bare, under ftr memleak
   and under memleak-bpfcc; ns per pair (median of RUNS), and for ftr the
   tracepoint hits it handled per second (from -v) and the hits the kernel
   lost (from its stderr).

BCC needs kernel headers here: eval "$(/work/shared/bcc-headers.sh)" first
(the script sets BCC_KERNEL_SOURCE from /var/tmp/ftr-bcc-headers if unset).

usage: sudo bench/memleak_kernel_compare.py [RUNS] [N] [CHURN_MS]
"""
import os, re, signal, statistics, subprocess, sys, tempfile, time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
CHURN_MS = sys.argv[3] if len(sys.argv) > 3 else "3000"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
FTR = os.path.join(TARGET, "release/ftr")
TMP = tempfile.mkdtemp(prefix="ftr-kmemleak-bench-")
PROG = os.path.join(TMP, "hold_eventfds")
os.environ.setdefault("BCC_KERNEL_SOURCE", "/var/tmp/ftr-bcc-headers")
# BCC's reports would wait in Python's pipe buffer and die with it on Ctrl-C.
os.environ["PYTHONUNBUFFERED"] = "1"

subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "ftr"], cwd=ROOT, check=True)
subprocess.run(["cc", "-O1", "-o", PROG, os.path.join(ROOT, "fixtures/progs/hold_eventfds.c")], check=True)


def tool_cmd(name, extra):
    if name == "ftr":
        return [FTR, "memleak", *extra]
    return ["memleak-bpfcc", *extra]


def start(name, extra):
    """Starts a tool; returns once it printed its header (attached)."""
    p = subprocess.Popen(tool_cmd(name, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("Attaching to kernel allocators"), (name, line, p.stderr.read())
    return p


def stop(p):
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    return out, err


def reports(text):
    """Each report: list of (bytes, allocations, [frames])."""
    out, cur, stack = [], None, None
    for line in text.splitlines():
        if re.match(r"^\[\d\d:\d\d:\d\d\] Top", line):
            cur = []
            out.append(cur)
        elif m := re.match(r"^\t(\d+) bytes in (\d+) allocations from stack", line):
            stack = (int(m.group(1)), int(m.group(2)), [])
            cur.append(stack)
        elif line.startswith("\t\t") and stack is not None:
            stack[2].append(line.strip().split("\t")[-1])
    return out


def eventfd_ctx(report):
    allocs = sum(s[1] for s in report if any(f.startswith("do_eventfd+") for f in s[2][:2]))
    nbytes = sum(s[0] for s in report if any(f.startswith("do_eventfd+") for f in s[2][:2]))
    return allocs, nbytes


def exactness(name):
    # Only 64-byte blocks (the eventfd_ctx's bytes_alloc here): without a
    # filter BCC's Python walks its whole map of ~100k outstanding blocks
    # per report and printed no complete report in 30 s on this machine.
    p = start(name, ["-o", "0", "-z", "64", "-Z", "64", "-T", "200", "1"])
    time.sleep(1)
    h = subprocess.Popen([PROG, str(N)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert h.stdout.readline() == "ready\n"
    # BCC takes seconds per report with thousands of stacks to symbolize.
    time.sleep(10)
    out, err = stop(p)
    h.stdin.write("close\n")
    h.stdin.flush()
    h.stdout.readline()
    h.stdin.write("exit\n")
    h.stdin.flush()
    h.wait()
    rs = reports(out)
    return max((eventfd_ctx(r) for r in rs), default=(None, None))


def churn():
    out = subprocess.run([PROG, "churn", CHURN_MS], capture_output=True, text=True, check=True).stdout
    m = re.match(r"(\d+) pairs ([\d.]+) ns/pair", out)
    return int(m.group(1)), float(m.group(2))


def churn_under(name):
    if name is None:
        return churn() + (None, None)
    extra = ["-v"] if name == "ftr" else []
    p = start(name, [*extra, "-o", "0", "-T", "1", "3600"])
    time.sleep(1)
    t0 = time.time()
    pairs, ns = churn()
    secs = time.time() - t0
    out, err = stop(p)
    handled = lost = None
    if name == "ftr":
        m = re.search(r"(\d+) allocations, (\d+) frees, (\d+) untracked frees", err)
        if m:
            handled = sum(int(x) for x in m.groups()) / secs
        m = re.search(r"(\d+) tracepoint hits lost", err)
        lost = int(m.group(1)) if m else 0
    return pairs, ns, handled, lost


print(f"exactness: {N} eventfds held; allocations/bytes on do_eventfd's own stack (>= {N} expected)")
for name in ["ftr", "bcc"]:
    try:
        a, b = exactness(name)
        print(f"  {name:4} {a} allocations, {b} bytes")
    except Exception as e:  # BCC may not run here
        print(f"  {name:4} failed: {e}")

print(f"\nchurn: eventfd()+close() for {CHURN_MS} ms, median of {RUNS} interleaved runs")
res = {"bare": [], "ftr": [], "bcc": []}
for _ in range(RUNS):
    for name in ["bare", "ftr", "bcc"]:
        try:
            res[name].append(churn_under(None if name == "bare" else name))
        except Exception as e:
            print(f"  {name} failed: {e}")
med = {k: statistics.median(r[1] for r in v) for k, v in res.items() if v}
for k, v in res.items():
    if not v:
        continue
    line = f"  {k:4} {med[k]:8.1f} ns/pair"
    if k != "bare":
        line += f"  {med[k] / med['bare']:5.1f}x bare"
    if k == "ftr":
        line += f"; hits handled {statistics.median(r[2] or 0 for r in v):,.0f}/s"
        line += f"; lost {[r[3] for r in v]}"
    print(line)
if "ftr" in med and "bcc" in med:
    print(f"  ftr is {med['ftr'] / med['bcc']:.2f}x bcc per pair")
