#!/usr/bin/env bash
# The same numbers on any layout: for a fixed number of task slots R x T, every layout of R
# ranks x T slots per rank ends with bit-identical meta-parameters (final.h5), best checkpoint
# (best.h5), metrics and summary (meta/exact_sum.h):
#  - 1 x 4, 2 x 2 and 4 x 1 for 500 meta-steps of the default configuration (fused inner
#    loops), of a baseline (--method shared-align: a shared encoder, autograd inner loops)
#    and of an LSTM / CNN configuration (autograd through sequence and image encoders);
#  - `--resume` on another number of ranks continues bit for bit: 2 x 2 -> 4 ranks with the
#    run's own --tasks-per-rank (croma picks T = 1), 4 x 1 -> 1 x 4 with --tasks-per-rank 4;
#  - a resume that would change R x T is refused, naming the layouts that work.
# usage: layout_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=$2
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
# Up to 4 ranks on fewer cores: a rank waiting in a collective gives its core away.
export OMPI_MCA_mpi_yield_when_idle=1

# train NAME RANKS TASKS ARGS...: one run in $work/NAME (stdout NAME.out, stderr NAME.err).
train() {
  local name=$1 ranks=$2 tasks=$3
  shift 3
  "$mpirun" --oversubscribe -np "$ranks" "$croma" train --run-dir "$work/$name" --tasks-per-rank "$tasks" \
    --threads 1 --quiet "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    fail "$name ($ranks x $tasks): exit $?: $(tail -n 3 "$work/$name.err")"
}

