#!/usr/bin/env bash
# The croma executable as users meet it: bad input gives one clear error line, a non-zero
# exit and no files; a 2-rank run under mpirun writes a run directory that h5py can read and
# that `croma eval` evaluates; the last stdout line of each command is one JSON object.
# usage: cli_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
mpirun=$2
source "$(dirname "$0")/harness.sh"

world=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
       --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --shots 3
       --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet)
small=("${world[@]}" --ways 4)

# --- bad options ----------------------------------------------------------------------
expect_error "invalid value for --shots: 0 (must be >= 1)" train --run-dir "$work/bad1" --shots 0
expect_error "invalid value for --inner-lr: -1 (must be a finite number > 0)" train --run-dir "$work/bad2" --inner-lr -1
expect_error "invalid value for --device: 'gpu7'" train --run-dir "$work/bad3" --device gpu7
expect_error "--ways 30 exceeds the 12 meta-train classes" train --run-dir "$work/bad4" "${world[@]}" --ways 30
expect_error "unrecognised option '--bogus'" train --bogus 1
expect_error "invalid value for --label-noise: 1 (must be in [0, 1))" train --run-dir "$work/bad6" --label-noise 1
expect_error "invalid value for --method: 'maml' (allowed: croma, target-autoencoder," train --run-dir "$work/bad7" "${small[@]}" --method maml
[ -e "$work/bad7" ] && fail "an unknown method left $work/bad7 behind" || ok
# Baselines as the paper defines them: refusals name the reason and write nothing.
expect_error "--method unimodal-pretrain was renamed target-autoencoder" train --run-dir "$work/bad8" "${small[@]}" --method unimodal-pretrain
expect_error "lies inside one class, so its cluster ids are class labels" train --run-dir "$work/bad9" "${small[@]}" --method unsup-meta-weak
expect_error "--inner-loop fused: the fused kernels do not run these tasks (align, class)" train --run-dir "$work/bad10" "${small[@]}" --target-form frames --target-encoder lstm --inner-loop fused
expect_error "invalid value for --inner-loop: 'fast' (allowed: auto, fused, autograd)" train --run-dir "$work/bad11" "${small[@]}" --inner-loop fast
for d in bad8 bad9 bad10 bad11; do
  [ -e "$work/$d" ] && fail "a refused run left $work/$d behind" || ok
done
expect_error "unknown command 'trian'" trian
expect_error "is not a croma run directory" eval --run-dir "$work"
expect_error "run directory '$work/none' does not exist" eval --run-dir "$work/none"
for d in bad1 bad2 bad3 bad4; do
  [ -e "$work/$d" ] && fail "a failed run left $work/$d behind" || ok
done
# CUDA requested where LibTorch has none (or no GPU is visible): a clear error, no run dir.
if ! nvidia-smi >/dev/null 2>&1; then
  expect_error "--device cuda:0: this LibTorch has no CUDA or no GPU is visible" train --run-dir "$work/bad5" "${small[@]}" --device cuda:0
  [ -e "$work/bad5/config.json" ] && fail "--device cuda:0 left a config.json" || ok
fi
# An unwritable run directory is reported before training.
touch "$work/file"
expect_error "cannot create run directory '$work/file/run'" train --run-dir "$work/file/run" "${small[@]}"

# --- a real 2-rank run ------------------------------------------------------------------
run="$work/run"
out=$("$mpirun" --oversubscribe -np 2 "$croma" train --run-dir "$run" "${small[@]}" --steps 20 \
      --log-every 5 --checkpoint-every 10 --val-every 10 2>"$work/train.err")
code=$?
[ $code -eq 0 ] || fail "2-rank train exited $code: $(cat "$work/train.err")"
last=$(tail -n 1 <<<"$out")
/usr/bin/python3 - "$last" "$run" <<'PY' && ok || fail "train summary / run directory check"
import json, sys, os
s = json.loads(sys.argv[1]); run = sys.argv[2]
assert s["command"] == "train" and s["world_size"] == 2 and s["steps"] == 20, s
assert s["episodes"] == 20 * 2 * 2, s          # 2 ranks x (1 alignment + 1 classification)
cfg = json.load(open(os.path.join(run, "config.json")))
assert cfg["meta"]["shots"] == 3 and cfg["runtime"]["world_size"] == 2, cfg
lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
steps = [l["step"] for l in lines if "align_loss" in l]
assert steps == [5, 10, 15, 20], steps
for name in ("initial", "best", "final", "step_10", "step_20"):
    assert os.path.exists(os.path.join(run, "checkpoints", name + ".h5")), name
assert not [f for f in os.listdir(os.path.join(run, "checkpoints")) if f.endswith(".tmp")]
PY
# Exactly one JSON line on stdout (rank 1 prints nothing).
[ "$(grep -c . <<<"$out")" -eq 1 ] || fail "expected one stdout line from the 2-rank run, got: $out"
# Progress went to stderr only when not --quiet: here it is quiet, so only the banner.
grep -q "2 rank(s)" "$work/train.err" || fail "banner missing from stderr"

