#!/bin/bash
# Overhead and accuracy of `ftr funccount` and `ftr kprobe`-style counting
# in the 6.1 guest (Debian's kernel under QEMU, via ../shared/qemu-kernel.sh:
# the host VM has neither kprobes nor a usable function tracer).
#
# Workload: fixtures/progs/open_read.c making N 1-byte pread(2) calls
# (exactly N vfs_read calls). For each mode the workload's wall time is
# taken inside the guest (median of RUNS) and printed as a ratio to the
# untraced run, with the count each tool reported. The time runs from
# releasing the waiting workload (its GO file) to its exit, the same way in
# every mode; the tracer is started a second before.
#   none      no tracing
#   ftr       ftr funccount -p PID vfs_read   (function tracer in an instance)
#   perf      perf stat -e probe:vfs_read -p PID  after `perf probe vfs_read`
#             (the peer: a kprobe counted in the kernel by perf)
# Under software emulation absolute times mean little; the ratios and the
# counts are the point. A loaded host makes the emulation slower still.
# One vCPU by default (SMP=2 to change): see tests/util.rs run_in_guest_env.
#
# usage: sudo bench/funcs_guest.sh [FTR_BINARY] [N] [RUNS]
set -euo pipefail
FTR=$(realpath "${1:-target/release/ftr}")
N=${2:-100000}
RUNS=${3:-3}
OUT=$(mktemp -d /tmp/funcs-guest.XXXX)
trap 'rm -rf "$OUT" "$OUT.work"' EXIT
cc -O1 -o "$OUT/open_read" "$(dirname "$0")/../fixtures/progs/open_read.c"
cat > "$OUT/cmd.sh" <<SCRIPT
cd $OUT; echo data > file; touch go
now() { date +%s%N; }
traced() { # mode, then the tracer command with PID for the workload's pid
  local mode=\$1; shift
  rm -f go; ./open_read file $N go > /dev/null & p=\$!
  cmd=\$(echo "\$@" | sed "s/PID/\$p/g")
  \$cmd > \$mode.out 2> \$mode.err & t=\$!
  # ftr says when it is tracing; perf stat says nothing until the end.
  if [ \$mode = ftr ]; then
    for i in \$(seq 300); do grep -q '^Tracing' \$mode.err 2>/dev/null && break; sleep 0.2; done
  fi
  sleep 1; t0=\$(now); touch go; wait \$p; t1=\$(now)
  echo "\$mode \$(( (t1 - t0) / 1000 ))" >> times
  kill -INT \$t; wait \$t || true
  cat \$mode.out \$mode.err >> counts.\$mode
}
for r in \$(seq $RUNS); do
  traced none true
  traced ftr $FTR funccount -p PID vfs_read
done
perf probe -q -a vfs_read 2>/dev/null || true
for r in \$(seq $RUNS); do traced perf perf stat -e probe:vfs_read -p PID; done
perf probe -q -d 'probe:*' 2>/dev/null || true
SCRIPT
mkdir -p "$OUT.work"; ln -s /var/tmp/ftr-qemu/kpkg "$OUT.work/kpkg" 2>/dev/null || true
QK="$(dirname "$0")/../../shared/qemu-kernel.sh"
[ -f "$QK" ] || QK=/work/shared/qemu-kernel.sh
HOSTROOT=1 SMP=${SMP:-1} RW_DIR="$OUT" WORK="$OUT.work" TIMEOUT=${TIMEOUT:-600} \
  GUEST_CMD="bash $OUT/cmd.sh > $OUT/log 2>&1" bash "$QK" > "$OUT/console" 2>&1 || true
[ -s "$OUT/times" ] || { echo "guest run failed:"; tail -20 "$OUT/console" "$OUT/log"; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(awk '$1=="none"{print $2}' "$OUT/times" | median)
printf "%-6s %12s %8s  %s\n" MODE "median(us)" RATIO "COUNTS (workload made $N vfs_read calls)"
for m in none ftr perf; do
  t=$(awk -v m=$m '$1==m{print $2}' "$OUT/times" | median)
  [ -n "$t" ] || continue
  case $m in
    ftr) c=$(awk '$1=="vfs_read"{printf "%s ", $2}' "$OUT/counts.ftr" 2>/dev/null) ;;
    perf) c=$(awk '/probe:vfs_read/{gsub(",","",$1); printf "%s ", $1}' "$OUT/counts.perf" 2>/dev/null) ;;
    *) c="" ;;
  esac
  printf "%-6s %12s %8.2f  %s\n" "$m" "$t" "$(echo "$t / $base" | bc -l)" "$c"
done
