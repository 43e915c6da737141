#!/usr/bin/env bash
# croma across two Slurm nodes (tests/slurm/two_nodes.sh: slurmctld + two slurmd, each node in
# a network and UTS namespace of its own, joined by veth links to a bridge; started here and
# torn down on any exit, leaving no namespace, link or daemon):
#  1. jobs/train.sbatch with --nodes=2 --ntasks-per-node=2 completes; ranks 0-1 run on one
#     host and 2-3 on the other, each pair as local ranks 0-1 of its node (per rank: host,
#     local rank, device, as croma prints them), and the final meta-parameters are
#     bit-identical to the same 4-rank run on one node (mpirun -np 4; same layout 4 ranks x
#     1 task, so the same summation order: nothing may differ);
#  2. a sweep whose cells span the 2 nodes runs to the end and aggregates;
#  3. jobs/study.sbatch over 4 ranks on 2 nodes computes on 4 ranks and writes a study.csv
#     bit-identical to one rank's;
#  4. one node dies mid-run (SIGKILL to its slurmd, steps and ranks): the job ends within
#     60 s with the reason in its log, and a resubmission resumes from the last checkpoint and
#     ends with the final meta-parameters of the run never interrupted (part 1's).
# A kernel that refuses namespaces, or a daemon that does not start, is a failure with one
# clear message, never a skip.
# usage: two_nodes_test.sh CROMA SOURCE_DIR MPIRUN
# TWO_NODES_PARTS=1 (or 12, 134, ...) runs only those parts (1 always runs: 4 needs its result).
set -uo pipefail
croma=$(readlink -f "$1")
src=$(readlink -f "$2")
mpirun=${3:-mpirun}
parts=${TWO_NODES_PARTS:-1234}
work=$(mktemp -d /tmp/croma-two-nodes.XXXXXX)
source "$src/tests/slurm/two_nodes.sh"
failures=0
passed=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { passed=$((passed + 1)); }
cleanup() {
  if [ -n "${SLURM_CONF:-}" ]; then scancel --user="$(id -un)" 2>/dev/null; sleep 1; fi
  two_nodes_stop
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
started=$SECONDS

if ! two_nodes_start "$work/cluster"; then
  echo "FAIL: could not start the two-node Slurm cluster (see above)"
  echo "two-nodes: 0 passed, 1 failed"
  exit 1
fi
# MPI between the nodes: TCP on the test link only (the nodes' other interface is their own
# loopback). Within a node Open MPI uses shared memory, as on a real cluster.
export OMPI_MCA_btl_tcp_if_include=$TWO_NODES_NET.0/24 OMPI_MCA_oob_tcp_if_include=$TWO_NODES_NET.0/24
export CROMA=$croma
# A short run-directory lock lease (include/croma/io/run_lock.h): the resubmission after the node
# failure below waits out a lost rank 0's lock (jobs/train.sbatch passes --lock-wait) in seconds.
export CROMA_LOCK_LEASE_S=8
# The 1-node references run under mpirun directly, as root here (CI runs as root), with the
# thread counts train.sbatch sets (OMP_NUM_THREADS also sizes OpenBLAS's threads, and with it
# how a product is split and summed).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# What a parameter check compares: every dataset of a checkpoint but its training state.
params_equal() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
def params(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
    return out
a, b = params(sys.argv[1]), params(sys.argv[2])
assert a.keys() == b.keys() and a, (sorted(a), sorted(b))
diff = [k for k in a if not np.array_equal(a[k], b[k])]
assert not diff, f"differ: {diff}"
PY
}

# Tiny world: a run trains in seconds on 2 loaded cores.
tiny=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
      --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --shots 3 --ways 4
      --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet)

# --- 1. train.sbatch on 2 nodes x 2 ranks = the same run on 1 node x 4 ranks -------------------
steps=(--steps 300 --val-every 150 --checkpoint-every 20 --log-every 50)
t0=$SECONDS
if sbatch --wait --nodes=2 --ntasks-per-node=2 --output="$work/train2-%j.out" "$src/jobs/train.sbatch" \
     --run-dir "$work/two" "${tiny[@]}" "${steps[@]}" >/dev/null 2>"$work/sbatch-train2.err"; then
  ok
else
  fail "train.sbatch on 2 nodes failed: $(cat "$work/sbatch-train2.err" "$work"/train2-*.out 2>/dev/null | tail -n 15)"
fi
echo "two-nodes: 2-node training job took $((SECONDS - t0)) s"
t0=$SECONDS
(unset OMPI_MCA_btl_tcp_if_include OMPI_MCA_oob_tcp_if_include
 "$mpirun" --oversubscribe -np 4 "$croma" train --run-dir "$work/one" "${tiny[@]}" "${steps[@]}" \
   >"$work/one.out" 2>"$work/one.err") || fail "the 1-node 4-rank reference failed: $(tail -n 5 "$work/one.err")"
