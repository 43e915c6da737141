#!/usr/bin/env bash
# Exact resume and signal-triggered checkpoints of `croma train`, as a job script meets them:
#  - SIGUSR1 sent to mpirun (forwarded to both ranks) and SIGTERM sent to ONE rank both make
#    every rank checkpoint at the same meta-step and exit 75;
#  - `--resume` continues from that checkpoint and ends with bit-identical meta-parameters
#    (final.h5) and the same best-model bookkeeping as a run never interrupted;
#  - resuming with another number of task slots (ranks x --tasks-per-rank), or another
#    configuration, is refused clearly (other layouts of the same slots: layout_test.sh).
# usage: signal_resume_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
mpirun=$2
source "$(dirname "$0")/harness.sh"

base=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
      --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --ways 4
      --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
      --log-every 1 --checkpoint-every 25 --val-every 20)
# Long enough that a signal sent after meta-step 30 always arrives before the end: on the fused
# kernels 200 steps took 0.16 s, less than the loop below polls.
steps=2000
small=("${base[@]}" --shots 3 --steps $steps)
mpi=("$mpirun" --oversubscribe -np 2)

# The reference: never interrupted.
"${mpi[@]}" "$croma" train --run-dir "$work/ref" "${small[@]}" >"$work/ref.out" 2>"$work/ref.err" ||
  fail "reference run failed: $(tail -n 3 "$work/ref.err")"

# Starts a 2-rank run in the background, waits until it logged meta-step $2, then sends
# signal $3 to target $4 (mpirun | rank1). Leaves the exit code in $work/<name>.rc.
interrupt() {
  local name=$1 after=$2 sig=$3 target=$4
  "${mpi[@]}" "$croma" train --run-dir "$work/$name" "${small[@]}" >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$! i
  for i in $(seq 1 600); do
    [ "$(cat "$work/$name/metrics.jsonl" 2>/dev/null | grep -c '"align_loss"')" -ge "$after" ] && break
    sleep 0.1
  done
  if [ "$target" = mpirun ]; then
    kill -s "$sig" "$pid"
  else
    # The rank processes are mpirun's children; signal only the second one.
    local ranks
    ranks=($(pgrep -P "$pid" | sort -n))
    kill -s "$sig" "${ranks[1]}"
  fi
  wait "$pid"
  echo $? >"$work/$name.rc"
}

check_stopped() {
  local name=$1
  local rc
  rc=$(cat "$work/$name.rc")
  [ "$rc" -eq 75 ] && ok || { fail "$name: exit code $rc, expected 75: $(tail -n 3 "$work/$name.err")"; return; }
  /usr/bin/python3 - "$work/$name" "$(tail -n 1 "$work/$name.out")" "$steps" <<'PY' && ok || fail "$name: stop checkpoint check"
import json, os, sys, h5py
run, last, steps = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
step = last["stopped_at_step"]
assert 0 < step < steps, last
with h5py.File(os.path.join(run, "checkpoints", f"step_{step}.h5"), "r") as f:
    assert int(f.attrs["step"]) == step
    st = f["train_state"]
    assert int(st.attrs["world_size"]) == 2
    assert set(st["rng"].keys()) == {"rank0", "rank1"}, list(st["rng"].keys())
assert not os.path.exists(os.path.join(run, "checkpoints", "final.h5"))
assert not os.path.exists(os.path.join(run, "summary.json"))
PY
}

