#!/usr/bin/env bash
# Issue 13 through the command line: a strong pair across classes is refused by the importer,
# `croma inspect`, `croma train` and `croma eval`; shard features are standardised with
# statistics of the meta-train items only, stored in the run and used by eval; a 10-class
# dataset without meta-val classes trains and validates on held-out items of its meta-train
# classes, which meta-training never reads; `--val-every 0` does not check validation.
# usage: data_path_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
importer="$here/../../data_prep/import_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"

# --- raw inputs: 10 classes x 40 items; log-mel-like target features with offsets in the tens ---
"$py" - "$work" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import sys, numpy as np
w = sys.argv[1]; r = np.random.default_rng(5)
classes = [f"c{k:02d}" for k in range(10)]
n = 10 * 40
lab = np.repeat(np.arange(10), 40)
centres = r.normal(size=(10, 6))
src = centres[lab] @ r.normal(size=(6, 20)) + 0.3 * r.normal(size=(n, 20))
tgt = 30 + 8 * (centres[lab] @ r.normal(size=(6, 12)) + 0.3 * r.normal(size=(n, 12)))
tgt[:, 5] = 42.0  # a constant band
def save(name, x, ids):
    np.savez(f"{w}/{name}.npz", features=x.astype(np.float32), labels=np.array([classes[k] for k in lab]),
             ids=np.array([f"{ids}{i}" for i in range(n)]))
save("text", src, "txt"); save("audio", tgt, "aud")
save("text14", src[:, :14], "txt")
# The same items with every meta-train item (classes 0-4) shifted: only the statistics would change.
shift = (lab < 5)[:, None]
save("text_shifted", src + 5.0 * shift, "txt"); save("audio_shifted", tgt + 50.0 * shift, "aud")
with open(f"{w}/pairs.csv", "w") as f:
    f.write("source,target\n" + "".join(f"txt{i},aud{i}\n" for i in range(n)))
with open(f"{w}/bad_pairs.csv", "w") as f:  # pair 3 joins c00 and c07
    f.write("source,target\n" + "".join(f"txt{i},aud{i if i != 3 else 285}\n" for i in range(n)))
with open(f"{w}/split.csv", "w") as f:  # no val classes
    f.write("class,split\n" + "".join(f"{c},{'train' if k < 5 else 'test'}\n" for k, c in enumerate(classes)))
# Another dataset whose 3 meta-val classes have 3 items each: too few for 2 shots + 4 queries.
keep = (lab < 4) | (lab >= 7) | (np.arange(n) % 40 < 3)
np.savez(f"{w}/small_val_src.npz", features=src[keep].astype(np.float32), labels=np.array([classes[k] for k in lab[keep]]))
np.savez(f"{w}/small_val_tgt.npz", features=tgt[keep].astype(np.float32), labels=np.array([classes[k] for k in lab[keep]]))
with open(f"{w}/small_val_pairs.csv", "w") as f:
    f.write("source,target\n" + "".join(f"{i},{i}\n" for i in range(int(keep.sum()))))
with open(f"{w}/split3.csv", "w") as f:
    f.write("class,split\n" + "".join(f"{c},{'train' if k < 4 else 'val' if k < 7 else 'test'}\n" for k, c in enumerate(classes)))
PY

imp() { "$py" "$importer" "$@" 2>"$work/import.err"; }
common=(--target "$work/audio.npz" --pairs "$work/pairs.csv" --split "$work/split.csv" --source-modality text --target-modality audio)
imp --name noval --out "$work/shards" --source "$work/text.npz" "${common[@]}" \
  && ok || fail "import without val classes failed: $(cat "$work/import.err")"
imp --name noval14 --out "$work/shards14" --source "$work/text14.npz" "${common[@]}" \
  && ok || fail "import (14-d source) failed: $(cat "$work/import.err")"
imp --name frac --out "$work/frac" --source "$work/text.npz" --target "$work/audio.npz" --pairs "$work/pairs.csv" --split-fractions 0.5,0 \
  && ok || fail "import --split-fractions 0.5,0 failed: $(cat "$work/import.err")"
imp --name smallval --out "$work/smallval" --source "$work/small_val_src.npz" --target "$work/small_val_tgt.npz" \
    --pairs "$work/small_val_pairs.csv" --split "$work/split3.csv" && ok || fail "import small-val failed: $(cat "$work/import.err")"