echo "two-nodes: 1-node 4-rank reference took $((SECONDS - t0)) s"
# Placement, from the summary (gathered by rank 0) and from every rank's own stderr line.
/usr/bin/python3 - "$work/two/summary.json" "$work"/train2-*.out <<'PY' && ok || fail "rank placement across the 2 nodes: $(grep placement "$work"/train2-*.out)"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["world_size"] == 4 and s["steps"] == 300, s
p = s["placement"]
assert [r["rank"] for r in p] == [0, 1, 2, 3], p
hosts = [r["host"] for r in p]
assert hosts[0] == hosts[1] and hosts[2] == hosts[3] and hosts[0] != hosts[2], hosts
assert set(hosts) == {"node1", "node2"}, hosts
assert [r["local_rank"] for r in p] == [0, 1, 0, 1], p   # per node, not per job
assert [r["local_size"] for r in p] == [2, 2, 2, 2], p
assert all(r["device"] == "cpu" for r in p), p             # no GPU here; cuda:<local rank> with one
lines = [json.loads(l.split("placement ", 1)[1]) for l in open(sys.argv[2]) if "croma train: placement " in l]
assert sorted(lines, key=lambda r: r["rank"]) == p, (lines, p)
print("two-nodes: placement", [(r["rank"], r["host"], r["local_rank"]) for r in p])
PY
if params_equal "$work/two/checkpoints/final.h5" "$work/one/checkpoints/final.h5" 2>"$work/cmp1.err"; then ok; else
  fail "2 nodes x 2 ranks and 1 node x 4 ranks end with different meta-parameters: $(tail -n 2 "$work/cmp1.err")"
fi

# --- 2. a sweep whose cells span both nodes ---------------------------------------------------
if [[ $parts == *2* ]]; then
cat >"$work/sweep.json" <<JSON
{"name": "nodes", "root": "nodes", "croma": "$croma",
 "train": {"concepts": 20, "samples-per-concept": 24, "latent-dim": 6, "nuisance-dim": 4,
   "source-dim": 24, "target-dim": 16, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16,
   "ways": 4, "eval-ways": 4, "eval-shots": "3", "eval-tasks": 4, "eval-queries": 5,
   "eval-steps": 10, "log-every": 10, "val-every": 20, "quiet": true, "steps": 40,
   "checkpoint-every": 10},
 "grid": {"shots": [2, 3]},
 "eval": {"eval-shots": "1,3"},
 "slurm": {"ntasks": 2, "cpus-per-task": 1, "time": "00:10:00",
           "extra": ["--nodes=2", "--ntasks-per-node=1"]}}
JSON
t0=$SECONDS
sweep=(/usr/bin/python3 "$src/jobs/sweep.py")
"${sweep[@]}" submit "$work/sweep.json" >"$work/sweep-submit.out" 2>&1 || fail "sweep submit: $(tail -n 5 "$work/sweep-submit.out")"
for i in $(seq 1 300); do
  /usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; sys.exit(0 if c["pending"]+c["running"]==0 else 1)' \
    "$("${sweep[@]}" status "$work/sweep.json" 2>/dev/null | tail -n 1)" 2>/dev/null && break
  sleep 1
