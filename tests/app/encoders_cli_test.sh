#!/usr/bin/env bash
# Sequence and image encoders on the built-in world, as a user runs them: two MPI ranks train
# an LSTM (token ids) and a CNN (images) and agree; eval rebuilds the same model from
# config.json; --resume continues bit for bit; a wrong encoder for a modality is one clear
# error line with no run directory.
# usage: encoders_cli_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=$2
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"

world=(--concepts 16 --samples-per-concept 12 --latent-dim 4 --nuisance-dim 2 --source-dim 12 --target-dim 10
       --min-frames 2 --max-frames 6 --frame-dim 4 --vocab 16 --image-size 6 --image-channels 1)
model=(--hidden 8 --embed-dim 8 --classifier-hidden 8 --lstm-hidden 8 --token-embedding 6 --cnn-channels 4,6)
small=(--ways 3 --shots 2 --eval-ways 3 --eval-shots 2 --eval-tasks 2 --eval-queries 3 --eval-steps 2
       --eval-repeats 1 --val-every 0 --quiet)
seq=(--source-form tokens --source-encoder lstm --lstm-directions bi --target-form image --target-encoder cnn)

out=$("$mpirun" --oversubscribe -np 2 "$croma" train "${world[@]}" "${model[@]}" "${small[@]}" "${seq[@]}" \
      --run-dir "$work/run" --steps 4 --check-every 2 --checkpoint-every 2 2>"$work/train.err")
"$py" - "$(tail -n 1 <<<"$out")" "$work/run/config.json" <<'PY' && ok || fail "2-rank LSTM/CNN train: $(cat "$work/train.err")"
import json, sys
s = json.loads(sys.argv[1])
assert s["world_size"] == 2 and s["steps"] == 4, s
c = json.load(open(sys.argv[2]))
assert c["data"]["source_form"] == "tokens" and c["data"]["target_form"] == "image", c["data"]
assert c["model"]["source_encoder"]["kind"] == "lstm" and c["model"]["target_encoder"]["kind"] == "cnn", c["model"]
PY
out=$("$croma" eval --run-dir "$work/run" 2>"$work/eval.err")
"$py" - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "eval of the LSTM/CNN run: $(cat "$work/eval.err")"
import json, sys
s = json.loads(sys.argv[1])
assert s["command"] == "eval" and 0 <= s["results"][0]["accuracy_mean"] <= 1, s
PY

# Resume: 2 steps, then --resume to 4, equals 4 steps straight (one rank, frames -> LSTM).
seq1=(--target-form frames --target-encoder lstm --seq-pool max --lstm-layers 2)
"$croma" train "${world[@]}" "${model[@]}" "${small[@]}" "${seq1[@]}" --run-dir "$work/straight" --steps 4 \
  --checkpoint-every 2 >/dev/null 2>"$work/s.err" || fail "straight run: $(cat "$work/s.err")"
"$croma" train "${world[@]}" "${model[@]}" "${small[@]}" "${seq1[@]}" --run-dir "$work/resumed" --steps 2 \
  --checkpoint-every 2 >/dev/null 2>"$work/r1.err" || fail "first half: $(cat "$work/r1.err")"
"$croma" train "${world[@]}" "${model[@]}" "${small[@]}" "${seq1[@]}" --run-dir "$work/resumed" --steps 4 \
  --checkpoint-every 2 --resume >/dev/null 2>"$work/r2.err" || fail "resume: $(cat "$work/r2.err")"
"$py" - "$work/straight/checkpoints/final.h5" "$work/resumed/checkpoints/final.h5" <<'PY' && ok || fail "resumed LSTM run differs from the straight one"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    names = []
    a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and n.startswith("e_t/lstm") else None)
    assert any("layer1" in n for n in names), names
    for n in names:
        assert np.array_equal(a[n][()], b[n][()]), n
PY
# Resuming with another encoder is refused.
expect_error "model.target_encoder.kind is \"lstm\" in the run and \"pool\" now" train "${world[@]}" "${model[@]}" "${small[@]}" --target-form frames --target-encoder pool --seq-pool max --lstm-layers 2 \
  --run-dir "$work/resumed" --steps 6 --resume

expect_error "--target-encoder mlp reads feature vectors, but the target modality has images 1x6x6 (use cnn)" \
  train "${world[@]}" "${model[@]}" "${small[@]}" --target-form image --run-dir "$work/bad" --steps 1
expect_error "--source-encoder cnn reads images [channels, height, width], but the source modality has vectors of 12" \
  train "${world[@]}" "${model[@]}" "${small[@]}" --source-encoder cnn --run-dir "$work/bad" --steps 1
expect_error "the shared-encoder methods map target feature vectors" \
  train "${world[@]}" "${model[@]}" "${small[@]}" "${seq1[@]}" --method shared --run-dir "$work/bad" --steps 1
[ -e "$work/bad" ] && fail "a refused encoder left a run directory" || ok

echo "encoders cli: $passed passed, $failures failed"
[ $failures -eq 0 ]
