#!/usr/bin/env bash
# Feature shards end to end: data_prep/import_features.py turns tiny self-made .npy / .npz /
# CSV features into shards; `croma inspect` summarises them; `croma train --data` and
# `croma eval` run on them; and every kind of bad shard gets one error line naming the file
# and the HDF5 object, a non-zero exit, and no run directory.
# usage: shards_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=$2
here=$(cd "$(dirname "$0")" && pwd)
importer="$here/../../data_prep/import_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"

# --- raw inputs in the formats users bring: .npz (text), CSV (images), CSV pairs / split ---
# 12 classes, 14 items per class and modality; target item i is the strong partner of source i.
"$py" - "$work" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import sys, numpy as np
w = sys.argv[1]; r = np.random.default_rng(3)
classes = [f"animal{k:02d}" for k in range(12)]
n = 12 * 14
lab = np.repeat(np.arange(12), 14)
centres = r.normal(size=(12, 6))
src = centres[lab] @ r.normal(size=(6, 20)) + 0.3 * r.normal(size=(n, 20))
tgt = centres[lab] @ r.normal(size=(6, 10)) + 0.3 * r.normal(size=(n, 10))
np.savez(f"{w}/text.npz", features=src.astype(np.float32), labels=np.array([classes[k] for k in lab]),
         ids=np.array([f"txt{i}" for i in range(n)]))
np.save(f"{w}/image.npy", tgt)  # float64 on purpose: the importer converts
with open(f"{w}/image_labels.txt", "w") as f:
    f.write("".join(classes[k] + "\n" for k in lab))
with open(f"{w}/image.csv", "w") as f:
    f.write("id,label," + ",".join(f"f{j}" for j in range(10)) + "\n")
    for i in range(n):
        f.write(f"img{i},{classes[lab[i]]}," + ",".join(f"{v:.6f}" for v in tgt[i]) + "\n")
with open(f"{w}/pairs.csv", "w") as f:
    f.write("source,target\n" + "".join(f"txt{i},img{i}\n" for i in range(0, n, 2)))
with open(f"{w}/split.csv", "w") as f:
    f.write("class,split\n")
    for k, c in enumerate(classes):
        f.write(f"{c},{'train' if k < 6 else 'val' if k < 9 else 'test'}\n")
PY

imp() { "$py" "$importer" "$@" 2>"$work/import.err"; }
imp --name toy --out "$work/shards" --source "$work/text.npz" --target "$work/image.csv" \
    --pairs "$work/pairs.csv" --split "$work/split.csv" --shards 2 \
    --source-modality text --target-modality image \
  && ok || fail "import (npz + csv) failed: $(cat "$work/import.err")"
cp -r "$work/shards" "$work/first"
imp --name toy --out "$work/shards" --source "$work/text.npz" --target "$work/image.csv" \
    --pairs "$work/pairs.csv" --split "$work/split.csv" --shards 2 \
    --source-modality text --target-modality image \
  && ok || fail "second import failed: $(cat "$work/import.err")"
# Deterministic: the same inputs give byte-identical shards.
for f in toy-00000-of-00002.h5 toy-00001-of-00002.h5; do
  cmp -s "$work/shards/$f" "$work/first/$f" && ok || fail "$f differs between two identical imports"
done
imp --name npy --out "$work/npy" --source "$work/text.npz" --target "$work/image.npy" \
    --target-labels "$work/image_labels.txt" --split-fractions 0.5,0.25 --seed 4 \
  && ok || fail "import (npy + labels) failed: $(cat "$work/import.err")"

# Importer errors: one line, exit 1, no shards written.
"$py" - "$work" <<'PY'
import sys, numpy as np
w = sys.argv[1]
x = np.load(f"{w}/text.npz"); f = x["features"].copy(); f[5, 2] = np.nan
np.savez(f"{w}/nan.npz", features=f, labels=x["labels"])
np.savez(f"{w}/short.npz", features=x["features"], labels=x["labels"][:-1])
PY
expect_import_error() {
  local want=$1; shift
  if imp "$@"; then fail "import $* succeeded"; return; fi
  grep -qF -- "$want" "$work/import.err" && ok || fail "import $*: stderr lacks '$want': $(cat "$work/import.err")"
}
expect_import_error "features hold NaN or Inf (row 5)" --name bad --out "$work/bad" --source "$work/nan.npz" --target "$work/image.csv"
expect_import_error "167 labels for 168 feature rows" --name bad --out "$work/bad" --source "$work/short.npz" --target "$work/image.csv"
[ -e "$work/bad" ] && fail "a failed import left $work/bad" || ok

