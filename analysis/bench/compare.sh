#!/usr/bin/env bash
# croma bench against the eager-PyTorch reference, side by side in one run, RUNS times each
# (alternating), under two allocator settings: glibc's defaults, and freed memory kept in the
# heap (the environment variables below for Python; croma's own mallopt for croma). Both
# sides run under scripts/env.sh (one thread, the same OpenBLAS core type). Prints, per
# setting, the median meta-iterations per wall second and per CPU second of each side and the
# median of the per-run ratios (the CPU-second rates are the steadier ones on a shared machine).
# usage: analysis/bench/compare.sh [RUNS=5] [STEPS=300]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
runs=${1:-5}
steps=${2:-300}
croma="$CROMA_BUILD_DIR/croma"
keep_heap=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=536870912 MALLOC_TOP_PAD_=67108864)
rates() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d["meta_iterations_per_s"], d["meta_iterations_per_cpu_s"])'; }
median() { /usr/bin/python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 3))' "$@"; }
for mode in default keep-heap; do
  cw=() cc=() pw=() pc=() rw=() rc=()
  for _ in $(seq "$runs"); do
    if [ "$mode" = default ]; then
      read -r a b < <(CROMA_GLIBC_MALLOC_DEFAULTS=1 CROMA_BENCH_NO_FLOOR=1 "$croma" bench --steps "$steps" | rates)
      read -r c d < <(/usr/bin/python3 analysis/bench/eager_reference.py --steps "$steps" | rates)
    else
      read -r a b < <(CROMA_BENCH_NO_FLOOR=1 "$croma" bench --steps "$steps" | rates)
      read -r c d < <(env "${keep_heap[@]}" /usr/bin/python3 analysis/bench/eager_reference.py --steps "$steps" | rates)
    fi
    cw+=("$a"); cc+=("$b"); pw+=("$c"); pc+=("$d")
    rw+=("$(/usr/bin/python3 -c "print($a / $c)")"); rc+=("$(/usr/bin/python3 -c "print($b / $d)")")
  done
  echo "{\"allocator\": \"$mode\", \"runs\": $runs, \"steps\": $steps," \
       "\"croma_median\": $(median "${cw[@]}"), \"eager_median\": $(median "${pw[@]}"), \"ratio_median\": $(median "${rw[@]}")," \
       "\"croma_cpu_median\": $(median "${cc[@]}"), \"eager_cpu_median\": $(median "${pc[@]}"), \"ratio_cpu_median\": $(median "${rc[@]}")}"
done
