#!/usr/bin/env bash
# A whole tuning search at a tiny size, with the local launcher (jobs/sweep.py run): 2 methods,
# 3 configurations, 1 trial seed, 2 fresh seeds. Checks that selection is the best mean meta-val
# accuracy (computed here from eval-val.json), that the search stage never evaluates meta-test,
# that the final runs train the selected configuration, that eval.json's 95 % interval and the
# paired CroMA-minus-baseline interval equal direct computations, and that a rerun runs nothing.
# usage: search_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }

# --print-hparams: JSON, defaults as resolved from the command line, nothing written.
out=$("$croma" train --method align-meta-classify --inner-lr 0.002 --run-dir "$work/nothing" --print-hparams) \
  || fail "--print-hparams exited non-zero"
[ ! -e "$work/nothing" ] || fail "--print-hparams wrote a run directory"
"$py" - "$out" <<'PY' || fail "--print-hparams output"
import json, sys
j = json.loads(sys.argv[1])
assert j["method"] == "align-meta-classify", j
h = {e["name"]: e for e in j["hyperparameters"]}
assert h["inner-lr"]["default"] == 0.002 and h["inner-lr"]["paper"] == 0.001, h["inner-lr"]
assert h["inner-lr"]["distribution"] == {"kind": "log-uniform", "low": 0.0001, "high": 0.03}, h["inner-lr"]
assert "first-phase-fraction" in h and "margin" in h and "meta-lr" in h, sorted(h)
PY

cat >"$work/spec.json" <<EOF
{"name": "tiny", "root": "root", "croma": "$croma",
 "train": {"steps": 6, "concepts": 20, "samples-per-concept": 24, "latent-dim": 6, "nuisance-dim": 4,
           "source-dim": 24, "target-dim": 16, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16,
           "ways": 4, "shots": 3, "val-every": 0, "checkpoint-every": 0, "quiet": true,
           "eval-ways": 4, "eval-shots": "1,3", "eval-queries": 4},
 "eval": {"eval-ways": 4, "eval-shots": "1,3", "eval-tasks": 12, "eval-queries": 4, "eval-steps": 3},
 "search": {"methods": ["croma", "align-meta-classify"], "configurations": 3, "trial_seeds": [1],
            "final_seeds": [2, 3], "draw_seed": 5, "val_eval": {"eval-tasks": 10}}}
EOF
# The widths are fixed by "train", so they are not searched: the other options are.
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 2 >"$work/run.out" 2>"$work/run.err" \
  || fail "sweep.py run: $(tail -n 20 "$work/run.err")"
"$py" "$here/jobs/sweep.py" aggregate "$work/spec.json" >"$work/agg.out" 2>"$work/agg.err" \
  || fail "sweep.py aggregate: $(tail -n 20 "$work/agg.err")"

"$py" - "$work/root" <<'PY' || fail "search results"
import glob, json, math, os, sys
from scipy.stats import t
root = sys.argv[1]
search_runs = sorted(glob.glob(f"{root}/search/runs/*"))
assert len(search_runs) == 6, search_runs
# The search stage evaluated meta-val only.
for r in search_runs:
    assert os.path.exists(f"{r}/eval-val.json") and not os.path.exists(f"{r}/eval.json"), r
    ev = json.load(open(f"{r}/eval-val.json"))
    assert ev["split"] == "meta-val" and ev["untrained_start"] is False, r
    assert all("initial" not in x and "initial_accuracy_mean" not in x for x in ev["results"]), r
