#!/usr/bin/env bash
# Task slots per rank and ranks, side by side: RUNS alternating rounds of
#   croma bench --tasks-per-rank T      for T in 1 2 4 (one rank)
#   mpirun -np 2 croma bench            (two ranks, one slot each)
# printing one JSON line per run with meta-iterations/s, tasks/s (meta-iterations x R x T)
# and the per-CPU-second rate.
# usage: analysis/bench/slots_and_ranks.sh [RUNS=3] [STEPS=200]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
runs=${1:-3}
steps=${2:-200}
croma="$CROMA_BUILD_DIR/croma"
show() {  # label ranks slots
  /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
label, ranks, slots = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"case": label, "ranks": ranks, "slots": slots, "inner_loop": d["inner_loop"],
                  "meta_iterations_per_s": round(d["meta_iterations_per_s"], 2),
                  "tasks_per_s": round(d["meta_iterations_per_s"] * ranks * slots, 2),
                  "meta_iterations_per_cpu_s": round(d["meta_iterations_per_cpu_s"], 2)}))' "$@"
}
for _ in $(seq "$runs"); do
  for t in 1 2 4; do
    CROMA_BENCH_NO_FLOOR=1 "$croma" bench --steps "$steps" --tasks-per-rank "$t" | show "1 rank x $t" 1 "$t"
  done
  CROMA_BENCH_NO_FLOOR=1 mpirun --oversubscribe -np 2 "$croma" bench --steps "$steps" | show "2 ranks x 1" 2 1
done