# --- point 4: a pair across classes -----------------------------------------------------------
if imp --name bad --out "$work/bad" --source "$work/text.npz" --target "$work/audio.npz" \
       --pairs "$work/bad_pairs.csv" --split "$work/split.csv"; then
  fail "the importer accepted a pair across classes"
else
  want="--pairs '$work/bad_pairs.csv': strong pair 3 (source item 3 'txt3', target item 285 'aud285') joins class 'c00' and class 'c07'; a strong pair must join two items of one class"
  grep -qF -- "$want" "$work/import.err" && [ "$(wc -l <"$work/import.err")" -eq 1 ] && ok ||
    fail "importer error lacks '$want': $(cat "$work/import.err")"
  [ -e "$work/bad" ] && fail "a refused import left $work/bad" || ok
fi
# The same pair planted in a valid shard (row 3 now points at target row 285, class c07).
mkdir -p "$work/badshards"
cp "$work/shards/noval-00000-of-00001.h5" "$work/badshards/noval-00000-of-00001.h5"
"$py" - "$work/badshards/noval-00000-of-00001.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    assert list(f["pairs"][3]) == [3, 3], f["pairs"][3]
    f["pairs"][3, 1] = 285
PY
badshard="$work/badshards/noval-00000-of-00001.h5"
want="shard '$badshard': dataset '/pairs' row 3 = (3, 285) joins a source item of class 0 ('c00') and a target item of class 7 ('c07'); a strong pair must join two items of one class"
small=(--hidden 16 --embed-dim 8 --classifier-hidden 8 --ways 3 --shots 2 --eval-ways 3
       --eval-shots 2 --eval-tasks 3 --eval-queries 4 --eval-steps 3 --quiet)
expect_error "$want" inspect "$badshard"
expect_error "$want" train --data "$badshard" --run-dir "$work/badrun" --steps 2 "${small[@]}"
[ -e "$work/badrun" ] && fail "a refused train left a run directory" || ok

# --- inspect: no meta-val classes ---------------------------------------------------------------
out=$("$croma" inspect "$work/shards/noval.shards.txt" 2>"$work/inspect.err") || fail "inspect: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "inspect summary without val classes"
import json, sys
s = json.loads(sys.argv[1])
assert s["splits"]["meta-val"]["classes"] == 0 and s["splits"]["meta-train"]["classes"] == 5, s["splits"]
assert s["validation"] == "held-out items of meta-train classes", s
PY
grep -qF "no meta-val classes: croma train validates on held-out target items" "$work/inspect.err" && ok ||
  fail "inspect does not say how validation works: $(cat "$work/inspect.err")"

# --- point 7: train and validate on held-out items, end to end ----------------------------------
train() { "$croma" train --data "$work/shards/noval.shards.txt" --steps 10 --val-every 5 --checkpoint-every 5 "${small[@]}" "$@"; }
train --run-dir "$work/run" >"$work/train.out" 2>"$work/train.err" && ok || fail "train (val on items) failed: $(cat "$work/train.err")"
train --run-dir "$work/oracle" --method oracle >/dev/null 2>"$work/oracle.err" && ok || fail "train --method oracle failed: $(cat "$work/oracle.err")"
train --run-dir "$work/recon" --method unsup-meta-recon >/dev/null 2>"$work/recon.err" && ok || fail "train --method unsup-meta-recon failed: $(cat "$work/recon.err")"
"$py" - "$work" "$(tail -n 1 "$work/train.out")" <<'PY' && ok || fail "held-out validation items: config, statistics or target usage"
import json, sys, h5py, numpy as np
w, summary = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(f"{w}/run/config.json"))
d = c["data"]
assert d["val_split"] == "items" and d["val_items_fraction"] == 0.2 and d["standardize"] == "on", d
held = set(c["val_items"])
with h5py.File(f"{w}/shards/noval-00000-of-00001.h5") as f:
    xs, ys = f["source/features"][()], f["source/labels"][()]
    xt, yt = f["target/features"][()], f["target/labels"][()]
# 8 of each meta-train class's 40 target items (round(0.2 * 40)), nothing of another class.
assert len(held) == 40 and all(yt[i] < 5 for i in held), sorted(held)
for k in range(5):
    assert sum(yt[i] == k for i in held) == 8, k