sel = json.load(open(f"{root}/selection.json"))
for method in ("croma", "align-meta-classify"):
    scores = {}
    for r in glob.glob(f"{root}/search/runs/method={method},config=*"):
        ev = json.load(open(f"{r}/eval-val.json"))
        config = int(r.split("config=")[1].split(",")[0])
        scores[config] = sum(x["accuracy_mean"] for x in ev["results"]) / len(ev["results"])
    best = max(scores, key=lambda c: (scores[c], -c))
    s = sel[f"method={method}"]
    assert s["config"] == best, (method, s["config"], scores)
    assert abs(s["val_accuracy"] - scores[best]) < 1e-12
    # The final runs trained the selected configuration, with the fresh seeds.
    for seed in (2, 3):
        run = f"{root}/final/runs/method={method},seed={seed}"
        cfg = json.load(open(f"{run}/config.json"))
        assert cfg["seed"] == seed
        assert cfg["meta"]["inner_lr"] == s["hparams"]["inner-lr"], (cfg["meta"]["inner_lr"], s["hparams"])
        assert cfg["model"]["hidden"] == 32 and "hidden" not in s["hparams"], s["hparams"]
        assert cfg["meta"]["inner_steps"] == s["hparams"]["inner-steps"]
        ev = json.load(open(f"{run}/eval.json"))
        assert ev["split"] == "meta-test" and ev["episodes"] == 12, ev["episodes"]
        for res in ev["results"]:
            acc = [a for seed_ in res["trained"]["seeds"] for a in seed_["task_accuracy"]]
            assert res["episodes"] == len(acc) == 12
            m = sum(acc) / len(acc)
            sd = math.sqrt(sum((a - m) ** 2 for a in acc) / (len(acc) - 1))
            assert abs(res["accuracy_ci95"] - t.ppf(0.975, len(acc) - 1) * sd / math.sqrt(len(acc))) < 1e-9, res
            init = [a for seed_ in res["initial"]["seeds"] for a in seed_["task_accuracy"]]
            d = [a - b for a, b in zip(acc, init)]
            assert abs(res["gain_mean"] - sum(d) / len(d)) < 1e-12
# The paired interval of CroMA minus the baseline, recomputed from the episodes.
results = json.load(open(f"{root}/results.json"))
pair = results["paired_vs_croma"]["method=align-meta-classify"]
for key, p in pair.items():
    k = int(key.split("|")[0])
    diffs = []
    for seed in (2, 3):
        def episodes(m):
            ev = json.load(open(f"{root}/final/runs/method={m},seed={seed}/eval.json"))
            res = [r for r in ev["results"] if r["shots"] == k][0]
            return [a for s_ in res["trained"]["seeds"] for a in s_["task_accuracy"]]
        a, b = episodes("croma"), episodes("align-meta-classify")
        diffs.append(sum(x - y for x, y in zip(a, b)) / len(a))
    m = sum(diffs) / 2
    sd = math.sqrt(sum((x - m) ** 2 for x in diffs))
    assert abs(p["mean"] - m) < 1e-12 and abs(p["ci95"] - t.ppf(0.975, 1) * sd / math.sqrt(2)) < 1e-9, (p, diffs)
table = open(f"{root}/table2.md").read()
assert "| croma |" in table and "| align-meta-classify |" in table and "untrained start" in table, table
assert "no meta-test number was read to select" in table
assert os.path.exists(f"{root}/selected.md")
# Each method's gain over its own untrained start: the seeds' paired gains, averaged.
for method in ("croma", "align-meta-classify"):
    for key, cell in results["rows"][f"method={method}"]["cells"].items():
        k = int(key.split("|")[0])
        gains = []
        for seed in (2, 3):
            ev = json.load(open(f"{root}/final/runs/method={method},seed={seed}/eval.json"))
            gains.append([r for r in ev["results"] if r["shots"] == k][0]["gain_mean"])
        assert abs(cell["gain_mean"] - sum(gains) / 2) < 1e-12, (method, key, cell, gains)
gains_md = open(f"{root}/gains.md").read()
assert "| method=croma | " in gains_md and "gain 1-shot" in gains_md, gains_md
assert results["compute"]["search_cells_timed"] == 6 and results["compute"]["final_cells_timed"] == 4
PY

# A rerun finds everything done and runs nothing.
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 2 >"$work/rerun.out" 2>"$work/rerun.err" \
  || fail "rerun: $(tail -n 5 "$work/rerun.err")"
grep -q "running 0 with" "$work/rerun.err" || fail "a rerun ran cells again: $(cat "$work/rerun.err")"
echo "search_test: ok"
