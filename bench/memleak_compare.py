#!/usr/bin/env python3
"""ftr memleak side by side with BCC memleak-bpfcc on one ground-truth
program (fixtures/progs/leaky.c, -O1 -fno-omit-frame-pointer):

1. Exactness: `leaky wait` leaks 100 x 1000 B (leak_a), 50 x 4096 B
   (leak_b, calloc), 10 x 300 B (grow, realloc), 5 x 512 B (aligned,
   posix_memalign) and frees all of no_leak's. Each tool attaches with -p
   and -o 0; outstanding bytes/allocations per leaking function vs truth.
2. Overhead: `leaky loop N` times N malloc(64)/free pairs (the program
   measures only the loop) bare, with the same uprobes (malloc entry and
   return, free entry) enabled in tracefs uprobe_events and nobody reading
   (the kernel's own cost), under `ftr memleak -p` and under
   `memleak-bpfcc -p`; ns per pair and ratios, RUNS runs each, medians.
3. Memory: `leaky hold M` keeps M blocks of 16 B; ftr's RSS growth and its
   table's own size (from -v) per outstanding allocation.

BCC needs kernel headers here: eval "$(/work/shared/bcc-headers.sh)" first
(the script sets BCC_KERNEL_SOURCE from /var/tmp/ftr-bcc-headers if unset).

usage: sudo [MEMLEAK_ARGS="--call-graph dwarf"] bench/memleak_compare.py [RUNS] [PAIRS] [HELD]
(MEMLEAK_ARGS: extra flags for every ftr memleak run)
"""
import json, os, re, signal, statistics, subprocess, sys, tempfile, time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
PAIRS = sys.argv[2] if len(sys.argv) > 2 else "200000"
HELD = sys.argv[3] if len(sys.argv) > 3 else "1000000"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
FTR = os.path.join(TARGET, "release/ftr")
TMP = tempfile.mkdtemp(prefix="ftr-memleak-bench-")
PROG = os.path.join(TMP, "leaky")
TRACING = "/sys/kernel/tracing"
os.environ.setdefault("BCC_KERNEL_SOURCE", "/var/tmp/ftr-bcc-headers")
TRUTH = {"leak_a": (100000, 100), "leak_b": (204800, 50), "grow": (3000, 10), "aligned": (2560, 5)}

subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "ftr"], cwd=ROOT, check=True)
subprocess.run(["cc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", PROG,
                os.path.join(ROOT, "fixtures/progs/leaky.c")], check=True)


