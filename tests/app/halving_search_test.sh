#!/usr/bin/env bash
# A successive-halving search end to end at a tiny size, with the local launcher: 2 methods,
# 5 configurations, 3 rungs (1 seed × 6 meta-val episodes, 2 × 10, 3 × 14; keep 2, so 5 -> 3
# -> 2 configurations). Checks each promotion and the selection against an independent
# computation from the cells' eval-val.json, that a rung's cell repeating an earlier rung's
# training reuses it (the same final checkpoint, byte for byte, and no training time), that the
# final runs train the selection, and that a rerun runs nothing.
# usage: halving_search_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }

cat >"$work/spec.json" <<EOF
{"name": "tiny-sh", "root": "root", "croma": "$croma",
 "train": {"steps": 6, "concepts": 20, "samples-per-concept": 24, "latent-dim": 6, "nuisance-dim": 4,
           "source-dim": 24, "target-dim": 16, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16,
           "ways": 4, "shots": 3, "val-every": 0, "checkpoint-every": 0, "quiet": true,
           "eval-ways": 4, "eval-shots": "1,3", "eval-queries": 4},
 "eval": {"eval-ways": 4, "eval-shots": "1,3", "eval-tasks": 12, "eval-queries": 4, "eval-steps": 3},
 "search": {"methods": ["croma", "oracle"], "configurations": 5, "final_seeds": [7, 8], "draw_seed": 5,
            "halving": {"keep": 2, "rungs": [{"seeds": [1], "val_eval": {"eval-tasks": 6}},
                                             {"seeds": [1, 2], "val_eval": {"eval-tasks": 10}},
                                             {"seeds": [1, 2, 3], "val_eval": {"eval-tasks": 14}}]}}}
EOF
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 2 >"$work/run.out" 2>"$work/run.err" \
  || fail "sweep.py run: $(tail -n 20 "$work/run.err")"
"$py" "$here/jobs/sweep.py" aggregate "$work/spec.json" >"$work/agg.out" 2>"$work/agg.err" \
  || fail "sweep.py aggregate: $(tail -n 20 "$work/agg.err")"

"$py" - "$work/root" <<'PY' || fail "halving results"
import filecmp, glob, json, math, os, re, sys
root = sys.argv[1]
stages = ["search", "search-rung1", "search-rung2"]
tasks = [6, 10, 14]
seeds = [[1], [1, 2], [1, 2, 3]]

def score(run):
    ev = json.load(open(f"{run}/eval-val.json"))
    assert ev["split"] == "meta-val", run
    return sum(x["accuracy_mean"] for x in ev["results"]) / len(ev["results"]), ev["episodes"]

promotions = json.load(open(f"{root}/promotions.json"))
selection = json.load(open(f"{root}/selection.json"))
for method in ("croma", "oracle"):
    configs = list(range(5))
    for rung, stage in enumerate(stages):
        runs = sorted(glob.glob(f"{root}/{stage}/runs/method={method},config=*"))
        found = sorted({int(r.split("config=")[1].split(",")[0]) for r in runs})
        assert found == configs, (method, rung, found, configs)
        assert len(runs) == len(configs) * len(seeds[rung]), (method, rung, runs)
        means = {}
        for c in configs:
            values = []
            for s in seeds[rung]:
                value, episodes = score(f"{root}/{stage}/runs/method={method},config={c:02d},seed={s}")
                assert episodes == tasks[rung], (stage, episodes)
                values.append(value)
            means[c] = sum(values) / len(values)
        ranked = sorted(configs, key=lambda c: (-means[c], c))
        if rung + 1 < len(stages):
            keep = sorted(ranked[:math.ceil(len(configs) / 2)])
            assert promotions[f"rung{rung + 1}"][f"method={method}"] == keep, (method, rung, keep, promotions)
            configs = keep
        else:
            sel = selection[f"method={method}"]
            assert sel["config"] == ranked[0] and sel["rung"] == 2, (method, sel["config"], means)
            assert abs(sel["val_accuracy"] - means[ranked[0]]) < 1e-12
    assert len(configs) == 2, configs
    # A cell that repeats an earlier rung's training (same configuration and seed) reused it:
    # the same final checkpoint, and no training time of its own to speak of.
    for rung in (1, 2):
        for run in glob.glob(f"{root}/{stages[rung]}/runs/method={method},config=*,seed=1"):
            name = os.path.basename(run)
            first = f"{root}/search/runs/{name}"
            assert filecmp.cmp(f"{first}/checkpoints/final.h5", f"{run}/checkpoints/final.h5", shallow=False), run
            assert re.search(r"is complete \(meta-step \d+\); nothing to do", open(f"{run}/job.log").read()), run
    # The final runs trained the selection with the fresh seeds.
    sel = selection[f"method={method}"]
    for seed in (7, 8):
        cfg = json.load(open(f"{root}/final/runs/method={method},seed={seed}/config.json"))
        assert cfg["seed"] == seed and cfg["meta"]["inner_lr"] == sel["hparams"]["inner-lr"], (cfg["meta"], sel)
results = json.load(open(f"{root}/results.json"))
assert set(results["compute"]["cpu_hours_by_method"]) == {"croma", "oracle"}, results["compute"]
assert results["compute"]["search_cells_timed"] == 2 * (5 * 1 + 3 * 2 + 2 * 3), results["compute"]
selected = open(f"{root}/selected.md").read()
assert "| rung reached | meta-val % per rung |" in selected, selected
PY

# A rerun finds every rung and the final stage done and runs nothing.
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 2 >"$work/rerun.out" 2>"$work/rerun.err" \
  || fail "rerun: $(tail -n 5 "$work/rerun.err")"
[ "$(grep -c "running 0 with" "$work/rerun.err")" = 4 ] || fail "a rerun ran cells again: $(cat "$work/rerun.err")"
echo "halving_search_test: ok"
