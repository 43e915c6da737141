#!/usr/bin/env bash
# Runs CroMA and every baseline on one feature-shard benchmark (docs/benchmarks.md) with the
# paper's protocol as scaled there: 5-way few-shot classification of meta-test target items
# (never meta-trained), k = 1 and 5, fine-tuning e_t and phi for 50 Adam steps (lr 1e-3), 6
# queries per class, 24 tasks, repeated over REPEATS evaluation seeds; the untrained start is
# evaluated on the same tasks by the same `croma eval`. Then writes the table with
# analysis/croma_results.py.
#
# usage: [REPEATS=3] [METHODS="croma oracle ..."] [NICE=10] \
#   analysis/benchmark_comparison.sh SHARDS OUT_DIR strong|weak [SEEDS] [STEPS] [-- TRAIN_ARGS...]
#
# Every method gets the same budget: --steps STEPS, i.e. 2 * STEPS episodes per task slot
# (docs/evaluation.md). Finished cells (eval.json present) are skipped, so a rerun with more
# SEEDS only adds runs. A method that `croma train` refuses on this dataset (e.g. strong pairs
# missing for a meta-train class) is not hidden: its one-line error goes to
# OUT_DIR/refused/METHOD-seedS.txt and the table lists it as refused.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
usage="usage: analysis/benchmark_comparison.sh SHARDS OUT_DIR strong|weak [SEEDS] [STEPS] [-- TRAIN_ARGS...]"
data=${1:?$usage}
out=${2:?$usage}
pairs=${3:?$usage}
shift 3
seeds=1
steps=1000
if [ $# -gt 0 ] && [ "$1" != "--" ]; then seeds=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then steps=$1; shift; fi
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || { echo "benchmark_comparison: unexpected argument '$1'; $usage" >&2; exit 2; }
  shift
fi
extra=("$@")
case "$pairs" in strong|weak) ;; *) echo "benchmark_comparison: pairs must be strong or weak, not '$pairs'" >&2; exit 2 ;; esac
[ -f "$data" ] || { echo "benchmark_comparison: no shard list $data" >&2; exit 2; }
croma="$CROMA_BUILD_DIR/croma"
[ -x "$croma" ] || croma_build --target croma
nice_cmd=(nice -n "${NICE:-10}")
repeats=${REPEATS:-3}
read -r -a methods <<< "${METHODS:-croma target-autoencoder unsup-meta-recon unsup-meta-weak align-classify align-meta-classify oracle shared shared-align shared-confusion shared-target-labels}"
mkdir -p "$out/runs" "$out/refused"
protocol=(--eval-shots 1,5 --eval-tasks 24 --eval-queries 6 --eval-repeats "$repeats")
# train gets the protocol too: it checks it against the meta-val classes and records it.
train_args=(--data "$data" --pairs "$pairs" --steps "$steps" --val-every 0 --quiet --overwrite "${protocol[@]}" "${extra[@]}")
eval_args=(--checkpoint final "${protocol[@]}")

for seed in $(seq 1 "$seeds"); do
  for m in "${methods[@]}"; do
    dir="$out/runs/$m-seed$seed"
    refused="$out/refused/$m-seed$seed.txt"
    if [ -f "$dir/eval.json" ]; then continue; fi
    rm -f "$refused"
    echo "benchmark_comparison: $m seed $seed" >&2
    if ! "${nice_cmd[@]}" "$croma" train --run-dir "$dir" --method "$m" --seed "$seed" "${train_args[@]}" \
        > /dev/null 2> "$out/train.err"; then
      # Keep the error line (the last one on stderr) as the reason; the table shows it.
      tail -n 1 "$out/train.err" > "$refused"
      echo "benchmark_comparison: $m refused: $(cat "$refused")" >&2
      continue
    fi
    if ! "${nice_cmd[@]}" "$croma" eval --run-dir "$dir" "${eval_args[@]}" > /dev/null 2> "$out/eval.err"; then
      { printf 'eval: '; tail -n 1 "$out/eval.err"; } > "$refused"
      echo "benchmark_comparison: $m eval failed: $(cat "$refused")" >&2
    fi
  done
done
rm -f "$out/train.err" "$out/eval.err"
/usr/bin/python3 analysis/croma_results.py benchmark "$out" --out "$out/table.md"
echo "wrote $out/table.md"