done
out=$("${sweep[@]}" aggregate "$work/sweep.json" 2>&1 | tail -n 1)
/usr/bin/python3 - "$work/nodes" "$out" <<'PY' && ok || { fail "2-node sweep: $out"; tail -n 15 "$work"/nodes/runs/*/job.log; }
import json, os, sys
root, out = sys.argv[1], json.loads(sys.argv[2])
assert out["cells_done"] == 2 and out["cells_total"] == 2, out
for name in os.listdir(os.path.join(root, "runs")):
    s = json.load(open(os.path.join(root, "runs", name, "summary.json")))
    assert s["world_size"] == 2, s
    assert sorted(r["host"] for r in s["placement"]) == ["node1", "node2"], s["placement"]
    assert [r["local_rank"] for r in s["placement"]] == [0, 0], s["placement"]
PY
echo "two-nodes: 2-cell sweep over 2 nodes took $((SECONDS - t0)) s"
fi

# --- 3. the study on every rank of a 2-node allocation ---------------------------------------
if [[ $parts == *3* ]]; then
study=(--d 4 --n1 40 --n2 8 --n-align 9,20,200 --sigma-w2 0,0.5,1 --trials 200 --quiet)
t0=$SECONDS
sbatch --wait --nodes=2 --ntasks-per-node=2 --output="$work/study-%j.out" "$src/jobs/study.sbatch" \
  --out "$work/study4" "${study[@]}" >/dev/null 2>"$work/sbatch-study.err" ||
  fail "study.sbatch on 2 nodes failed: $(cat "$work/sbatch-study.err" "$work"/study-*.out 2>/dev/null | tail -n 10)"
"$croma" study --out "$work/study1" "${study[@]}" >/dev/null 2>"$work/study1.err" || fail "1-rank study: $(tail -n 3 "$work/study1.err")"
/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["ranks"] == 4, s' "$work/study4/summary.json" &&
  ok || fail "the 2-node study did not run on 4 ranks: $(cat "$work/study4/summary.json" 2>/dev/null)"
cmp -s "$work/study4/study.csv" "$work/study1/study.csv" && ok || fail "study.csv of 4 ranks on 2 nodes differs from 1 rank's"
echo "two-nodes: study on 2 nodes + 1-rank reference took $((SECONDS - t0)) s"
fi

# --- 4. a node dies mid-run ---------------------------------------------------------------------
if [[ $parts == *4* ]]; then
# The same run as part 1 (whose final meta-parameters are the uninterrupted reference), killed
# after its first checkpoint.
long=("${steps[@]}")
# --no-requeue: the job must end (not wait, requeued, for the node), so that the resubmission
# below is what resumes it.
job=$(sbatch --parsable --no-requeue --nodes=2 --ntasks-per-node=2 --output="$work/dead-%j.out" \
        "$src/jobs/train.sbatch" --run-dir "$work/dead" "${tiny[@]}" "${long[@]}" 2>"$work/sbatch-dead.err")
# compgen, not ls: the run prunes old step checkpoints while this looks.
checkpointed=no
for i in $(seq 1 1200); do compgen -G "$work/dead/checkpoints/step_*.h5" >/dev/null && checkpointed=yes && break; sleep 0.1; done
running=$(squeue -h -j "$job" -o '%T' 2>/dev/null)
if [ "$running" != RUNNING ] || [ $checkpointed = no ]; then
  fail "node failure: job $job ($running) wrote no step checkpoint to kill it after"
else
  two_nodes_kill_node node2
  killed_at=$SECONDS
  for i in $(seq 1 1200); do squeue -h -j "$job" 2>/dev/null | grep -q . || break; sleep 0.1; done
  took=$((SECONDS - killed_at))
  echo "two-nodes: job $job ended $took s after node2 was killed"
  [ "$took" -le 60 ] && ok || fail "node failure: job $job still queued $took s after node2 died"
  state=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  reason=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'Reason=[^ ]*')
  log=$(cat "$work"/dead-"$job".out 2>/dev/null)
  echo "two-nodes: job state $state $reason; its log ends with:"; tail -n 6 <<<"$log" | sed 's/^/  | /'
  case $state in NODE_FAIL|FAILED|CANCELLED) ok ;; *) fail "node failure: job $job ended as '$state'" ;; esac
  grep -qE 'node2|NODE_FAIL|[Nn]ode failure' <<<"$log" && ok || fail "node failure: the job log does not name the lost node: $(tail -n 8 <<<"$log")"
  [ ! -e "$work/dead/checkpoints/final.h5" ] && ok || fail "node failure: a final checkpoint was written"
  # The node comes back (its slurmd restarted; ReturnToService=2), and the run is resubmitted.
  t0=$SECONDS
  two_nodes_start_slurmd node2 && two_nodes_wait_idle 2 90 || fail "node2 did not come back"
  echo "two-nodes: node2 back in $((SECONDS - t0)) s"
  if sbatch --wait --nodes=2 --ntasks-per-node=2 --output="$work/dead-resume-%j.out" "$src/jobs/train.sbatch" \
       --run-dir "$work/dead" "${tiny[@]}" "${long[@]}" >/dev/null 2>>"$work/sbatch-dead.err"; then
    /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["world_size"] == 4 and s["steps"] == 300 and 20 <= s["resumed_from_step"] < 300, s' \
      "$work/dead/summary.json" && ok || fail "node failure: resumed run: $(cat "$work/dead/summary.json" 2>/dev/null)"
    params_equal "$work/dead/checkpoints/final.h5" "$work/one/checkpoints/final.h5" 2>"$work/cmp4.err" && ok ||
      fail "node failure: resumed run ends with other meta-parameters than the run never interrupted: $(tail -n 2 "$work/cmp4.err")"
  else
    fail "node failure: resubmission failed: $(tail -n 8 "$work"/dead-resume-*.out 2>/dev/null)"
  fi
fi
fi

# --- teardown leaves nothing behind -------------------------------------------------------------
scancel --user="$(id -un)" 2>/dev/null
two_nodes_stop
if left=$(two_nodes_leftovers "$work"); then ok; else fail "left behind after teardown:$left"; fi
unset SLURM_CONF
echo "two-nodes: total $((SECONDS - started)) s"
echo "two-nodes: $passed passed, $failures failed"
[ $failures -eq 0 ]
