#!/usr/bin/env bash
# Sequence and image features in shards (layout version 2) end to end: data_prep/croma_shards.py
# writes frames, token ids and images; h5py reads them back as docs/data-format.md says;
# `croma inspect`, `croma train --data` with LSTM / pool / CNN encoders and `croma eval` run on
# them; and inconsistent lengths, token ids out of range and the like are refused with one
# line naming the file and the object.
# usage: sequence_shards_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"

# 12 classes x 10 items. A: frames (5-dim, 3..9 long) -> token ids (vocab 30, 2..8 long), 2
# shards. B: token ids -> images 1x6x8, 1 shard. Target item i pairs with source item i.
PYTHONPATH="$here/../../data_prep" "$py" - "$work" <<'PY' || { echo "FAIL: could not write shards"; exit 1; }
import sys, json, numpy as np
from croma_shards import write_shards
w = sys.argv[1]; r = np.random.default_rng(5)
classes = [f"c{k:02d}" for k in range(12)]
lab = np.repeat(np.arange(12), 10); n = len(lab)
centre = r.normal(size=(12, 5))
frames = [(centre[k] + 0.5 * r.normal(size=(r.integers(3, 10), 5))).astype(np.float32) for k in lab]
tokens = [((3 * k + r.integers(0, 6, size=r.integers(2, 9))) % 30).tolist() for k in lab]
images = (centre[lab, :1, None, None] + 0.3 * r.normal(size=(n, 1, 6, 8))).astype(np.float32)
split = {"meta_train": list(range(6)), "meta_val": [6, 7, 8], "meta_test": [9, 10, 11]}
def mod(**kw):
    return dict(labels=lab, ids=[f"x{i}" for i in range(n)], **kw)
pairs = np.stack([np.arange(n), np.arange(n)], 1)
write_shards(f"{w}/a", "a", classes, split, mod(sequences=frames, modality="speech"),
             mod(tokens=tokens, vocab=30, modality="text"), pairs, {"prep": "test"}, shards=2)
write_shards(f"{w}/b", "b", classes, split, mod(tokens=tokens, vocab=30), mod(features=images), pairs, {}, shards=1)
json.dump({"frames": [f.tolist() for f in frames], "tokens": tokens}, open(f"{w}/truth.json", "w"))
PY

# h5py users read the ragged layout with the lengths (docs/data-format.md).
"$py" - "$work" <<'PY' && ok || fail "h5py read-back of the ragged layout"
import sys, json, h5py, numpy as np
w = sys.argv[1]; truth = json.load(open(f"{w}/truth.json"))
with h5py.File(f"{w}/a/a-00000-of-00002.h5") as f:
    assert f.attrs["format_version"] == 2
    assert f["source"].attrs["kind"] == "frames" and f["target"].attrs["kind"] == "tokens"
    assert f["target"].attrs["vocab"] == 30
    lengths = f["source/lengths"][()]
    frames = np.split(f["source/features"][()], np.cumsum(lengths)[:-1])
    labels = f["source/labels"][()]
    tokens = np.split(f["target/features"][()], np.cumsum(f["target/lengths"][()])[:-1])