# Resumes run $1 and checks it matches the reference bit for bit.
check_resumed_equals_reference() {
  local name=$1
  if ! "${mpi[@]}" "$croma" train --resume --run-dir "$work/$name" "${small[@]}" >"$work/$name.out2" 2>"$work/$name.err2"; then
    fail "$name: --resume failed: $(tail -n 3 "$work/$name.err2")"; return
  fi
  /usr/bin/python3 - "$work/ref" "$work/$name" "$(tail -n 1 "$work/$name.out2")" "$(tail -n 1 "$work/ref.out")" "$steps" <<'PY' && ok || fail "$name: resumed run differs from the reference"
import json, os, sys, h5py, numpy as np
ref, run, total = sys.argv[1], sys.argv[2], int(sys.argv[5])
got, want = json.loads(sys.argv[3]), json.loads(sys.argv[4])
assert got["resumed_from_step"] > 0, got
for key in ("best_val_accuracy", "best_step", "val_accuracy_initial", "episodes", "final_align_loss", "final_class_loss"):
    assert got[key] == want[key], (key, got[key], want[key])
def params(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
    return out
for name in ("final", "best"):
    a, b = params(os.path.join(ref, "checkpoints", name + ".h5")), params(os.path.join(run, "checkpoints", name + ".h5"))
    assert a.keys() == b.keys() and a, (a.keys(), b.keys())
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{name}.h5 {k} differs by {np.abs(a[k] - b[k]).max()}"
# metrics.jsonl: one line per logged step, no duplicates from before the stop.
lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
steps = [l["step"] for l in lines if "align_loss" in l]
assert steps == list(range(1, total + 1)), steps[:5]
ref_lines = [json.loads(l) for l in open(os.path.join(ref, "metrics.jsonl"))]
strip = lambda ls: [{k: v for k, v in l.items() if k != "wall_s"} for l in ls]
assert strip(lines) == strip(ref_lines)
# The last few step checkpoints are kept, no more.
kept = sorted(f for f in os.listdir(os.path.join(run, "checkpoints")) if f.startswith("step_"))
assert len(kept) == 3, kept
PY
}

interrupt usr1 30 USR1 mpirun
check_stopped usr1
interrupt term 30 TERM rank1
check_stopped term

# Refusals before resuming: another slot count, another configuration. Nothing changes.
before=$(md5sum "$work/usr1/metrics.jsonl")
out=$("$croma" train --resume --run-dir "$work/usr1" "${small[@]}" --tasks-per-rank 3 2>"$work/np1.err"); code=$?
[ $code -ne 0 ] && grep -qF "written by 2 rank(s) x 1 task(s) per rank (2 task slots) and this run has 1 x 3 = 3" "$work/np1.err" && ok ||
  fail "1 x 3 resume of a 2 x 1 run: exit $code, $(cat "$work/np1.err")"
out=$("${mpi[@]}" "$croma" train --resume --run-dir "$work/usr1" "${base[@]}" --shots 2 --steps $steps 2>"$work/cfg.err"); code=$?
[ $code -ne 0 ] && grep -q "meta.shots is 3 in the run and 2 now" "$work/cfg.err" && ok ||
  fail "resume with another --shots: exit $code, $(cat "$work/cfg.err")"
[ "$before" = "$(md5sum "$work/usr1/metrics.jsonl")" ] && ok || fail "a refused resume changed metrics.jsonl"

check_resumed_equals_reference usr1
check_resumed_equals_reference term

# --resume of a finished run does nothing and repeats its summary.
out=$("${mpi[@]}" "$croma" train --resume --run-dir "$work/ref" "${small[@]}" 2>"$work/again.err"); code=$?
[ $code -eq 0 ] && [ "$(tail -n 1 <<<"$out")" = "$(tail -n 1 "$work/ref.out")" ] && ok ||
  fail "--resume of a complete run: exit $code, $(cat "$work/again.err")"
# --resume into an empty directory starts the run.
out=$("$croma" train --resume --run-dir "$work/fresh" "${base[@]}" --shots 3 --steps 5 2>"$work/fresh.err"); code=$?
[ $code -eq 0 ] && [ -f "$work/fresh/checkpoints/final.h5" ] && ok || fail "--resume of a new run dir: $(cat "$work/fresh.err")"

echo "signal_resume: $passed passed, $failures failed"
[ $failures -eq 0 ]