# Statistics: meta-train items only, held-out target items excluded; population std, floored.
st = c["standardization"]
train_src = xs[ys < 5].astype(np.float64)
train_tgt = xt[[i for i in range(len(yt)) if yt[i] < 5 and i not in held]].astype(np.float64)
assert np.allclose(st["source"]["mean"], train_src.mean(0), rtol=0, atol=1e-9), "source mean"
assert np.allclose(st["source"]["std"], train_src.std(0), rtol=1e-9, atol=0), "source std"
assert np.allclose(st["target"]["mean"], train_tgt.mean(0), rtol=1e-12, atol=1e-9), "target mean"
sd = train_tgt.std(0); sd[5] = 1e-6 * 42.0  # the constant band: the floor
assert np.allclose(st["target"]["std"], sd, rtol=1e-9, atol=0), (st["target"]["std"], sd)
assert st["target"]["kind"] == "vector" and len(st["target"]["mean"]) == 12, st["target"]
# The same record in every checkpoint's config attribute.
with h5py.File(f"{w}/run/checkpoints/final.h5") as f:
    assert json.loads(f.attrs["config"])["standardization"] == st
# Validation ran on the held-out items and selected a model.
assert summary["val_split"] == "items" and 0 <= summary["best_val_accuracy"] <= 1, summary
vals = [json.loads(l) for l in open(f"{w}/run/metrics.jsonl") if "val_accuracy" in l]
assert [v["step"] for v in vals] == [5, 10], vals
# Meta-training (CroMA, the oracle, reconstruction) read no held-out or meta-test target item.
for run in ("run", "oracle", "recon"):
    with h5py.File(f"{w}/{run}/checkpoints/final.h5") as f:
        seen = json.loads(f["train_state"].attrs["bookkeeping"])["target_seen"]
    assert seen, run
    leaked = [i for i in seen if i in held or yt[i] >= 5]
    assert not leaked, (run, leaked[:10])
PY
out=$("$croma" eval --run-dir "$work/run" --split val --checkpoint best 2>"$work/evalval.err") || fail "eval --split val: $(cat "$work/evalval.err")"
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "eval --split val on held-out items"
import json, sys
s = json.loads(sys.argv[1])
assert s["split"] == "meta-val" and s["val_split"] == "items" and s["standardize"] == "on", s
assert 0 <= s["results"][0]["accuracy_mean"] <= 1, s
PY
"$croma" eval --run-dir "$work/run" >/dev/null 2>"$work/evaltest.err" && ok || fail "eval on meta-test: $(cat "$work/evaltest.err")"
expect_error "--retrieval with --split val: this run validates on held-out items" eval --run-dir "$work/run" --split val --retrieval
expect_error "--val-split classes: dataset 'noval' has no meta-val classes" \
  train --data "$work/shards/noval.shards.txt" --run-dir "$work/classes" --val-split classes --steps 2 "${small[@]}"
[ -e "$work/classes" ] && fail "a refused train left a run directory" || ok
# The importer's own split from fractions without meta-val classes trains too.
"$croma" train --data "$work/frac/frac.shards.txt" --run-dir "$work/fracrun" --steps 2 --val-every 1 "${small[@]}" \
  >/dev/null 2>"$work/frac.err" && ok || fail "train on --split-fractions 0.5,0 shards: $(cat "$work/frac.err")"

# --- point 6: eval uses the stored statistics; another width is refused; off is raw ------------
# The run's shards replaced by a dataset with a 14-d source: the stored statistics do not fit.
expect_error "checkpoint '$work/run/checkpoints/final.h5': the run's standardisation statistics of the source modality are for 20 features (vector), but its data holds vectors of 14" \
  eval --run-dir "$work/run" --data "$work/shards14/noval14.shards.txt"
# A pair across classes reaches eval through --data too.
expect_error "$want" eval --run-dir "$work/run" --data "$badshard"
# Eval applies the stored statistics, never a recomputation: the same dataset with every
# meta-train item shifted (meta-test items as they were) evaluates exactly as before, whereas
# statistics recomputed from it would move the meta-test features.
imp --name noval --out "$work/shifted" --source "$work/text_shifted.npz" --target "$work/audio_shifted.npz" \
    --pairs "$work/pairs.csv" --split "$work/split.csv" || fail "import shifted: $(cat "$work/import.err")"
acc() { "$croma" eval --run-dir "$work/run" --eval-repeats 1 --eval-tasks 16 --eval-steps 10 "$@" 2>>"$work/acc.err" | tail -n 1 |
        "$py" -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["accuracy_mean"], r["initial_accuracy_mean"])'; }