# --- inspect --------------------------------------------------------------------------------
out=$("$croma" inspect "$work/shards/toy.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/shards/toy.manifest.json" <<'PY' && ok || fail "inspect summary check"
import json, sys
s = json.loads(sys.argv[1]); m = json.load(open(sys.argv[2]))
assert s["command"] == "inspect" and s["valid"] and s["dataset"] == "toy", s
assert s["classes"] == 12 and s["pairs"] == 84 and len(s["shards"]) == 2, s
assert s["source"] == {"modality": "text", "feature": "imported", "items": 168, "dim": 20}, s["source"]
assert s["target"]["items"] == 168 and s["target"]["dim"] == 10, s["target"]
sp = s["splits"]
assert (sp["meta-train"]["classes"], sp["meta-val"]["classes"], sp["meta-test"]["classes"]) == (6, 3, 3), sp
assert sp["meta-train"]["source_items"] == 84 and sp["meta-test"]["target_items"] == 42, sp
assert sp["meta-train"]["pairs"] == 42 and sp["meta-test"]["min_target_items_per_class"] == 14, sp
# classes k go to shard k % 2: both shards hold 6 classes
assert [x["source_items"] for x in s["shards"]] == [84, 84], s["shards"]
assert s["provenance"]["prep"] == "data_prep/import_features.py", s
assert m["pairs"] == 84 and len(m["files"]) == 2 and all(len(f["sha256"]) == 64 for f in m["files"]), m
PY

# --- advise from shards: counts taken from the meta-train items, the rest estimated -------------
out=$("$croma" advise --shards "$work/shards/toy.shards.txt" --n2 30 --sigma2 2 2>"$work/advise.err") ||
  fail "advise --shards failed: $(cat "$work/advise.err")"
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "advise --shards summary check"
import json, sys
a = json.loads(sys.argv[1])
assert a["estimated_from"].endswith("toy.shards.txt"), a
assert a["n1"] == 84 and a["n_align"] == 42 and a["n2"] == 30 and a["sigma2"] == 2, a
assert 1 <= a["d"] <= 10 and a["sigma_w2"] > 0 and a["condition"] >= 1, a
assert a["decision"] in ("align", "supervised"), a
PY
expect_error "invalid value for --variance-kept" advise --shards "$work/shards/toy.shards.txt" --variance-kept 1.5
echo "not hdf5" >"$work/not.h5"
expect_error "is not an HDF5 file" advise --shards "$work/not.h5"

# --- train and eval on shards ----------------------------------------------------------------
small=(--hidden 16 --embed-dim 8 --classifier-hidden 8 --ways 3 --shots 2 --eval-ways 3
       --eval-shots 2 --eval-tasks 3 --eval-queries 4 --eval-steps 3 --val-every 5 --quiet)
(cd "$work/shards" && "$croma" train --data toy.shards.txt --run-dir "$work/run" --steps 5 "${small[@]}") \
  >"$work/train.out" 2>"$work/train.err" && ok || fail "train --data failed: $(cat "$work/train.err")"
"$py" - "$work/run/config.json" "$work/shards" <<'PY' && ok || fail "config.json lacks the shard files"
import json, sys, os
c = json.load(open(sys.argv[1]))
assert c["data"]["source"] == "feature-shards", c["data"]
assert c["data"]["files"] == [os.path.join(sys.argv[2], f"toy-0000{i}-of-00002.h5") for i in range(2)], c["data"]
PY
out=$("$croma" eval --run-dir "$work/run" 2>"$work/eval.err") || fail "eval on shards failed: $(cat "$work/eval.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/run/eval.json" <<'PY' && ok || fail "eval summary check"
import json, sys
s = json.loads(sys.argv[1])
assert s["command"] == "eval" and s["split"] == "meta-test" and s["ways"] == 3, s
assert 0 <= s["results"][0]["accuracy_mean"] <= 1, s
full = json.load(open(sys.argv[2]))
assert len(full["results"][0]["trained"]["seeds"][0]["task_accuracy"]) == 3, full
PY
# Shards moved since training: eval names the missing file, and --data points it at them.
cp "$work/run/eval.json" "$work/eval_before_move.json"
mv "$work/shards" "$work/moved"
expect_error "no such file" eval --run-dir "$work/run"
out=$("$croma" eval --run-dir "$work/run" --data "$work/moved/toy.shards.txt" 2>"$work/eval_moved.err") &&
  [ "$(tail -n 1 <<<"$out" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["accuracy_mean"])')" = \
    "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["accuracy_mean"])' "$work/eval_before_move.json")" ] &&
  ok || fail "eval --data on moved shards: $(cat "$work/eval_moved.err")"
mv "$work/moved" "$work/shards"
"$croma" train --run-dir "$work/builtin" --steps 2 --quiet >/dev/null 2>&1
expect_error "was trained on the built-in concept world" eval --run-dir "$work/builtin" --data "$work/shards/toy.shards.txt"
# Two ranks under mpirun: each reads every shard and they train the same model.
out=$("$mpirun" --oversubscribe -np 2 "$croma" train --data "$work/shards/toy.shards.txt" --run-dir "$work/run2" \
      --steps 4 --check-every 2 "${small[@]}" 2>"$work/train2.err")
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "2-rank train --data: $(cat "$work/train2.err")"
import json, sys
s = json.loads(sys.argv[1])
assert s["world_size"] == 2 and s["steps"] == 4 and s["episodes"] == 4 * 2 * 2, s
PY
expect_error "--eval-ways 4 exceeds the 3 meta-test classes" eval --run-dir "$work/run" --eval-ways 4 --eval-shots 1
# eval finds the shards through config.json: moving them away is reported, naming the file.
cp "$work/run/eval.json" "$work/eval_before_move.json"
mv "$work/shards" "$work/moved"
expect_error "shard '$work/shards/toy-00000-of-00002.h5': no such file" eval --run-dir "$work/run"
mv "$work/moved" "$work/shards"

# --- bad shards ----------------------------------------------------------------------------
# Each case copies shard 0 (or the pair) and breaks one thing with h5py.
good0="$work/shards/toy-00000-of-00002.h5"
good1="$work/shards/toy-00001-of-00002.h5"
mkdir -p "$work/badshards"
breaks() {  # breaks NAME PYTHON-STATEMENTS (f is the open file; np and h5py are imported)
  cp "$good0" "$work/badshards/$1.h5"
  "$py" - "$work/badshards/$1.h5" "$2" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    exec(sys.argv[2])
PY
}
bad_case() {  # bad_case NAME "expected message": inspect and train --data both refuse it
  local f="$work/badshards/$1.h5"
  expect_error "shard '$f': $2" inspect "$f" "$good1"
  expect_error "shard '$f': $2" train --data "$f,$good1" --run-dir "$work/badrun_$1" --steps 1 "${small[@]}"
  [ -e "$work/badrun_$1" ] && fail "bad shard $1 left a run directory" || ok
}

head -c 3000 "$good0" > "$work/badshards/truncated.h5"
bad_case truncated "cannot be opened as HDF5 (truncated or corrupt?)"
echo "id,label" > "$work/badshards/text.h5"
bad_case text "is not an HDF5 file"
breaks missing 'del f["source/labels"]'
bad_case missing "dataset '/source/labels' is missing"
breaks float64 'x = f["target/features"][()]; del f["target/features"]; f["target/features"] = x.astype(np.float64)'
bad_case float64 "dataset '/target/features' must be float32"
breaks float_labels 'x = f["source/labels"][()]; del f["source/labels"]; f["source/labels"] = x.astype(np.float32)'
bad_case float_labels "dataset '/source/labels' must hold integers"
breaks rank1 'x = f["source/features"][()]; del f["source/features"]; f["source/features"] = x.reshape(-1)'
bad_case rank1 "dataset '/source/features' has rank 1, expected 2"
breaks counts 'x = f["target/labels"][()]; del f["target/labels"]; f["target/labels"] = x[:-1]'
bad_case counts "dataset '/target/labels' has 83 entries but /target/features has 84 rows"
breaks nan 'f["source/features"][7, 3] = np.nan'
bad_case nan "dataset '/source/features' holds NaN or Inf (first in row 7)"
breaks inf 'f["target/features"][2, 0] = np.inf'
bad_case inf "dataset '/target/features' holds NaN or Inf (first in row 2)"
breaks label_range 'f["target/labels"][4] = 12'
bad_case label_range "dataset '/target/labels' row 4 holds label 12 outside [0, 12)"
breaks pair_range 'f["pairs"][1, 1] = 84'
bad_case pair_range "dataset '/pairs' row 1 = ("
breaks two_splits 'x = f["classes/meta_test"][()]; del f["classes/meta_test"]; f["classes/meta_test"] = np.append(x, 0)'
bad_case two_splits "dataset '/classes/meta_test' holds class 0, which is also in /classes/meta_train"
breaks version 'f.attrs["format_version"] = np.int64(3)'
bad_case version "has layout version 3; this croma reads versions 1 to 2"
breaks v1_frames 'f["source"].attrs["kind"] = "frames"'
bad_case v1_frames "group '/source' has kind 'frames', which needs format_version 2"
# Shards of one dataset must agree: shard 1 with other class names (fixed-length strings).
cp "$good1" "$work/badshards/other_classes.h5"
"$py" - "$work/badshards/other_classes.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    del f["classes/names"]; f["classes/names"] = np.array([b"x%d" % k for k in range(12)])
PY
expect_error "shard '$work/badshards/other_classes.h5': dataset '/classes/names' differs from shard '$good0'" \
  inspect "$good0" "$work/badshards/other_classes.h5"
# A dataset of two shards given only one of them.
expect_error "dataset 'toy' has shard_count 2 but 1 shard file(s) were given" inspect "$good0"
expect_error "shard '$good0': shard_index 0 is also in shard '$good0'" inspect "$good0" "$good0"
# Another HDF5 file (a croma checkpoint) is not a shard.
expect_error "shard '$work/run/checkpoints/final.h5': is not a croma feature shard" inspect "$work/run/checkpoints/final.h5"
expect_error "unrecognised option '--bogus'" inspect --bogus

echo "shards: $passed passed, $failures failed"
[ $failures -eq 0 ]