class Target:
    """leaky started in a waiting mode, driven line by line."""

    def __init__(self, *args):
        self.p = subprocess.Popen([PROG, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline() == "ready\n"

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def end(self):
        self.p.stdin.write("end\n")
        self.p.stdin.flush()
        self.p.wait()


def start_tool(cmd, bcc):
    """Starts a tracer; returns once its probes are in place."""
    t = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = t.stdout.readline()
    assert line.startswith("Attaching"), (cmd, line, t.stderr.read() if t.poll() is not None else "")
    # BCC prints its banner before attaching: give it time to attach.
    time.sleep(6 if bcc else 0.2)
    return t


def stop_tool(t):
    t.send_signal(signal.SIGINT)
    out, err = t.communicate(timeout=120)
    return out, err


def ftr_cmd(pid, *extra):
    mode = os.environ.get("MEMLEAK_ARGS", "").split()
    return [FTR, "memleak", "-p", str(pid), "-o", "0", "-T", "50", *mode, *extra, "3600"]


def bcc_cmd(pid):
    return ["memleak-bpfcc", "-p", str(pid), "-o", "0", "-T", "50", "2"]


def parse_text(out):
    """Last BCC-layout report -> {innermost function: (bytes, allocations)}."""
    report = out[out.rfind("] Top "):]
    found, lines = {}, report.splitlines()
    for i, l in enumerate(lines):
        m = re.match(r"\t(\d+) bytes in (\d+) allocations from stack", l)
        if m and i + 1 < len(lines):
            func = lines[i + 1].split("\t")[-1].split("+")[0].strip()
            found[func] = (int(m.group(1)), int(m.group(2)))
    return found


def exactness():
    rows = {}
    for name, bcc in (("ftr", False), ("bcc", True)):
        tgt = Target("wait")
        tool = start_tool(ftr_cmd(tgt.p.pid) if not bcc else bcc_cmd(tgt.p.pid), bcc)
        assert tgt.go() == "done"
        time.sleep(2.5 if bcc else 0.3)  # BCC prints every 2 s and not on Ctrl-C
        out, _ = stop_tool(tool)
        tgt.end()
        rows[name] = parse_text(out)
    print("exactness (outstanding bytes / allocations per leaking function):")
    print(f"  {'function':10} {'truth':>14} {'ftr':>14} {'bcc':>14}")
    for f, (b, n) in TRUTH.items():
        cell = lambda r: "%d/%d" % r.get(f, (0, 0))
        print(f"  {f:10} {b:>8}/{n:<5} {cell(rows['ftr']):>14} {cell(rows['bcc']):>14}")
    print(f"  no_leak in ftr: {'no_leak' in rows['ftr']}, in bcc: {'no_leak' in rows['bcc']}")


def control(path, line):
    """One write to a tracefs control file (Python's "a" mode seeks, which
    tracefs refuses)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def bare_uprobes(on):
    """malloc entry+return and free entry in uprobe_events, enabled, unread."""
    group = "ftrbench_%d" % os.getpid()
    if on:
        lib = subprocess.run(["sh", "-c", f"ldd {PROG} | awk '/libc.so/{{print $3}}'"],
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        defs = []
        for sym, kind in (("malloc", "p"), ("malloc", "r"), ("free", "p")):
            off = file_offset(lib, sym)
            defs.append(f"{kind}:{group}/{sym}_{kind} {lib}:{off:#x}")
        for d in defs:
            control(f"{TRACING}/uprobe_events", d)
        control(f"{TRACING}/events/{group}/enable", "1")
    else:
        if os.path.exists(f"{TRACING}/events/{group}"):
            control(f"{TRACING}/events/{group}/enable", "0")
            for sym, kind in (("malloc", "p"), ("malloc", "r"), ("free", "p")):
                control(f"{TRACING}/uprobe_events", f"-:{group}/{sym}_{kind}")


def file_offset(path, symbol):
    syms = subprocess.run(["readelf", "-W", "--dyn-syms", path], stdout=subprocess.PIPE, text=True).stdout
    vaddr = next(int(l.split()[1], 16) for l in syms.splitlines()
                 if len(l.split()) >= 8 and l.split()[7].split("@")[0] == symbol and l.split()[3] == "FUNC")
    segs = subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE, text=True).stdout
    for l in segs.splitlines():
        w = l.split()
        if w and w[0] == "LOAD":
            off, va, memsz = int(w[1], 16), int(w[2], 16), int(w[5], 16)
            if va <= vaddr < va + memsz:
                return vaddr - va + off
    raise SystemExit(f"no segment holds {symbol} in {path}")


def one_loop(mode):
    tgt = Target("loop", PAIRS)
    tool, lost = None, ""
    if mode == "uprobes":
        bare_uprobes(True)
    elif mode == "ftr":
        tool = start_tool(ftr_cmd(tgt.p.pid), False)
    elif mode == "bcc":
        tool = start_tool(bcc_cmd(tgt.p.pid), True)
    try:
        ns = float(tgt.go())
    finally:
        if mode == "uprobes":
            bare_uprobes(False)
    if tool:
        _, err = stop_tool(tool)
        m = re.search(r"(\d+) probe hits lost in the kernel in all", err)
        lost = m.group(1) if m else "0"
    tgt.end()
    return ns, lost


def overhead():
    modes = ["bare", "uprobes", "ftr", "bcc"]
    res = {m: [] for m in modes}
    lost = []
    for _ in range(RUNS):
        for m in modes:
            ns, l = one_loop(m)
            res[m].append(ns)
            if m == "ftr":
                lost.append(l)
    med = {m: statistics.median(v) for m, v in res.items()}
    print(f"overhead ({PAIRS} malloc(64)/free pairs, median of {RUNS}, ns per pair):")
    for m in modes:
        print(f"  {m:8} {med[m]:9.1f} ns  {med[m] / med['bare']:6.2f}x bare  "
              f"{med[m] / med['uprobes']:5.2f}x bare-uprobes")
    print(f"  ftr vs bcc: {med['ftr'] / med['bcc']:.2f}x; ftr lost per run: {', '.join(lost)}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l.split()[1] for l in f if l.startswith("VmRSS:")))


def memory():
    tgt = Target("hold", HELD)
    tool = start_tool(ftr_cmd(tgt.p.pid, "-v", "--combined-only"), False)
    before = rss_kb(tool.pid)
    assert tgt.go() == "held"
    time.sleep(1)
    after = rss_kb(tool.pid)
    _, err = stop_tool(tool)
    tgt.end()
    m = re.search(r"(\d+) outstanding in a (\d+)-byte table \((\d+) bytes each\)", err)
    lost = re.search(r"(\d+) probe hits lost in the kernel in all", err)
    print(f"memory ({HELD} outstanding malloc(16) blocks):")
    print(f"  ftr RSS growth {(after - before) * 1024 / int(HELD):.1f} bytes per allocation; "
          f"table {m.group(3) if m else '?'} bytes each ({m.group(1) if m else '?'} tracked); "
          f"lost {lost.group(1) if lost else 0}")


exactness()
overhead()
memory()
