#!/usr/bin/env bash
# croma bench against the eager-PyTorch reference, side by side in one run, RUNS times each
# (alternating), under two allocator settings: glibc's defaults, and freed memory kept in the
# heap (the environment variables below for Python; croma's own mallopt for croma). Prints
# the median meta-iterations/s of each and the median ratio.
# usage: analysis/bench/compare.sh [RUNS=5] [STEPS=300]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
runs=${1:-5}
steps=${2:-300}
croma="$CROMA_BUILD_DIR/croma"
keep_heap=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=536870912 MALLOC_TOP_PAD_=67108864)
rate() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["meta_iterations_per_s"])'; }
median() { /usr/bin/python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
for mode in default keep-heap; do
  c=() p=() r=()
  for _ in $(seq "$runs"); do
    if [ "$mode" = default ]; then
      cr=$(CROMA_GLIBC_MALLOC_DEFAULTS=1 "$croma" bench --steps "$steps" | rate)
      pr=$(/usr/bin/python3 analysis/bench/eager_reference.py --steps "$steps" | rate)
    else
      cr=$("$croma" bench --steps "$steps" | rate)
      pr=$(env "${keep_heap[@]}" /usr/bin/python3 analysis/bench/eager_reference.py --steps "$steps" | rate)
    fi
    c+=("$cr"); p+=("$pr"); r+=("$(/usr/bin/python3 -c "print($cr / $pr)")")
  done
  echo "{\"allocator\": \"$mode\", \"runs\": $runs, \"steps\": $steps, \"croma_median\": $(median "${c[@]}"), \"eager_median\": $(median "${p[@]}"), \"ratio_median\": $(median "${r[@]}")}"
done
