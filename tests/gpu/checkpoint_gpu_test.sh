#!/usr/bin/env bash
# A checkpoint written by a run on the device under test (CROMA_TEST_DEVICE, default cuda;
# tests/gpu/gpu_test_device.h) loads and evaluates on the CPU, and a CPU run resumes from it,
# as a user moving a run off the GPU would. Exit 77 (ctest: skipped) when the device is
# not available.
# usage: checkpoint_gpu_test.sh CROMA
set -uo pipefail
croma=$(realpath "$1")
device=${CROMA_TEST_DEVICE:-cuda}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

small=(--seed 7 --concepts 16 --samples-per-concept 12 --latent-dim 4 --nuisance-dim 2 --source-dim 12
       --target-dim 10 --hidden 16 --embed-dim 8 --classifier-hidden 8 --ways 3 --shots 2 --eval-ways 3
       --eval-shots 2 --eval-tasks 2 --eval-queries 3 --eval-steps 2 --eval-repeats 1 --val-every 0 --quiet)
if ! "$croma" train "${small[@]}" --device "$device" --run-dir "$work/run" --steps 4 --checkpoint-every 2 \
     >"$work/train.out" 2>"$work/train.err"; then
  if grep -q "no CUDA or no GPU is visible" "$work/train.err"; then
    echo "SKIPPED: --device $device: $(cat "$work/train.err")"
    exit 77
  fi
  fail "train on $device: $(cat "$work/train.err")"
fi
[ -f "$work/run/checkpoints/final.h5" ] || fail "no final checkpoint from the $device run"
out=$("$croma" eval --run-dir "$work/run" --device cpu 2>"$work/eval.err") || fail "eval on the CPU: $(cat "$work/eval.err")"
python3 - "$(tail -n 1 <<<"$out")" <<'PY' || fail "eval on the CPU of the $device checkpoint: $out"
import json, math, sys
s = json.loads(sys.argv[1])
a = s["results"][0]["accuracy_mean"]
assert s["command"] == "eval" and math.isfinite(a) and 0 <= a <= 1, s
PY
"$croma" train "${small[@]}" --device cpu --run-dir "$work/run" --steps 6 --checkpoint-every 2 --resume \
  >/dev/null 2>"$work/resume.err" || fail "resume on the CPU from the $device checkpoint: $(cat "$work/resume.err")"
echo "measured: a $device checkpoint evaluated and resumed on the CPU"
