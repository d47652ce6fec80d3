#!/bin/bash
# CPU cost of runqlat under context-switch load: `stress-ng --switch 2
# --switch-freq F` (F per worker; 0 = as fast as it goes) for SECS seconds
# with no tracer, with `ftr runqlat` and with libbpf-tools
# `runqlat`. For each run it prints the system's context switches per
# second (from /proc/stat ctxt), the tracer process's CPU (utime+stime from
# /proc/PID/stat, % of one CPU) and that CPU per 100k switches/s, the
# stress-ng switch throughput (its bogo ops/s; the drop against the
# baseline is what tracing costs the switching tasks, in-kernel BPF and
# ftrace recording included), and what ftr says it lost. With bpftool
# present, the in-kernel run time of runqlat's BPF programs is added
# (kernel.bpf_stats_enabled is set for that run and restored).
#
# Tracers run in this script's session, like stress-ng. Started in a
# session of their own (script(1), ssh), with sched_autogroup_enabled=1, a
# tracer got 2-7% of a CPU under the unthrottled storm here and lost most
# events: the storm's autogroup starves other groups.
#
# usage: sudo [FREQS="25000 0"] bench/sched_overhead.sh [FTR_BINARY] [SECS] [FTR_ARGS...]
# (25000 per worker gives about 125k context switches/s on a 2-CPU VM.)
# needs: apt-get install -y stress-ng libbpf-tools
set -euo pipefail
FTR=${1:-target/release/ftr}
SECS=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
FTR_ARGS=("$@")
FREQS=${FREQS:-25000 0}
TCK=$(getconf CLK_TCK)
OUT=$(mktemp -d /tmp/sched-overhead.XXXX)
trap 'rm -rf "$OUT"' EXIT

ctxt() { awk '/^ctxt/ {print $2}' /proc/stat; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bpf_runtime_ns() {
  command -v bpftool >/dev/null || { echo 0; return; }
  bpftool prog show 2>/dev/null | awk '/name handle_sched|name sched_/ {for (i = 1; i < NF; i++) if ($i == "run_time_ns") s += $(i + 1)} END {printf "%d\n", s + 0}'
}

run() {
  local label=$1; shift
  local pid="" bpf0=0 bpf1=0 old_stats=""
  if [ $# -gt 0 ]; then
    if [ "$label" = libbpf-tools ] && command -v bpftool >/dev/null; then
      old_stats=$(sysctl -n kernel.bpf_stats_enabled); sysctl -qw kernel.bpf_stats_enabled=1
    fi
    # Same session as stress-ng (see the note at the top). stdbuf makes
    # libbpf-tools' stdout line-buffered so its "Tracing" line shows.
    stdbuf -oL "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" &
    pid=$!
    for _ in $(seq 300); do grep -q "Tracing" "$OUT/$label.out" "$OUT/$label.err" 2>/dev/null && break; sleep 0.05; done
    bpf0=$(bpf_runtime_ns)
  fi
  local c0 t0 c1 t1 ops
  c0=$(ctxt); t0=${pid:+$(cpu_ticks "$pid")}
  local freq=()
  [ "$FREQ" != 0 ] && freq=(--switch-freq "$FREQ")
  ops=$(stress-ng --switch 2 "${freq[@]}" --timeout "${SECS}s" --metrics-brief 2>&1 |
        awk '/switch / && $NF ~ /^[0-9.]+$/ {v = $(NF-1)} END {print v}')
  c1=$(ctxt); t1=${pid:+$(cpu_ticks "$pid")}
  local rate=$(( (c1 - c0) / SECS ))
  if [ -n "$pid" ]; then
    bpf1=$(bpf_runtime_ns)
    kill -INT "$pid"; wait 2>/dev/null || true
    [ -n "$old_stats" ] && sysctl -qw kernel.bpf_stats_enabled="$old_stats"
    local cpu_pct lost bpf_pct
    cpu_pct=$(awk -v d=$((t1 - t0)) -v s="$SECS" -v k="$TCK" 'BEGIN {printf "%.1f", 100 * d / k / s}')
    bpf_pct=$(awk -v a="$bpf0" -v b="$bpf1" -v s="$SECS" 'BEGIN {printf "%.1f", 100 * (b - a) / 1e9 / s}')
    lost=$(grep -ho "events were lost.*per the kernel" "$OUT/$label.out" "$OUT/$label.err" | head -1 || true)
    printf '%-14s %10d %12s %10s %16s %12s  %s\n' "$label" "$rate" "$ops" "$cpu_pct" \
      "$(awk -v c="$cpu_pct" -v b="$bpf_pct" -v r="$rate" 'BEGIN {printf "%.1f", (c + b) / (r / 1e5)}')" \
      "$([ "$bpf_pct" = 0.0 ] && echo - || echo "$bpf_pct")" "${lost:-no loss reported}"
  else
    printf '%-14s %10d %12s %10s %16s %12s\n' "$label" "$rate" "$ops" - - -
  fi
}

for FREQ in $FREQS; do
  echo "# stress-ng --switch 2 --switch-freq $FREQ, ${SECS}s"
  printf '%-14s %10s %12s %10s %16s %12s  %s\n' tracer ctxt/s switch-ops/s cpu% "cpu% per 100k/s" bpf-prog% losses
  run none
  run ftr "$FTR" runqlat "${FTR_ARGS[@]}"
  run libbpf-tools /usr/sbin/runqlat
done
