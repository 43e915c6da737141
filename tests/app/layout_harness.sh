# Shared by layout_test.sh and layout_methods_test.sh (sourced after harness.sh, with $croma,
# $mpirun and $py set): runs of one configuration on several layouts of R ranks x T task
# slots, and a bit-for-bit comparison of their results.
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
            if k not in ("wall_s", "steps_per_s", "world_size", "tasks_per_rank", "run_dir", "resumed_from_step",
                         "placement")}
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
  echo "layouts: $label: 3 layouts in $((SECONDS - start)) s"
}

