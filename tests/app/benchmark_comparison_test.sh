#!/usr/bin/env bash
# analysis/benchmark_comparison.sh + croma_results.py benchmark on a tiny imported shard
# dataset: methods croma refuses are listed with croma's reason, finished methods show the
# accuracies of their eval.json beside the untrained start, and a rerun skips finished cells.
# usage: benchmark_comparison_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
croma=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
source "$here/tests/app/harness.sh"
py=/usr/bin/python3

# 20 classes (10 meta-train, 5 meta-val, 5 meta-test), 12 items per class in each modality;
# strong pairs item i <-> item i of the same class, except for meta-train class c0.
$py - "$work" <<'EOF' || { echo "FAIL: could not write the tiny dataset"; exit 1; }
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(7)
classes, per = 20, 12
centres_s, centres_t = rng.normal(size=(classes, 8)), rng.normal(size=(classes, 6))
labels = np.repeat([f"c{c}" for c in range(classes)], per)
src = np.repeat(centres_s, per, axis=0) + 0.3 * rng.normal(size=(classes * per, 8))
tgt = np.repeat(centres_t, per, axis=0) + 0.3 * rng.normal(size=(classes * per, 6))
np.savez(f"{w}/src.npz", features=src.astype(np.float32), labels=labels)
np.savez(f"{w}/tgt.npz", features=tgt.astype(np.float32), labels=labels)
with open(f"{w}/pairs.csv", "w") as f:
    f.write("source,target\n")
    for i in range(per, classes * per):
        f.write(f"{i},{i}\n")
with open(f"{w}/split.csv", "w") as f:
    f.write("class,split\n")
    for c in range(classes):
        f.write(f"c{c},{'train' if c < 10 else 'val' if c < 15 else 'test'}\n")
EOF
$py "$here/data_prep/import_features.py" --name tiny --out "$work/data" --source "$work/src.npz" \
  --target "$work/tgt.npz" --pairs "$work/pairs.csv" --split "$work/split.csv" > /dev/null 2>&1 \
  || { echo "FAIL: import_features.py"; exit 1; }
data="$work/data/tiny.shards.txt"
[ -f "$data" ] || { echo "FAIL: no $data"; exit 1; }

export CROMA_BUILD_DIR
CROMA_BUILD_DIR=$(dirname "$croma")
script="$here/analysis/benchmark_comparison.sh"

# Strong pairs: meta-train class c0 has none, so croma refuses every method; the table says so.
if ! METHODS="croma oracle" REPEATS=1 bash "$script" "$data" "$work/strong" strong 1 5 > /dev/null 2> "$work/strong.err"; then
  fail "strong run failed: $(tail -n 3 "$work/strong.err")"
fi
table="$work/strong/table.md"
for label in "CroMA" "Oracle (within target modality)"; do
  grep -qF "| $label | refused: croma train: error: --pairs strong: a meta-train class has no strong pairs" "$table" 2>/dev/null \
    && ok || fail "strong table lacks the refusal of $label: $(cat "$table" 2>/dev/null)"
done

# Weak pairs: both methods run; the table shows eval.json's numbers.
if ! METHODS="croma oracle" REPEATS=1 bash "$script" "$data" "$work/weak" weak 1 5 > /dev/null 2> "$work/weak.err"; then
  fail "weak run failed: $(tail -n 3 "$work/weak.err")"
fi
table="$work/weak/table.md"
$py - "$work/weak" <<'EOF' && ok || fail "weak table does not match eval.json: $(cat "$table" 2>/dev/null)"
import json, sys
out = sys.argv[1]
rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in open(f"{out}/table.md") if line.startswith("| ") and not line.startswith("| method")}
labels = {"croma": "CroMA", "oracle": "Oracle (within target modality)"}
for method, label in labels.items():
    e = json.load(open(f"{out}/runs/{method}-seed1/eval.json"))
    row = rows[label]
    by_k = {r["shots"]: r for r in e["results"]}
    assert sorted(by_k) == [1, 5], by_k.keys()
    assert row[0] == f"{e['target_samples_used']} ({e['target_labels_used']})", row
    for i, k in enumerate([1, 5]):
        r = by_k[k]
        assert row[1 + i] == f"{100 * r['accuracy_mean']:.1f} ± {100 * r['accuracy_std']:.1f}", (row, r)
        assert row[3 + i] == f"{100 * r['initial_accuracy_mean']:.1f} ± {100 * r['initial_accuracy_std']:.1f}", (row, r)
        assert row[5 + i] == f"{100 * (r['accuracy_mean'] - r['initial_accuracy_mean']):+.1f}", (row, r)
    cfg = json.load(open(f"{out}/runs/{method}-seed1/config.json"))
    assert cfg["meta"]["pairs"] == "weak" and cfg["meta"]["steps"] == 5, cfg["meta"]
    assert e["tasks"] == 24 and e["queries"] == 6 and e["repeats"] == 1, e
assert e["target_labels_used"] > 0  # the oracle reads target labels
# The paper's "Unimodal pre-training" row is CroMA's untrained start, reading no target item.
pre = rows["Unimodal pre-training (untrained start)"]
e = json.load(open(f"{out}/runs/croma-seed1/eval.json"))
assert pre[0] == "0 (0)", pre
for i, r in enumerate(sorted(e["results"], key=lambda r: r["shots"])):
    assert pre[1 + i] == f"{100 * r['initial_accuracy_mean']:.1f} ± {100 * r['initial_accuracy_std']:.1f}", (pre, r)
EOF

# A rerun skips finished cells: no training, eval.json untouched.
before=$(stat -c %Y "$work/weak/runs/croma-seed1/eval.json" 2>/dev/null)
sleep 1
METHODS="croma oracle" REPEATS=1 bash "$script" "$data" "$work/weak" weak 1 5 > /dev/null 2> "$work/rerun.err"
if grep -q "croma seed 1" "$work/rerun.err" || [ "$(stat -c %Y "$work/weak/runs/croma-seed1/eval.json" 2>/dev/null)" != "$before" ]; then
  fail "rerun trained again: $(cat "$work/rerun.err")"
else
  ok
fi

# Bad arguments: one line, non-zero.
if bash "$script" "$data" "$work/x" medium > /dev/null 2> "$work/bad.err"; then
  fail "pairs 'medium' accepted"
elif ! grep -q "pairs must be strong or weak" "$work/bad.err"; then
  fail "pairs 'medium': $(cat "$work/bad.err")"
else
  ok
fi

echo "benchmark_comparison_test: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