# same_bits REF RUN...: final.h5 and best.h5 tensors, metrics.jsonl and summary.json agree bit
# for bit (except wall time and the layout itself).
same_bits() {
  "$py" - "$work" "$@" <<'PY'
import json, os, sys
import h5py, numpy as np
work, ref, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
def tensors(run, name):
    out = {}
    with h5py.File(os.path.join(work, run, "checkpoints", name + ".h5"), "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...])
                     if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
        out["@step"] = np.array(f.attrs["step"])
    return out
def metrics(run):
    lines = [json.loads(l) for l in open(os.path.join(work, run, "metrics.jsonl"))]
    return [{k: v for k, v in l.items() if k != "wall_s"} for l in lines]
def summary(run):
    s = json.load(open(os.path.join(work, run, "summary.json")))
    return {k: v for k, v in s.items()
            if k not in ("wall_s", "steps_per_s", "world_size", "tasks_per_rank", "run_dir", "resumed_from_step")}
bad = []
for run in runs:
    for name in ("final", "best"):
        a, b = tensors(ref, name), tensors(run, name)
        if a.keys() != b.keys() or len(a) < 2:
            bad.append(f"{run}/{name}.h5: datasets {sorted(b)} vs {sorted(a)}")
            continue
        for k in a:
            # Bits, not values: tobytes() also tells -0.0 from 0.0 and NaN payloads apart.
            if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or a[k].tobytes() != b[k].tobytes():
                diff = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()
                bad.append(f"{run}/{name}.h5 {k} differs from {ref} (max abs {diff:.3g})")
    ma, mb = metrics(ref), metrics(run)
    if ma != mb:
        first = next((i for i, (x, y) in enumerate(zip(ma, mb)) if x != y), min(len(ma), len(mb)))
        bad.append(f"{run}/metrics.jsonl differs from {ref} at line {first + 1}: "
                   f"{mb[first] if first < len(mb) else None} vs {ma[first] if first < len(ma) else None}")
    if summary(ref) != summary(run):
        bad.append(f"{run}/summary.json differs: {summary(run)} vs {summary(ref)}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
}

# layouts LABEL ARGS...: 1 x 4, 2 x 2, 4 x 1 of the same configuration agree bit for bit.
layouts() {
  local label=$1
  shift
  local start=$SECONDS
  train "$label-1x4" 1 4 "$@"
  train "$label-2x2" 2 2 "$@"
  train "$label-4x1" 4 1 "$@"
  local msg
  if msg=$(same_bits "$label-2x2" "$label-1x4" "$label-4x1"); then ok; else fail "$label layouts differ: $msg"; fi
  echo "layout_test: $label: 3 layouts in $((SECONDS - start)) s"
}

# The default configuration, with more validations so that best.h5 is chosen among several.
default=(--steps 500 --val-every 100)
layouts default "${default[@]}"
"$py" - "$work/default-2x2" <<'PY' && ok || fail "default run: not the fused 2 x 2 run of 500 steps it should be"
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
assert s["steps"] == 500 and s["world_size"] == 2 and s["tasks_per_rank"] == 2, s
vals = [json.loads(l) for l in open(os.path.join(sys.argv[1], "metrics.jsonl")) if "val_accuracy" in l]
assert [v["step"] for v in vals] == [100, 200, 300, 400, 500], vals
PY

small_world=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24 --target-dim 16
             --ways 4 --shots 3 --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10
             --log-every 10 --val-every 100)
layouts shared-align "${small_world[@]}" --hidden 32 --embed-dim 16 --classifier-hidden 16 --method shared-align \
  --steps 500

sequences=(--concepts 16 --samples-per-concept 12 --latent-dim 4 --nuisance-dim 2 --source-dim 12 --target-dim 10
           --min-frames 2 --max-frames 6 --frame-dim 4 --vocab 16 --image-size 6 --image-channels 1
           --hidden 8 --embed-dim 8 --classifier-hidden 8 --lstm-hidden 8 --token-embedding 6 --cnn-channels 4,6
           --source-form tokens --source-encoder lstm --target-form image --target-encoder cnn
           --ways 3 --shots 2 --inner-steps 2 --eval-ways 3 --eval-shots 2 --eval-tasks 2 --eval-queries 3
           --eval-steps 2 --log-every 10 --val-every 100)
layouts lstm-cnn "${sequences[@]}" --steps 500

# Resume on another number of ranks. The references are the 500-step default runs above.
train part-a 2 2 --steps 200 --val-every 100
# A slot count other than 4 is refused, naming the layouts that keep it; nothing changes.
before=$(md5sum "$work/part-a/metrics.jsonl")
for layout in "3 2" "2 1" "4 3"; do
  set -- $layout
  out=$("$mpirun" --oversubscribe -np "$1" "$croma" train --resume --run-dir "$work/part-a" --tasks-per-rank "$2" \
        --threads 1 --quiet "${default[@]}" 2>"$work/refused.err"); code=$?
  if [ $code -ne 0 ] && grep -qF "written by 2 rank(s) x 2 task(s) per rank (4 task slots) and this run has $1 x $2 = $(($1 * $2))" "$work/refused.err" &&
     grep -qF "(ranks x --tasks-per-rank = 4: 1 x 4, 2 x 2 or 4 x 1;" "$work/refused.err" && [ -z "$out" ]; then
    ok
  else
    fail "resume of a 2 x 2 run as $1 x $2: exit $code, $(cat "$work/refused.err")"
  fi
done
[ "$before" = "$(md5sum "$work/part-a/metrics.jsonl")" ] && ok || fail "a refused resume changed metrics.jsonl"
# The run's own --tasks-per-rank 2 on 4 ranks: croma spreads the 4 slots as 4 x 1.
"$mpirun" --oversubscribe -np 4 "$croma" train --resume --run-dir "$work/part-a" --tasks-per-rank 2 --threads 1 \
  --quiet "${default[@]}" >"$work/part-a.out2" 2>"$work/part-a.err2" ||
  fail "resume of 2 x 2 on 4 ranks: $(tail -n 3 "$work/part-a.err2")"
grep -qF "continuing the run's 4 task slots as 4 rank(s) x 1" "$work/part-a.err2" && ok ||
  fail "resume on 4 ranks did not say how it spreads the slots: $(cat "$work/part-a.err2")"
"$py" - "$work/part-a" <<'PY' && ok || fail "resumed run's summary / config"
import json, os, sys, h5py
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
assert s["resumed_from_step"] == 200 and s["world_size"] == 4 and s["tasks_per_rank"] == 1, s
c = json.load(open(os.path.join(sys.argv[1], "config.json")))
assert c["meta"]["tasks_per_rank"] == 1 and c["runtime"]["world_size"] == 4, c
with h5py.File(os.path.join(sys.argv[1], "checkpoints", "final.h5"), "r") as f:
    st = f["train_state"]
    assert int(st.attrs["world_size"]) == 4 and int(st.attrs["tasks_per_rank"]) == 1
PY
if msg=$(same_bits default-2x2 part-a); then ok; else fail "2 x 2 resumed on 4 x 1 differs: $msg"; fi

train part-b 4 1 --steps 300 --val-every 100
train part-b 1 4 --resume --steps 500 --val-every 100
if msg=$(same_bits default-2x2 part-b); then ok; else fail "4 x 1 resumed on 1 x 4 differs: $msg"; fi

echo "layout: $passed passed, $failures failed"
[ $failures -eq 0 ]
