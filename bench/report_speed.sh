#!/bin/bash
# `ftr report` vs `trace-cmd report` on one large file: records
# sched_switch/wakeup/waking/stat_runtime during `stress-ng --switch 2 -t
# SECS` with ftr (20 MB per CPU), then times each reader printing the
# whole file into a file (best of 3, wall and user+sys CPU), checks the
# two outputs are byte-identical with cmp and prints the ratios.
#
# usage: sudo bench/report_speed.sh [FTR_BINARY] [SECS]
# needs: apt-get install -y stress-ng trace-cmd
set -euo pipefail
FTR=${1:-target/release/ftr}
SECS=${2:-5}
OUT=$(mktemp -d /tmp/report-speed.XXXX)
trap 'rm -rf "$OUT"' EXIT
"$FTR" record -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_waking \
    -e sched:sched_stat_runtime -b 20000 -o "$OUT/big.dat" -- stress-ng --switch 2 -t "$SECS" \
    2>"$OUT/record.err" >/dev/null
tail -1 "$OUT/record.err"
ls -l "$OUT/big.dat" | awk '{printf "file: %.0f MB\n", $5 / 1048576}'

# best_of3 NAME CMD...: runs CMD > $OUT/NAME.txt three times; prints
# "wall cpu" of the fastest wall-clock run.
best_of3() {
    local name=$1 best="" line
    shift
    for _ in 1 2 3; do
        line=$( { /usr/bin/time -f "%e %U %S" "$@" >"$OUT/$name.txt"; } 2>&1 | tail -1)
        read -r wall user sys <<<"$line"
        cpu=$(echo "$user + $sys" | bc)
        if [ -z "$best" ] || (( $(echo "$wall < ${best% *}" | bc) )); then best="$wall $cpu"; fi
    done
    echo "$best"
}
read -r fw fc <<<"$(best_of3 ftr "$FTR" report -i "$OUT/big.dat")"
read -r tw tc <<<"$(best_of3 tc trace-cmd report -i "$OUT/big.dat")"
lines=$(wc -l <"$OUT/ftr.txt")
if cmp -s "$OUT/ftr.txt" "$OUT/tc.txt"; then same=identical; else same=DIFFERENT; fi
printf '%-20s %10s %10s\n' "" "wall s" "cpu s"
printf '%-20s %10s %10s\n' "ftr report" "$fw" "$fc" "trace-cmd report" "$tw" "$tc"
printf 'lines: %d, outputs %s; ftr faster: %.1fx wall, %.1fx cpu\n' "$lines" "$same" \
    "$(echo "$tw / $fw" | bc -l)" "$(echo "$tc / $fc" | bc -l)"
[ "$same" = identical ]