# Shard 0 holds the even classes, in item order.
rows = [i for i in range(120) if (i // 10) % 2 == 0]
assert list(labels) == [i // 10 for i in rows]
for got, i in zip(frames, rows):
    assert np.allclose(got, np.array(truth["frames"][i], np.float32)), i
for got, i in zip(tokens, rows):
    assert got.tolist() == truth["tokens"][i], i
PY

out=$("$croma" inspect "$work/a/a.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "inspect summary of sequences"
import json, sys
s = json.loads(sys.argv[1])
assert s["source"]["kind"] == "frames" and s["source"]["dim"] == 5, s["source"]
assert 3 <= s["source"]["min_length"] and s["source"]["max_length"] <= 9, s["source"]
assert s["target"]["kind"] == "tokens" and s["target"]["vocab"] == 30, s["target"]
PY
grep -qF "sequences of 5-dim frames" "$work/inspect.err" && ok || fail "inspect's stderr lacks the description: $(cat "$work/inspect.err")"

small=(--hidden 8 --embed-dim 8 --classifier-hidden 8 --ways 3 --shots 2 --eval-ways 3 --eval-shots 2
       --eval-tasks 2 --eval-queries 3 --eval-steps 2 --eval-repeats 1 --val-every 0 --quiet
       --lstm-hidden 8 --token-embedding 6 --cnn-channels 4,6)
"$croma" train --data "$work/a/a.shards.txt" --run-dir "$work/run_a" --steps 3 "${small[@]}" \
  --source-encoder lstm --target-encoder pool --lstm-directions bi --seq-pool last,mean \
  >"$work/train.out" 2>"$work/train.err" && ok || fail "train on frames/tokens failed: $(cat "$work/train.err")"
"$py" - "$work/run_a/config.json" <<'PY' && ok || fail "config.json lacks the encoders"
import json, sys
m = json.load(open(sys.argv[1]))["model"]
assert m["source_encoder"]["kind"] == "lstm" and m["source_encoder"]["bidirectional"] is True, m
assert m["source_encoder"]["pool"] == "last" and m["target_encoder"]["pool"] == "mean", m
assert m["target_encoder"]["kind"] == "pool" and m["target_encoder"]["token_embedding"] == 6, m
PY
out=$("$croma" eval --run-dir "$work/run_a" 2>"$work/eval.err") || fail "eval failed: $(cat "$work/eval.err")"
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "eval summary"
import json, sys
s = json.loads(sys.argv[1])
assert s["command"] == "eval" and 0 <= s["results"][0]["accuracy_mean"] <= 1, s
PY
"$croma" train --data "$work/b/b.shards.txt" --run-dir "$work/run_b" --steps 3 "${small[@]}" \
  --source-encoder lstm --target-encoder cnn >/dev/null 2>"$work/train_b.err" \
  && ok || fail "train on tokens/images failed: $(cat "$work/train_b.err")"
expect_error "--source-encoder mlp reads feature vectors, but the source modality has sequences of 5-dim frames (use lstm or pool)" \
  train --data "$work/a/a.shards.txt" --run-dir "$work/run_bad" --steps 1 "${small[@]}"
expect_error "--target-encoder lstm reads sequences (frames or token ids), but the target modality has images 1x6x8" \
  train --data "$work/b/b.shards.txt" --run-dir "$work/run_bad" --steps 1 "${small[@]}" --source-encoder lstm --target-encoder lstm
[ -e "$work/run_bad" ] && fail "a refused encoder left a run directory" || ok

# --- bad sequence shards ---------------------------------------------------------------------
good0="$work/a/a-00000-of-00002.h5"
good1="$work/a/a-00001-of-00002.h5"
mkdir -p "$work/bad"
breaks() {  # breaks NAME PYTHON-STATEMENTS (f is shard 0, open for writing)
  cp "$good0" "$work/bad/$1.h5"
  "$py" - "$work/bad/$1.h5" "$2" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    exec(sys.argv[2])
PY
}
bad_case() {
  local f="$work/bad/$1.h5"
  expect_error "shard '$f': $2" inspect "$f" "$good1"
  expect_error "shard '$f': $2" train --data "$f,$good1" --run-dir "$work/badrun_$1" --steps 1 "${small[@]}" \
    --source-encoder lstm --target-encoder lstm
  [ -e "$work/badrun_$1" ] && fail "bad shard $1 left a run directory" || ok
}
breaks lengths_sum 'x = f["source/lengths"][()]; x[3] += 1; del f["source/lengths"]; f["source/lengths"] = x'
bad_case lengths_sum "dataset '/source/lengths' sums to"
breaks zero_length 'x = f["source/lengths"][()]; x[1] += x[0]; x[0] = 0; del f["source/lengths"]; f["source/lengths"] = x'
bad_case zero_length "dataset '/source/lengths' row 0 holds length 0 (every sequence needs at least one step)"
breaks lengths_count 'x = f["source/lengths"][()]; del f["source/lengths"]; f["source/lengths"] = x[:-1]; y = f["source/features"][()]; del f["source/features"]; f["source/features"] = y[:x[:-1].sum()]'
bad_case lengths_count "dataset '/source/labels' has 60 entries but /source/lengths has 59 rows"
breaks token_range 'f["target/features"][4] = 30'
bad_case token_range "dataset '/target/features' position 4 holds token id 30 outside [0, vocab 30)"
breaks negative_token 'f["target/features"][0] = -1'
bad_case negative_token "dataset '/target/features' position 0 holds token id -1"
breaks no_vocab 'del f["target"].attrs["vocab"]'
bad_case no_vocab "group '/target' lacks the integer attribute vocab (required for kind tokens)"
breaks float_tokens 'x = f["target/features"][()]; del f["target/features"]; f["target/features"] = x.astype(np.float32)'
bad_case float_tokens "dataset '/target/features' must hold integers"
breaks bad_kind 'f["source"].attrs["kind"] = "video"'
bad_case bad_kind "group '/source' has attribute kind 'video' (allowed: vector, frames, tokens, image)"
breaks frame_nan 'f["source/features"][5, 1] = np.nan'
bad_case frame_nan "dataset '/source/features' holds NaN or Inf (first in row 5)"
# Shards of one dataset must agree on the frame width (lengths may differ).
breaks frame_dim 'x = f["source/features"][()]; del f["source/features"]; f["source/features"] = np.concatenate([x, x[:, :1]], 1)'
expect_error "shard '$good1': the features of /source (sequences of 5-dim frames vs sequences of 6-dim frames) differs" \
  inspect "$work/bad/frame_dim.h5" "$good1"

# Images must be float32 [n, C, H, W].
img="$work/bad/image_rank.h5"
cp "$work/b/b-00000-of-00001.h5" "$img"
"$py" - "$img" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    x = f["target/features"][()]; del f["target/features"]; f["target/features"] = x[:, 0]
PY
expect_error "shard '$img': dataset '/target/features' has rank 3, expected 4" inspect "$img"

echo "sequence shards: $passed passed, $failures failed"
[ $failures -eq 0 ]
