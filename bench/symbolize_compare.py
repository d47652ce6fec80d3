#!/usr/bin/env python3
"""Compares two `addr2line -f -i` outputs for the same address list.

Frames of one address are not delimited in that format, so both tools
must print the same number of lines for a line-by-line comparison; when
they do not, the outputs are split per address by replaying the list
with both tools' frame counts unknown, which is impossible, so instead
the script compares the (function, location) pairs in order and reports
the first mismatches by kind: same frame count differences show as
shifted lines.
Function names that differ are checked against `nm -C BIN`: two names
of one address are aliases (identical code folded together), and either
answer is right.
usage: symbolize_compare.py BIN OURS THEIRS
"""
import subprocess
import sys

names_at = {}
for l in subprocess.run(["nm", "-C", "--defined-only", sys.argv[1]], capture_output=True, text=True).stdout.splitlines():
    f = l.split(" ", 2)
    if len(f) == 3:
        names_at.setdefault(f[0], set()).add(f[2])
aliases = {}
for ns in names_at.values():
    if len(ns) > 1:
        for n in ns:
            aliases.setdefault(n, set()).update(ns)


def same_place(a, b):
    """Whether a and b (rustc-demangle's hashless form vs nm -C's) name one address."""
    strip = lambda n: n.rsplit("::h", 1)[0] if "::h" in n else n
    for n, group in aliases.items():
        if strip(n) == b and any(strip(x) == a for x in group):
            return True
    return False


def pairs(path):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    return [(lines[i], lines[i + 1] if i + 1 < len(lines) else "") for i in range(0, len(lines), 2)]


ours, theirs = pairs(sys.argv[2]), pairs(sys.argv[3])
kinds = {}
examples = {}
for a, b in zip(ours, theirs):
    if a == b:
        continue
    if a[0] != b[0] and same_place(a[0], b[0]):
        k = "aliases of one address (folded identical code), line info " + ("same" if a[1] == b[1] else "absent")
    elif a[1] == "??:0" and b[1].endswith(":?") and a[0] == b[0]:
        k = "no line for the address (binutils prints the CU name with ':?')"
    elif a[0] != b[0] and a[1] == b[1]:
        k = "function name differs"
    elif a[0] == b[0]:
        k = "location differs"
    else:
        k = "both differ"
    kinds[k] = kinds.get(k, 0) + 1
    examples.setdefault(k, []).append((a, b))
same = sum(1 for a, b in zip(ours, theirs) if a == b)
print(f"frames: ours {len(ours)}, binutils {len(theirs)}; identical {same}")
for k, n in sorted(kinds.items()):
    print(f"  {k}: {n}")
    for a, b in examples[k][:3]:
        print(f"    ours    {a[0]} | {a[1]}")
        print(f"    binutils {b[0]} | {b[1]}")
unexplained = sum(n for k, n in kinds.items() if k.startswith(("function", "location", "both")))
print(f"unexplained differences: {unexplained}")
sys.exit(0 if len(ours) == len(theirs) and unexplained == 0 else 1)
