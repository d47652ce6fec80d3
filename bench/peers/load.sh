#!/bin/bash
# Synthetic sched_switch load: N fork+exec of /bin/true plus, on each CPU,
# a busy loop that sleeps 100 us every ~50 us of work. Ends when the
# /bin/true loop ends.  usage: load.sh [N]   (default 20000)
N=${1:-20000}
pids=()
for c in $(seq 0 $(($(nproc) - 1))); do
  taskset -c $c python3 -c '
import time
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 5e-5: pass
    time.sleep(1e-4)' &
  pids+=($!)
done
for i in $(seq "$N"); do /bin/true; done
kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null
exit 0
