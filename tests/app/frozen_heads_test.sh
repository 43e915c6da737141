#!/usr/bin/env bash
# croma eval --head: the frozen heads (eval/frozen_heads.h) against independent implementations,
# on the fine-tuning's own episodes (--export-episodes writes them with the features read):
#  - prototype equals a NumPy nearest-centroid, episode by episode, exactly;
#  - logistic is within 1 point of scikit-learn's LogisticRegression (C = 1, multinomial) in
#    mean accuracy over 100 episodes, on the trained and untrained embeddings and the raw
#    standardised features;
#  - adding the frozen heads leaves the fine-tuning results unchanged, and the exported
#    fine-tuning accuracies are eval.json's;
#  - --head-features picks the representations, and the ones it keeps are unchanged;
#  - a bad --head or --head-features is refused (exit 2, nothing written).
# usage: frozen_heads_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
source "$(dirname "$0")/harness.sh"
py=/usr/bin/python3

small=(--concepts 24 --samples-per-concept 30 --latent-dim 6 --nuisance-dim 4 --source-dim 24
       --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --ways 5 --shots 3
       --eval-ways 5 --eval-shots 1,5 --eval-queries 6 --eval-steps 10 --quiet --val-every 0 --steps 200)
"$croma" train --run-dir "$work/run" "${small[@]}" >/dev/null 2>"$work/train.err" ||
  { echo "FAIL: training: $(tail -n 3 "$work/train.err")"; exit 1; }
"$croma" eval --run-dir "$work/run" --eval-tasks 100 >"$work/plain.out" 2>/dev/null || fail "eval without heads"
cp "$work/run/eval.json" "$work/plain.json"
"$croma" eval --run-dir "$work/run" --eval-tasks 100 --head finetune,prototype,logistic \
  --export-episodes "$work/episodes.json" >"$work/heads.out" 2>"$work/heads.err" || fail "eval with heads: $(cat "$work/heads.err")"
grep -q "prototype, 5-shot, label noise 0: trained" "$work/heads.err" && ok || fail "no frozen-head line: $(cat "$work/heads.err")"

"$py" - "$work/plain.json" "$work/run/eval.json" "$work/episodes.json" <<'PY' && ok || fail "frozen heads against NumPy and scikit-learn"
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
plain, heads, ex = (json.load(open(p)) for p in sys.argv[1:4])
assert heads["results"] == plain["results"], "the frozen heads changed the fine-tuning results"
ways = ex["ways"]
features = {k: np.asarray(v, dtype=np.float64) for k, v in ex["features"].items()}
assert set(features) == {"trained", "initial", "raw"}, sorted(features)
assert features["raw"].shape[1] == 16 and features["trained"].shape[1] == 16
cells = {(c["head"], c["shots"]): c for c in heads["frozen_heads"]}
assert sorted(cells) == [("logistic", 1), ("logistic", 5), ("prototype", 1), ("prototype", 5)], sorted(cells)
for cell in ex["cells"].values():
    k, tasks, acc = cell["shots"], cell["tasks"], cell["accuracy"]
    assert len(tasks) == 100
    ft = [r for r in heads["results"] if r["shots"] == k][0]
    assert acc["finetune/trained"] == ft["trained"]["seeds"][0]["task_accuracy"], "exported fine-tuning accuracies"
    for rep, x in features.items():
        proto, logit, ref_logit = [], [], []
        for t in tasks:
            xs, ys = x[t["support_items"]], np.asarray(t["support_labels"])
            xq, yq = x[t["query_items"]], np.asarray(t["query_labels"])
            cent = np.stack([xs[ys == c].mean(0) for c in range(ways)])
            pred = ((xq[:, None, :] - cent[None, :, :]) ** 2).sum(2).argmin(1)
            proto.append(float((pred == yq).mean()))
            clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(xs, ys)
            ref_logit.append(float((clf.predict(xq) == yq).mean()))
        assert proto == acc[f"prototype/{rep}"], (k, rep, "prototype differs from NumPy", np.mean(proto), np.mean(acc[f"prototype/{rep}"]))
        ours = np.mean(acc[f"logistic/{rep}"])
        assert abs(ours - np.mean(ref_logit)) <= 0.01, (k, rep, ours, np.mean(ref_logit))
        assert abs(cells[("prototype", k)][rep]["accuracy_mean"] - np.mean(proto)) < 1e-12
        print(f"{k}-shot {rep}: prototype {100*np.mean(proto):.1f} %, logistic {100*ours:.1f} % (scikit-learn {100*np.mean(ref_logit):.1f} %)")
PY

# --head-features raw: the raw-features rows alone, equal to the full run's (the same episodes).
cp "$work/run/eval.json" "$work/all-features.json"
"$croma" eval --run-dir "$work/run" --eval-tasks 100 --head prototype,logistic --head-features raw \
  >/dev/null 2>"$work/raw.err" || fail "eval --head-features raw: $(cat "$work/raw.err")"
"$py" - "$work/all-features.json" "$work/run/eval.json" <<'PY' && ok || fail "--head-features raw"
import json, sys
full, raw = (json.load(open(p)) for p in sys.argv[1:])
cells = {(c["head"], c["shots"]): c for c in full["frozen_heads"]}
assert len(raw["frozen_heads"]) == 4, raw["frozen_heads"]
for c in raw["frozen_heads"]:
    assert set(c) - {"head", "shots", "label_noise"} == {"raw"}, sorted(c)
    assert c["raw"]["seeds"] == cells[(c["head"], c["shots"])]["raw"]["seeds"], c["head"]
PY
cp "$work/all-features.json" "$work/run/eval.json"
expect_error "invalid value for --head-features: 'trained,pixels' (a list of trained, initial, raw)" \
  eval --run-dir "$work/run" --head prototype --head-features trained,pixels
expect_error "invalid value for --head: 'finetune,knn' (a list of finetune, prototype, logistic)" \
  eval --run-dir "$work/run" --head finetune,knn
"$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert "frozen_heads" in j' "$work/run/eval.json" && ok ||
  fail "a refused --head rewrote eval.json"

echo "frozen_heads: $passed passed, $failures failed"
[ $failures -eq 0 ]
