#!/bin/bash
# ftr-symbols vs binutils `addr2line -f -i -C -e BIN` on N random code
# addresses of one large binary (default: the debug-built ftr, which has
# full DWARF): each symbolizes the same address list read from stdin in
# one process (file loading included), best of 3 wall times; then the two
# outputs are compared frame by frame and every difference is counted by
# kind.
#
# usage: bench/symbolize_speed.sh [BINARY] [N]
# needs: binutils, python3, cargo
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/ftr}
N=${2:-100000}
OUT=$(mktemp -d /tmp/symbolize-speed.XXXX)
trap 'rm -rf "$OUT"' EXIT
[ -f "$BIN" ] || cargo build --bin ftr
cargo build -q --release -p ftr-symbols --example addr2line
OURS=${CARGO_TARGET_DIR:-target}/release/examples/addr2line

# N addresses inside FUNC symbols with a size, uniformly over functions.
readelf -Ws "$BIN" | python3 -c '
import random, sys
random.seed(4)
funcs = []
for l in sys.stdin:
    f = l.split()
    if len(f) >= 8 and f[3] == "FUNC" and f[6] != "UND" and int(f[2], 0 if f[2].startswith("0x") else 10) > 0:
        funcs.append((int(f[1], 16), int(f[2], 0 if f[2].startswith("0x") else 10)))
for _ in range(int(sys.argv[1])):
    a, s = random.choice(funcs)
    print("%x" % (a + random.randrange(s)))
' "$N" >"$OUT/addrs"

best_of3() {
    local name=$1 best="" t
    shift
    for _ in 1 2 3; do
        t=$( { /usr/bin/time -f "%e" "$@" <"$OUT/addrs" >"$OUT/$name.txt"; } 2>&1 | tail -1)
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc) )); then best=$t; fi
    done
    echo "$best"
}
ours=$(best_of3 ours "$OURS" "$BIN")
theirs=$(best_of3 binutils addr2line -f -i -C -e "$BIN")
printf '%-28s %8s %12s\n' "" "wall s" "addresses/s"
printf '%-28s %8s %12.0f\n' "ftr-symbols" "$ours" "$(echo "$N / $ours" | bc -l)"
printf '%-28s %8s %12.0f\n' "addr2line -f -i -C (binutils)" "$theirs" "$(echo "$N / $theirs" | bc -l)"
printf 'ftr-symbols faster: %.1fx\n' "$(echo "$theirs / $ours" | bc -l)"
python3 bench/symbolize_compare.py "$BIN" "$OUT/ours.txt" "$OUT/binutils.txt"
