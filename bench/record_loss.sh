#!/bin/bash
# Lost and unrecorded events at a high event rate, `ftr record` vs
# `trace-cmd record` (through the shim this VM needs), same events and
# per-CPU buffer size, each during `stress-ng --switch 2 -t SECS`. For
# each CPU it prints, from the CPUSTAT stored in the file (taken at stop,
# after the final drain): "entries" left in the kernel buffer and never
# written, "overrun" (overwritten before they were read), and the events
# in the file (counted with `ftr report --cpu N`).
#
# usage: sudo bench/record_loss.sh [FTR_BINARY] [SECS] [BUFFER_KB]
# needs: apt-get install -y stress-ng trace-cmd
set -euo pipefail
FTR=${1:-target/release/ftr}
SECS=${2:-5}
KB=${3:-20000}
SHIM=${SHIM:-$(dirname "$0")/../../shared/trace-cmd-shim.sh}
EVENTS=(-e sched:sched_switch -e sched:sched_wakeup -e sched:sched_waking -e sched:sched_stat_runtime)
OUT=$(mktemp -d /tmp/record-loss.XXXX)
trap 'rm -rf "$OUT"' EXIT
"$FTR" record "${EVENTS[@]}" -b "$KB" -o "$OUT/ftr.dat" -- stress-ng --switch 2 -t "$SECS" \
    >/dev/null 2>"$OUT/ftr.err"
"$SHIM" record "${EVENTS[@]}" -b "$KB" -o "$OUT/tc.dat" stress-ng --switch 2 -t "$SECS" \
    >"$OUT/tc.err" 2>&1
printf '%-10s %4s %12s %10s %10s %8s\n' tool cpu in-file left overrun left%
for tool in ftr tc; do
    f=$OUT/$tool.dat
    name=$tool; [ "$tool" = tc ] && name=trace-cmd
    trace-cmd report --stat -i "$f" 2>/dev/null | awk '
        /^CPU: /{cpu=$2} /^entries:/{e[cpu]=$2} /^overrun:/{o[cpu]=$2}
        END{for (c in e) print c, e[c], o[c]}' | sort -n |
    while read -r cpu left over; do
        n=$("$FTR" report -i "$f" --cpu "$cpu" | grep -vc '^cpus=' || true)
        printf '%-10s %4s %12d %10d %10d %7.2f%%\n' "$name" "$cpu" "$n" "$left" "$over" \
            "$(echo "100 * $left / ($n + $left)" | bc -l)"
    done
done
