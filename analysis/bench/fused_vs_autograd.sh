#!/usr/bin/env bash
# Results of the fused inner loop against autograd on real data: croma, oracle and shared-align
# trained with --inner-loop autograd and auto (fused) on seeds 11-13 (default options, 1000
# meta-steps, weak pairs), each evaluated on 600 meta-test episodes per k = 1, 5. Training runs
# are chaotic (rounding differences grow; tests/meta/fused_inner_loop_test.cpp), so the two
# loops are compared as distributions over seeds (Welch), not run by run. Resumable: finished
# runs are kept.
# Usage: analysis/bench/fused_vs_autograd.sh CROMA SHARDS_TXT OUT_DIR
set -euo pipefail
croma=$(realpath "${1:?usage: fused_vs_autograd.sh CROMA SHARDS_TXT OUT_DIR}")
data=$(realpath "${2:?shards list}")
out=${3:?output directory}
mkdir -p "$out"
cd "$out"
for seed in 11 12 13; do
  for m in oracle shared-align croma; do
    for loop in autograd auto; do
      d=$m-$loop-s$seed
      [ -f "$d/eval.json" ] && continue
      rm -rf "$d"
      "$croma" train --run-dir "$d" --data "$data" --pairs weak --steps 1000 --val-every 0 --checkpoint-every 0 \
        --quiet --eval-shots 1,5 --eval-queries 6 --method "$m" --inner-loop "$loop" --threads 1 --seed "$seed" >/dev/null
      "$croma" eval --run-dir "$d" --eval-shots 1,5 --eval-queries 6 --threads 1 --skip-untrained >/dev/null
    done
  done
done
/usr/bin/python3 - <<'PY'
import glob, json, statistics
from scipy import stats
print("| method | k | autograd (3 seeds) | fused (3 seeds) | fused − autograd (Welch 95 %) |")
print("|---|---|---|---|---|")
def ci(v):
    return stats.t.ppf(0.975, len(v) - 1) * statistics.stdev(v) / len(v) ** 0.5
for m in ("croma", "oracle", "shared-align"):
    for k in (1, 5):
        acc = {loop: [100 * r["accuracy_mean"]
                      for f in sorted(glob.glob(f"{m}-{loop}-s*/eval.json"))
                      for r in json.load(open(f))["results"] if r["shots"] == k]
               for loop in ("autograd", "auto")}
        a, f = acc["autograd"], acc["auto"]
        va, vf = statistics.variance(a) / len(a), statistics.variance(f) / len(f)
        dof = (va + vf) ** 2 / (va ** 2 / (len(a) - 1) + vf ** 2 / (len(f) - 1))
        half = stats.t.ppf(0.975, dof) * (va + vf) ** 0.5
        runs = lambda v: ", ".join(f"{x:.1f}" for x in v)
        print(f"| {m} | {k} | {statistics.mean(a):.1f} ± {ci(a):.1f} ({runs(a)}) | "
              f"{statistics.mean(f):.1f} ± {ci(f):.1f} ({runs(f)}) | "
              f"{statistics.mean(f) - statistics.mean(a):+.1f} ± {half:.1f} |")
PY
