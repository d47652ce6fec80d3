#!/bin/bash
# What `ftr deadlock` costs a lock-heavy program: fixtures/progs/lock_order
# `loop N` takes two nested mutexes N times (4 probe hits per iteration:
# 2 locks, 2 unlocks) and prints the loop's own seconds. Three runs each:
#   bare      no tracing
#   uprobes   the same lock/unlock uprobes defined in uprobe_events and
#             enabled into a scratch instance nobody reads: the kernel's
#             own cost per hit (trap + ring write)
#   ftr       `ftr deadlock $DEADLOCK_ARGS -p PID`, attached while the
#             program waits: perf samples with regs, callchain and a stack
#             copy (8 KiB by default, for DWARF unwinding of thread
#             creation; 64 bytes with DEADLOCK_ARGS="--call-graph fp"),
#             read and aggregated
# and the ratios against bare and against uprobes, plus what ftr lost.
# BCC's deadlock is the natural peer, but on kernels without a clone
# kretprobe (this VM) it cannot start; see docs/tools/deadlock.md.
#
# usage: sudo [DEADLOCK_ARGS=...] bench/deadlock_overhead.sh [FTR_BINARY] [N]
set -euo pipefail
FTR=${1:-target/release/ftr}
N=${2:-200000}
T=/sys/kernel/tracing
OUT=$(mktemp -d /tmp/deadlock-overhead.XXXX)
GROUP=ftrbench_$$
cleanup() {
  { echo 0 > "$T/instances/$GROUP/events/$GROUP/enable"; } 2>/dev/null || true
  rmdir "$T/instances/$GROUP" 2>/dev/null || true
  { echo "-:$GROUP/lock" >> "$T/uprobe_events"; } 2>/dev/null || true
  { echo "-:$GROUP/unlock" >> "$T/uprobe_events"; } 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
cc -O1 -g -fno-omit-frame-pointer -pthread -o "$OUT/lock_order" "$(dirname "$0")/../fixtures/progs/lock_order.c"

# Offsets as ftr resolves them ("probing lock pthread_mutex_lock at PATH:0xOFF").
probes=$("$FTR" deadlock -v -- /bin/true 2>&1 >/dev/null | awk '/^ftr: probing (lock|unlock) pthread_mutex_(lock|unlock) at/ {print $3, $NF}')
LOCK=$(awk '$1 == "lock" {print $2}' <<<"$probes")
UNLOCK=$(awk '$1 == "unlock" {print $2}' <<<"$probes")

loop_seconds() { "$OUT/lock_order" loop "$N" | awk '{print $2}'; }

bare() { loop_seconds; }

uprobes() {
  echo "p:$GROUP/lock $LOCK" >> "$T/uprobe_events"
  echo "p:$GROUP/unlock $UNLOCK" >> "$T/uprobe_events"
  mkdir "$T/instances/$GROUP"
  echo 1 > "$T/instances/$GROUP/events/$GROUP/enable"
  loop_seconds
  echo 0 > "$T/instances/$GROUP/events/$GROUP/enable"
  rmdir "$T/instances/$GROUP"
  echo "-:$GROUP/lock" >> "$T/uprobe_events"
  echo "-:$GROUP/unlock" >> "$T/uprobe_events"
}

with_ftr() {
  local fifo=$OUT/go
  rm -f "$fifo"; mkfifo "$fifo"
  "$OUT/lock_order" loop "$N" wait < "$fifo" > "$OUT/prog.out" &
  local prog=$!
  exec 3> "$fifo"
  sleep 0.2
  rm -f "$OUT/ftr.err"
  # shellcheck disable=SC2086 # DEADLOCK_ARGS is a list of flags
  "$FTR" deadlock ${DEADLOCK_ARGS:-} -p "$prog" > "$OUT/ftr.out" 2> "$OUT/ftr.err" &
  local ftr=$!
  until grep -qs Tracing "$OUT/ftr.err"; do sleep 0.05; done
  echo go >&3
  exec 3>&-
  wait "$prog"
  wait "$ftr" || true
  lost=$(sed -n 's/^ftr: \([0-9]*\) events lost.*/\1/p' "$OUT/ftr.err")
  echo "$(awk '/^done/ {print $2}' "$OUT/prog.out") ${lost:-0}"
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -a B U F L
for i in 1 2 3; do
  B+=("$(bare)")
  U+=("$(uprobes)")
  read -r s l < <(with_ftr)
  F+=("$s"); L+=("$l")
done
b=$(printf '%s\n' "${B[@]}" | median)
u=$(printf '%s\n' "${U[@]}" | median)
f=$(printf '%s\n' "${F[@]}" | median)
hits=$((4 * N))
printf 'lock loop, %d iterations (%d probe hits), median of 3\n' "$N" "$hits"
printf '  bare            %8.4f s   runs: %s\n' "$b" "${B[*]}"
printf '  uprobes only    %8.4f s   runs: %s  (%.2f us per hit over bare)\n' "$u" "${U[*]}" "$(echo "($u - $b) * 1000000 / $hits" | bc -l)"
printf '  ftr deadlock -p %8.4f s   runs: %s  (%.2f us per hit over bare)\n' "$f" "${F[*]}" "$(echo "($f - $b) * 1000000 / $hits" | bc -l)"
printf '  ftr / bare %.1fx   ftr / uprobes-only %.2fx   events lost per run: %s\n' \
  "$(echo "$f / $b" | bc -l)" "$(echo "$f / $u" | bc -l)" "${L[*]}"