# Checkpoints are plain HDF5: h5py reads one dataset per tensor with the documented shapes.
/usr/bin/python3 - "$run/checkpoints/final.h5" <<'PY' && ok || fail "h5py could not read the checkpoint"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["format"] in (b"croma-checkpoint", "croma-checkpoint"), f.attrs["format"]
    assert int(f.attrs["step"]) == 20
    assert f["e_s/layer0/weight"].shape == (32, 24)
    assert f["e_t/layer0/weight"].shape == (32, 16)
    assert f["phi/layer1/weight"].shape == (4, 16)
PY
if command -v h5dump >/dev/null; then
  h5dump -H "$run/checkpoints/final.h5" | grep -q 'DATASET "weight"' && ok || fail "h5dump cannot list the checkpoint"
fi

# A second train into the same directory is refused unless --overwrite.
expect_error "already holds a run" train --run-dir "$run" "${small[@]}" --steps 1

# --- eval ---------------------------------------------------------------------------------
out=$("$croma" eval --run-dir "$run" --eval-shots 1,3 --eval-repeats 2 2>"$work/eval.err")
code=$?
[ $code -eq 0 ] || fail "eval exited $code: $(cat "$work/eval.err")"
/usr/bin/python3 - "$(tail -n 1 <<<"$out")" "$run" <<'PY' && ok || fail "eval summary check"
import json, sys, os
s = json.loads(sys.argv[1])
assert s["command"] == "eval" and s["split"] == "meta-test" and s["checkpoint_step"] == 20, s
assert s["method"] == "croma" and s["target_labels_used"] == 0 and s["target_samples_used"] > 0, s
assert [r["shots"] for r in s["results"]] == [1, 3], s
full = json.load(open(os.path.join(sys.argv[2], "eval.json")))
assert full["repeats"] == 2, full["repeats"]
for brief, r in zip(s["results"], full["results"]):
    assert 0 <= r["accuracy_mean"] <= 1 and r["accuracy_mean"] == brief["accuracy_mean"], r
    assert len(r["trained"]["seeds"]) == 2 and len(r["trained"]["seeds"][0]["task_accuracy"]) == 4, r
    means = [x["accuracy_mean"] for x in r["trained"]["seeds"]]
    assert abs(sum(means) / 2 - r["accuracy_mean"]) < 1e-12, r
PY
# Divergence stops the run naming the step, and no final checkpoint is written.
"$croma" train --run-dir "$work/nan" "${small[@]}" --steps 20 --val-every 0 --inner-lr 1e30 --meta-lr 1e30 \
  >"$work/nan.out" 2>"$work/nan.err"
code=$?
[ $code -eq 1 ] && ok || fail "a diverged run exited $code"
tail -n 1 "$work/nan.err" | grep -q "croma train: error: non-finite .* at meta-step [0-9]" && ok \
  || fail "no error naming the step: $(cat "$work/nan.err")"
[ ! -e "$work/nan/checkpoints/final.h5" ] && ok || fail "a diverged run wrote final.h5"

# Retrieval and noisy support labels, in one call.
out=$("$croma" eval --run-dir "$run" --eval-shots 2 --eval-repeats 1 --retrieval --eval-label-noise 0,0.5 2>"$work/eval2.err")
code=$?
[ $code -eq 0 ] || fail "eval --retrieval exited $code: $(cat "$work/eval2.err")"
/usr/bin/python3 - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "retrieval / noise summary check"
import json, sys
s = json.loads(sys.argv[1])
assert [(r["shots"], r["label_noise"]) for r in s["results"]] == [(2, 0.0), (2, 0.5)], s["results"]
(r,) = s["retrieval"]
for d in ("source_to_target", "target_to_source"):
    m = r[d]
    assert 0 <= m["recall_at_1"] <= m["recall_at_5"] <= m["recall_at_10"] <= 1, m
    assert 1 <= m["median_rank"] <= 20 and 0 <= m["mean_cosine_loss"] <= 2, m
PY
# A baseline through the same commands: the oracle reads target labels, and says so.
"$croma" train --run-dir "$work/oracle" "${small[@]}" --steps 4 --method oracle --val-every 0 > "$work/oracle.out" 2>&1 \
  && "$croma" eval --run-dir "$work/oracle" --eval-repeats 1 > "$work/oracle.eval" 2>&1
/usr/bin/python3 - "$(tail -n 1 "$work/oracle.eval")" <<'PY' && ok || fail "oracle run: $(cat "$work/oracle.out" "$work/oracle.eval")"
import json, sys
s = json.loads(sys.argv[1])
assert s["method"] == "oracle" and s["target_labels_used"] > 0, s
PY

# Corrupt checkpoint: one clear error naming the file.
head -c 100 "$run/checkpoints/final.h5" > "$work/torn.h5"
expect_error "checkpoint '$work/torn.h5'" eval --run-dir "$run" --checkpoint "$work/torn.h5"
expect_error "--eval-ways 5 exceeds the 4 meta-test classes" eval --run-dir "$run" --eval-ways 5 --eval-shots 1

echo "cli: $passed passed, $failures failed"
[ $failures -eq 0 ]
