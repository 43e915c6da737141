#!/usr/bin/env bash
# docs/recipes.md, recipe 3 (a trained encoder back in PyTorch), as it stands: croma trains a
# tiny run on imported features (standardised, as real shards are), the recipe's
# analysis/load_encoder_torch.py embeds audio.npz with the rebuilt torch.nn target encoder, and
# the embeddings must equal an independent NumPy forward pass of the same checkpoint (the
# layout of docs/data-format.md: standardise with the stored statistics, Linear-ReLU-Linear,
# L2-normalise) to float tolerance. The same for the source encoder, and for a shared-encoder
# method, whose target path is map_t then e_s. The target embeddings are also compared with
# croma's own (croma eval --export-episodes writes every target item's embedding).
# usage: recipe_torch_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
source "$(dirname "$0")/recipes.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || fail "python3-torch is not installed (scripts/setup.sh installs it)"
mkdir -p "$work/bin" && ln -s /usr/bin/python3 "$work/bin/python3"
export PATH="$work/bin:$PATH" OMP_NUM_THREADS=1
scratch_repo "$work/repo" "$croma"
make_features "$work/repo" || fail "could not make the features"
cd "$work/repo"
bash -euo pipefail -c "$(recipe_block own-data | grep -m1 '^python3 data_prep/import_features.py')" \
  >"$work/import.out" 2>&1 || fail "import: $(cat "$work/import.out")"
tiny=(--data shards/mydata.shards.txt --pairs weak --steps 8 --val-every 4 --val-tasks 4 --hidden 24
      --embed-dim 12 --classifier-hidden 16 --ways 3 --eval-ways 3 --shots 2 --quiet)
build/croma train --run-dir runs/mydata-croma "${tiny[@]}" >"$work/train.out" 2>&1 \
  || fail "croma train: $(tail -n 5 "$work/train.out")"
[ -f runs/mydata-croma/checkpoints/best.h5 ] || fail "no best.h5: $(ls runs/mydata-croma/checkpoints)"

block=$(recipe_block torch)
[ -n "$block" ] || fail "no block after <!-- recipe:torch --> in docs/recipes.md"
bash -euo pipefail -c "$block" >"$work/recipe.out" 2>"$work/recipe.err" || fail "recipe 3: $(tail -n 20 "$work/recipe.err")"
grep -q "Linear(in_features=10, out_features=24" "$work/recipe.out" || fail "the printed module: $(cat "$work/recipe.out")"
[ -f audio_emb.npy ] || fail "the recipe wrote no audio_emb.npy"

# The independent forward pass: h5py and NumPy only.
check() {  # CHECKPOINT FEATURES MODALITY EMBEDDINGS
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
import h5py, numpy as np
ckpt, features, modality, emb = sys.argv[1:5]
with h5py.File(ckpt, "r") as f:
    config = json.loads(f.attrs["config"])
    def layers(module):
        n = len([k for k in f[module] if k.startswith("layer")])
        return [(f[f"{module}/layer{l}/weight"][()], f[f"{module}/layer{l}/bias"][()]) for l in range(n)]
    if modality == "source":
        path = [layers("e_s")]
    elif "map_t" in f:
        path = [layers("map_t"), layers("e_s")]
    else:
        path = [layers("e_t")]
x = np.load(features)["features"].astype(np.float32)
st = config["standardization"][modality]
assert st.get("mean"), "the run did not standardise: the check would not cover it"
x = (x - np.float32(st["mean"])) / np.float32(st["std"])
for mlp in path:
    for l, (w, b) in enumerate(mlp):
        x = x @ w.T + b
        if l + 1 < len(mlp):
            x = np.maximum(x, 0)
z = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
got = np.load(emb)
assert got.shape == z.shape, (got.shape, z.shape)
err = np.abs(got - z).max()
assert err < 1e-5, f"torch and NumPy embeddings differ by {err}"
assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
print(f"{modality}: {got.shape[0]} x {got.shape[1]}, max |torch - numpy| = {err:.2e}")
PY
}
check runs/mydata-croma/checkpoints/best.h5 audio.npz target audio_emb.npy || fail "target embeddings"
# croma's own embeddings of every target item (croma eval --export-episodes writes the frozen
# features its heads read): the torch module must give the same rows.
build/croma eval --run-dir runs/mydata-croma --checkpoint best --head prototype --skip-untrained --eval-shots 1 \
  --eval-tasks 2 --export-episodes "$work/episodes.json" >"$work/export.out" 2>&1 || fail "croma eval --export-episodes: $(tail -n 3 "$work/export.out")"
/usr/bin/python3 - "$work/episodes.json" audio_emb.npy shards <<'PY' || fail "torch embeddings differ from croma's own"
import glob, json, sys
import h5py, numpy as np
ex, got = json.load(open(sys.argv[1])), np.load(sys.argv[2])
ours = np.asarray(ex["features"]["trained"], dtype=np.float32)
# Shard item order is the importer's; map it to audio.npz's rows by sample id.
ids = []
for path in sorted(glob.glob(sys.argv[3] + "/*.h5")):
    with h5py.File(path, "r") as f:
        ids += [i.decode() if isinstance(i, bytes) else str(i) for i in f["target/ids"][()]]
npz = np.load("audio.npz")  # without `ids`, the importer names row r "target-r"
npz_ids = [str(i) for i in npz["ids"]] if "ids" in npz.files else [f"target-{r}" for r in range(len(got))]
row = {i: r for r, i in enumerate(npz_ids)}
assert ours.shape == got.shape, (ours.shape, got.shape)
err = np.abs(ours - got[[row[i] for i in ids]]).max()
assert err < 1e-5, f"croma and torch embeddings differ by {err}"
print(f"croma's own target embeddings: {ours.shape[0]} x {ours.shape[1]}, max |torch - croma| = {err:.2e}")
PY
python3 analysis/load_encoder_torch.py runs/mydata-croma/checkpoints/final.h5 text.npz --modality source --out text_emb.npy \
  >"$work/src.out" 2>&1 || fail "source: $(cat "$work/src.out")"
check runs/mydata-croma/checkpoints/final.h5 text.npz source text_emb.npy || fail "source embeddings"

# A shared-encoder method: the target path is map_t, then e_s.
build/croma train --run-dir runs/shared --method shared "${tiny[@]}" >"$work/shared.out" 2>&1 \
  || fail "croma train --method shared: $(tail -n 5 "$work/shared.out")"
python3 analysis/load_encoder_torch.py runs/shared/checkpoints/final.h5 audio.npz --out shared_emb.npy \
  >"$work/shared-emb.out" 2>&1 || fail "shared: $(cat "$work/shared-emb.out")"
check runs/shared/checkpoints/final.h5 audio.npz target shared_emb.npy || fail "shared-encoder embeddings"

# Not a croma checkpoint: one line, exit 1.
if python3 analysis/load_encoder_torch.py shards/mydata-00000-of-00001.h5 audio.npz 2>"$work/bad.err"; then
  fail "a shard was read as a checkpoint"
fi
grep -q "is not a croma checkpoint" "$work/bad.err" || fail "error message: $(cat "$work/bad.err")"
echo "recipe_torch_test: ok"