base=$(acc)
shifted=$(acc --data "$work/shifted/noval.shards.txt")
[ -n "$base" ] && [ "$base" = "$shifted" ] && ok ||
  fail "eval on shifted meta-train items changed the meta-test accuracy ($base vs $shifted): $(cat "$work/acc.err")"
# The checkpoint's own record wins over config.json's (the parameters were trained under it).
"$py" - "$work/run/config.json" <<'PY'
import sys, json
c = json.load(open(sys.argv[1]))
c["standardization"]["target"]["std"] = [s * 100 for s in c["standardization"]["target"]["std"]]
json.dump(c, open(sys.argv[1], "w"))
PY
[ "$(acc)" = "$base" ] && ok || fail "eval used config.json's statistics instead of the checkpoint's"
train --run-dir "$work/raw" --standardize off >/dev/null 2>"$work/raw.err" && ok || fail "train --standardize off: $(cat "$work/raw.err")"
"$py" - "$work/raw/config.json" <<'PY' && ok || fail "--standardize off recorded"
import sys, json
c = json.load(open(sys.argv[1]))
assert c["data"]["standardize"] == "off" and "standardization" not in c, c["data"]
PY

# --- --val-every 0 does not check validation's constraints -----------------------------------
expect_error "--eval-shots 2 plus --eval-queries 4 exceeds the smallest meta-val class, which has 3 target items" \
  train --data "$work/smallval/smallval.shards.txt" --run-dir "$work/sv" --steps 2 --val-every 1 "${small[@]}"
"$croma" train --data "$work/smallval/smallval.shards.txt" --run-dir "$work/sv0" --steps 2 --val-every 0 "${small[@]}" \
  >/dev/null 2>"$work/sv0.err" && ok || fail "--val-every 0 still checks validation: $(cat "$work/sv0.err")"

# --- --class-split-seed: the shards' classes drawn again, recorded, read back by eval ---------
for cs in 0 5 6; do
  train --run-dir "$work/cs$cs" --method oracle --class-split-seed $cs >/dev/null 2>"$work/cs.err" ||
    fail "train --class-split-seed $cs: $(cat "$work/cs.err")"
  "$croma" eval --run-dir "$work/cs$cs" --eval-tasks 3 >/dev/null 2>"$work/cs.err" || fail "eval of --class-split-seed $cs: $(cat "$work/cs.err")"
done
"$py" - "$work" <<'PY' && ok || fail "--class-split-seed: recorded, redrawn with the same sizes, meta-test classes never trained on"
import json, sys, h5py
w = sys.argv[1]
with h5py.File(f"{w}/shards/noval-00000-of-00001.h5") as f:
    yt = f["target/labels"][()]
tests = {}
for cs in (0, 5, 6):
    c = json.load(open(f"{w}/cs{cs}/config.json"))
    assert c["data"].get("class_split_seed", 0) == cs, c["data"]
    assert ("class_split_seed" in c["data"]) == (cs != 0), c["data"]  # 0: nothing new recorded
    e = json.load(open(f"{w}/cs{cs}/eval.json"))
    assert e["class_split_seed"] == cs, e["class_split_seed"]
    tests[cs] = e["classes"]
    assert len(e["classes"]) == 5 and len(set(e["classes"])) == 5 and set(e["classes"]) <= set(range(10)), e["classes"]
    with h5py.File(f"{w}/cs{cs}/checkpoints/final.h5") as f:
        seen = json.loads(f["train_state"].attrs["bookkeeping"])["target_seen"]
    assert seen and not [i for i in seen if yt[i] in e["classes"]], (cs, "the oracle read a meta-test item")
assert tests[0] == [5, 6, 7, 8, 9], tests[0]  # the file's own split
assert tests[5] != tests[0] or tests[6] != tests[0], tests  # a seed that is ignored gives the file's split
assert tests[5] != tests[6], tests
PY
expect_error "--class-split-seed: the built-in world already draws its class split from --seed" \
  train --run-dir "$work/cs_world" --class-split-seed 2 --steps 2 "${small[@]}"
[ -e "$work/cs_world" ] && fail "a refused --class-split-seed left a run directory" || ok

echo "data_path: $passed passed, $failures failed"
[ $failures -eq 0 ]
