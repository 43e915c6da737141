#!/usr/bin/env bash
# A sweep through a real one-node Slurm cluster (slurmctld + slurmd + munged, started here
# with a configuration of our own in a temporary folder and stopped on any exit):
#  1. a 4-cell sweep (2 MPI ranks per cell via srun --mpi=pmix, a short train and eval each)
#     completes, and the aggregated table has every cell;
#  2. submitting it again submits nothing;
#  3. a cell cancelled midway (scancel: SIGTERM, croma checkpoints and exits 75) is reported
#     interrupted, and resubmitting it with --ntasks=1 instead of 2 resumes it from its
#     checkpoint (1 rank x 2 task slots) and completes it, with final meta-parameters
#     bit-identical to those of the same cell never interrupted on 2 ranks;
#  4. a cell sent the time-limit signal (SIGUSR1) checkpoints, requeues itself and completes;
#  5. jobs/train.sbatch and jobs/eval.sbatch, as a user submits them, train on 2 ranks and
#     evaluate;
#  6. a rank killed with SIGKILL ends the job, and resubmitting train.sbatch on fewer tasks
#     (1 instead of 2) resumes and finishes the run.
# A daemon that does not start is a failure with its log, never a skip.
# usage: slurm_sweep_test.sh CROMA SOURCE_DIR
set -uo pipefail
croma=$(readlink -f "$1")
src=$(readlink -f "$2")
work=$(mktemp -d /tmp/croma-slurm-test.XXXXXX)
source "$src/tests/slurm/cluster.sh"
failures=0
passed=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { passed=$((passed + 1)); }
cleanup() {
  if [ -n "${SLURM_CONF:-}" ]; then scancel --user="$(id -un)" 2>/dev/null; sleep 1; fi
  slurm_cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! slurm_cluster_start "$work/cluster"; then
  slurm_cluster_dump_logs
  echo "FAIL: could not start the one-node Slurm cluster (see above)"
  echo "slurm: 0 passed, 1 failed"
  exit 1
fi
sweep=(/usr/bin/python3 "$src/jobs/sweep.py")
# Meta-steps of the runs that must still be running when a signal or a kill reaches them.
long_steps=100000
export LONG_STEPS=$long_steps

# Tiny world: a cell trains in seconds on 2 loaded cores.
world='"concepts": 20, "samples-per-concept": 24, "latent-dim": 6, "nuisance-dim": 4,
  "source-dim": 24, "target-dim": 16, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16,
  "ways": 4, "eval-ways": 4, "eval-shots": "3", "eval-tasks": 4, "eval-queries": 5,
  "eval-steps": 10, "log-every": 1, "val-every": 20, "val-tasks": 4, "quiet": true'
write_spec() {  # name steps checkpoint_every grid [ntasks, default 2]
  cat >"$work/$1.json" <<JSON
{"name": "$1", "root": "$1", "croma": "$croma",
 "train": {$world, "steps": $2, "checkpoint-every": $3},
 "grid": $4,
 "eval": {"eval-shots": "1,3"},
 "slurm": {"ntasks": ${5:-2}, "cpus-per-task": 1, "time": "00:10:00"}}
JSON
}

# Waits until no job of the sweep is queued (up to $2 seconds).
wait_sweep() {
  local spec=$1 limit=$2 i counts
  for i in $(seq 1 "$limit"); do
    counts=$("${sweep[@]}" status "$spec" 2>/dev/null | tail -n 1)
    if /usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; sys.exit(0 if c["pending"]+c["running"]==0 else 1)' "$counts" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  echo "timeout waiting for sweep $spec: $counts"
  squeue
  return 1
}

counts_of() { "${sweep[@]}" status "$1" 2>/dev/null | tail -n 1; }

# --- 1. a 4-cell sweep completes --------------------------------------------------------------
write_spec grid 40 10 '{"shots": [2, 3], "seed": [1, 2]}'
out=$("${sweep[@]}" submit "$work/grid.json" 2>"$work/submit1.err") || fail "submit: $(cat "$work/submit1.err")"
[ "$(/usr/bin/python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["submitted"]))' "$(tail -n 1 <<<"$out")")" = 4 ] &&
  ok || fail "first submit did not submit 4 cells: $out"
wait_sweep "$work/grid.json" 300 || fail "sweep did not finish"
counts=$(counts_of "$work/grid.json")
/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; assert c["done"]==4, c' "$counts" && ok || {
  fail "not every cell is done: $counts"
  for f in "$work"/grid/runs/*/job.log "$work"/grid/logs/*; do echo "--- $f"; tail -n 20 "$f"; done
}
out=$("${sweep[@]}" aggregate "$work/grid.json" 2>"$work/agg.err") || fail "aggregate: $(cat "$work/agg.err")"
/usr/bin/python3 - "$work/grid" "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "aggregated tables"
import csv, json, os, sys
root, out = sys.argv[1], json.loads(sys.argv[2])
assert out["cells_done"] == 4 and out["cells_total"] == 4 and out["groups"] == 2, out
cells = list(csv.DictReader(open(os.path.join(root, "cells.csv"))))
assert sorted((r["shots"], r["seed"]) for r in cells) == [("2", "1"), ("2", "2"), ("3", "1"), ("3", "2")], cells
summary = list(csv.DictReader(open(os.path.join(root, "summary.csv"))))
assert [r["shots"] for r in summary] == ["2", "3"] and all(r["n"] == "2" for r in summary), summary
for r in summary:
    for k in ("test_acc_1shot_mean", "test_acc_3shot_mean", "best_val_accuracy_mean"):
        assert 0.0 <= float(r[k]) <= 1.0, (k, r)
md = open(os.path.join(root, "summary.md")).read()
assert "4 of 4 cells finished" in md and md.count("\n| 2 |") == 1 and md.count("\n| 3 |") == 1, md
# Every cell ran with 2 MPI ranks.
for name in os.listdir(os.path.join(root, "runs")):
    s = json.load(open(os.path.join(root, "runs", name, "summary.json")))
    assert s["world_size"] == 2 and s["resumed_from_step"] == 0, s
PY

# --- 2. resubmitting a finished sweep submits nothing -----------------------------------------
before=$(find "$work/grid/runs" -type f -newer "$work/grid/summary.md" | wc -l)
out=$("${sweep[@]}" submit "$work/grid.json" 2>"$work/submit2.err")
[ "$(tail -n 1 <<<"$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["submitted"])')" = "[]" ] &&
  ok || fail "resubmit submitted something: $out $(cat "$work/submit2.err")"
sleep 2
[ -z "$(squeue -h)" ] && [ "$before" = "$(find "$work/grid/runs" -type f -newer "$work/grid/summary.md" | wc -l)" ] &&
  ok || fail "a finished cell ran again"

# --- 3. a cell cancelled midway is resumed by resubmitting, on another --ntasks ---------------
# Same options as cell shots=3,seed=1 of sweep 1 except --steps, which a resume may extend;
# so run a long reference and an interrupted copy with identical options. The copy is
# resubmitted with --ntasks=1: its 2 x 1 task slots continue as 1 x 2 (same R x T), and it
# still ends bit-identical to the 2-rank reference.
# Long enough that the cell is still running when cancelled: 15 000 steps of this tiny world
# took 3 s on the fused kernels, inside the time squeue and scancel take under load, so the
# long runs here are 100 000 steps (about 20 s).
write_spec long $long_steps 100 '{"shots": [3], "seed": [1]}'
write_spec longref $long_steps 100 '{"shots": [3], "seed": [1]}'
"${sweep[@]}" submit "$work/long.json" >/dev/null 2>"$work/submit3.err" || fail "submit long: $(cat "$work/submit3.err")"
cell="$work/long/runs/shots=3,seed=1"
# The wait remembers what it saw (a checkpoint, and the job that was queued then), so that a
# failure says whether the job never started, never checkpointed, or ended before the cancel.
seen_checkpoint=""
waited_from=$SECONDS
for i in $(seq 1 600); do  # up to 5 min: under a loaded suite the job may wait to start
  if ls "$cell"/checkpoints/step_*.h5 >/dev/null 2>&1; then seen_checkpoint=yes; break; fi
  sleep 0.5
done
job=$(squeue -h -o '%i' | head -n 1)
if [ -z "$job" ] || [ -z "$seen_checkpoint" ]; then
  fail "the long cell never wrote a step checkpoint while queued (job '$job', checkpoint seen: '${seen_checkpoint:-no}', waited $((SECONDS - waited_from)) s)"
  # What the next reader needs to find the cause of this (rare) failure.
  squeue -a -o '%i %T %M %R' 2>&1 | sed 's/^/  squeue: /'
  sinfo -N -o '%N %T %E' 2>&1 | sed 's/^/  sinfo: /'  # a drained or down node, and why
  ls -la "$cell" "$cell/checkpoints" 2>&1 | sed 's/^/  ls: /'
  for f in "$cell/job.log" "$cell/train.out" "$cell/train.err" "$work"/long/logs/*; do
    [ -f "$f" ] && { echo "  --- $f"; tail -n 15 "$f" | sed 's/^/  /'; }
  done
  slurm_cluster_dump_logs 2>&1 | sed 's/^/  /'
else
  scancel "$job"
  wait_sweep "$work/long.json" 120 || fail "cancelled cell still queued"
  counts=$(counts_of "$work/long.json")
  /usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; assert c["interrupted"]==1, c' "$counts" &&
    ok || fail "a cancelled cell should be interrupted: $counts; $(tail -n 5 "$cell/job.log")"
  stopped=$(grep -o '"stopped_at_step":[0-9]*' "$cell/train.out" | cut -d: -f2)
  [ -n "$stopped" ] && [ "$stopped" -lt "$long_steps" ] && ok || fail "croma did not checkpoint on scancel's SIGTERM: $(tail -n 5 "$cell/job.log")"
  write_spec long $long_steps 100 '{"shots": [3], "seed": [1]}' 1
  "${sweep[@]}" submit "$work/long.json" >/dev/null 2>"$work/submit4.err" || fail "resubmit long: $(cat "$work/submit4.err")"
  "${sweep[@]}" submit "$work/longref.json" >/dev/null 2>"$work/submit5.err" || fail "submit longref: $(cat "$work/submit5.err")"
  wait_sweep "$work/long.json" 400 && wait_sweep "$work/longref.json" 400 || fail "resumed sweep did not finish"
  /usr/bin/python3 - "$cell" "$work/longref/runs/shots=3,seed=1" "${stopped:-0}" <<'PY' && ok || fail "resumed cell check: $(tail -n 8 "$cell/job.log")"
import json, os, sys, h5py, numpy as np
cell, ref, stopped = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(os.path.join(cell, "summary.json")))
assert s["resumed_from_step"] == stopped and s["steps"] == int(os.environ["LONG_STEPS"]), s
assert s["world_size"] == 1 and s["tasks_per_rank"] == 2, s
assert "continuing the run's 2 task slots as 1 rank(s) x 2" in open(os.path.join(cell, "job.log")).read()
assert os.path.exists(os.path.join(cell, "eval.json"))
def params(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
    return out
a, b = params(os.path.join(cell, "checkpoints", "final.h5")), params(os.path.join(ref, "checkpoints", "final.h5"))
assert a.keys() == b.keys() and a
for k in a:
    assert a[k].tobytes() == b[k].tobytes(), k
assert json.load(open(os.path.join(cell, "eval.json")))["results"] == json.load(open(os.path.join(ref, "eval.json")))["results"]
PY
fi

# --- 4. the time-limit signal: checkpoint, requeue, complete -----------------------------------
write_spec usr1 $long_steps 100 '{"shots": [3], "seed": [2]}'
"${sweep[@]}" submit "$work/usr1.json" >/dev/null 2>"$work/submit6.err" || fail "submit usr1: $(cat "$work/submit6.err")"
cell="$work/usr1/runs/shots=3,seed=2"
for i in $(seq 1 240); do
  [ "$(cat "$cell/metrics.jsonl" 2>/dev/null | grep -c '"align_loss"')" -ge 50 ] && break
  sleep 0.5
done
job=$(squeue -h -o '%i' | head -n 1)
if [ -z "$job" ]; then
  fail "the usr1 cell was not running"
else
  # What --signal=USR1@T delivers before the time limit: USR1 to the job's steps.
  scancel --signal=USR1 "$job"
  wait_sweep "$work/usr1.json" 400 || fail "requeued cell did not finish"
  /usr/bin/python3 - "$cell" <<'PY' && ok || fail "usr1 cell: $(tail -n 12 "$cell/job.log")"
import json, os, sys
cell = sys.argv[1]
s = json.load(open(os.path.join(cell, "summary.json")))
assert 0 < s["resumed_from_step"] < int(os.environ["LONG_STEPS"]), s
assert os.path.exists(os.path.join(cell, "eval.json"))
log = open(os.path.join(cell, "job.log")).read()
assert "requeueing" in log and "restart 1" in log, log
PY
fi

# --- 5. the single-run scripts --------------------------------------------------------------
export CROMA=$croma
single=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
        --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --shots 3 --ways 4
        --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
        --steps 20 --val-every 10)
if sbatch --wait --ntasks=2 --output="$work/train-%j.out" "$src/jobs/train.sbatch" \
     --run-dir "$work/single" "${single[@]}" >/dev/null 2>"$work/sbatch-train.err" &&
   sbatch --wait --output="$work/eval-%j.out" "$src/jobs/eval.sbatch" --run-dir "$work/single" \
     --eval-shots 1,3 >/dev/null 2>"$work/sbatch-eval.err"; then
  /usr/bin/python3 - "$work/single" <<'PY' && ok || fail "train.sbatch / eval.sbatch results"
import json, os, sys
run = sys.argv[1]
s = json.load(open(os.path.join(run, "summary.json")))
assert s["world_size"] == 2 and s["steps"] == 20, s
e = json.load(open(os.path.join(run, "eval.json")))
assert [r["shots"] for r in e["results"]] == [1, 3], e
PY
else
  fail "train.sbatch or eval.sbatch failed: $(cat "$work"/sbatch-*.err "$work"/train-*.out "$work"/eval-*.out 2>/dev/null | tail -n 15)"
fi

# --- 6. a rank killed with SIGKILL under srun ------------------------------------------------
# srun --kill-on-bad-exit=1 (jobs/train.sbatch) ends the other rank and the job: it must leave
# the queue within a bound, marked failed, and a resubmission resumes the run to its end --
# here with one task instead of two, as a job that got fewer nodes: same options, 1 x 2 slots.
dead=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
      --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --shots 3 --ways 4
      --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
      --steps $long_steps --val-every 5000 --checkpoint-every 20 --log-every 10)
job=$(sbatch --parsable --ntasks=2 --output="$work/dead-%j.out" "$src/jobs/train.sbatch" \
        --run-dir "$work/dead" "${dead[@]}" 2>"$work/sbatch-dead.err")
# The job may wait in the queue behind the previous parts' jobs: allow it 5 minutes to start.
# Any step checkpoint (older ones are pruned as the run goes on, so do not wait for one name).
for i in $(seq 1 3000); do ls "$work"/dead/checkpoints/step_*.h5 >/dev/null 2>&1 && break; sleep 0.1; done
ranks=()
for i in $(seq 1 50); do
  ranks=($(pgrep -f "^$croma train --resume.*$work/dead" | sort -n))
  [ "${#ranks[@]}" -eq 2 ] && break
  sleep 0.1
done
if [ "${#ranks[@]}" -ne 2 ]; then
  fail "dead rank: expected 2 rank processes of job $job, found ${#ranks[@]} (job state: $(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*'); $(tail -n 3 "$work"/dead-*.out 2>/dev/null))"
else
  kill -9 "${ranks[1]}"
  killed_at=$(date +%s)
  for i in $(seq 1 600); do squeue -h -j "$job" 2>/dev/null | grep -q . || break; sleep 0.1; done
  took=$(( $(date +%s) - killed_at ))
  [ "$took" -le 60 ] && ok || fail "dead rank: job $job still queued $took s after the kill"
  # The test cluster keeps no accounting database: ask slurmctld, which remembers ended jobs.
  state=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  case $state in FAILED*|CANCELLED*|NODE_FAIL*) ok ;; *) fail "dead rank: job $job ended as '$state', expected FAILED" ;; esac
  [ ! -e "$work/dead/checkpoints/final.h5" ] && ok || fail "dead rank: a final checkpoint was written"
  echo "slurm: job $job ended $took s after one rank was killed ($state)"
  if sbatch --wait --ntasks=1 --output="$work/dead-resume-%j.out" "$src/jobs/train.sbatch" \
       --run-dir "$work/dead" "${dead[@]}" >/dev/null 2>>"$work/sbatch-dead.err"; then
    /usr/bin/python3 - "$work/dead" <<'PY' && ok || fail "dead rank: resumed run did not finish"
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
# The kill comes after the first step checkpoint (step_20) at the earliest.
assert s["world_size"] == 1 and s["tasks_per_rank"] == 2 and s["steps"] == int(os.environ["LONG_STEPS"]) and s["resumed_from_step"] >= 20, s
PY
  else
    fail "dead rank: resubmission failed: $(tail -n 5 "$work"/dead-resume-*.out 2>/dev/null)"
  fi
fi

echo "slurm: $passed passed, $failures failed"
[ $failures -eq 0 ]
