#!/usr/bin/env bash
# Two `jobs/sweep.py run` launchers started at once on one spec finish it together: every cell
# trains and evaluates exactly once (a cell's job.log has one train and one eval line), both
# launchers exit 0, and no cell lock is left behind. Also jobs/run_lock.py on its own: a live
# holder is refused, a dead one on this host and an expired one of another host are taken over.
# usage: sweep_launchers_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/harness.sh"
py=/usr/bin/python3

cat >"$work/spec.json" <<EOF2
{"name": "two-launchers", "root": "root", "croma": "$croma",
 "train": {"steps": 30, "concepts": 20, "samples-per-concept": 24, "latent-dim": 6, "nuisance-dim": 4,
           "source-dim": 24, "target-dim": 16, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16,
           "ways": 4, "shots": 3, "val-every": 0, "checkpoint-every": 0, "quiet": true,
           "eval-ways": 4, "eval-shots": "3", "eval-queries": 4},
 "eval": {"eval-ways": 4, "eval-shots": "3", "eval-tasks": 8, "eval-queries": 4, "eval-steps": 3},
 "grid": {"meta-lr": [0.1, 0.5, 1.0], "seed": [1, 2, 3]}}
EOF2
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 1 >"$work/a.out" 2>"$work/a.err" &
a=$!
"$py" "$here/jobs/sweep.py" run "$work/spec.json" --jobs 1 >"$work/b.out" 2>"$work/b.err" &
b=$!
wait $a && ok || fail "launcher A: $(tail -n 5 "$work/a.err")"
wait $b && ok || fail "launcher B: $(tail -n 5 "$work/b.err")"
"$py" - "$work/root/runs" <<'PY' && ok || fail "cells ran other than once each"
import glob, os, sys
cells = sorted(glob.glob(os.path.join(sys.argv[1], "*")))
assert len(cells) == 9, cells
for c in cells:
    log = open(os.path.join(c, "job.log")).read().splitlines()
    trains = [l for l in log if l.startswith("== ") and " train: " in l]
    evals = [l for l in log if l.startswith("== ") and " eval: " in l]
    assert len(trains) == 1 and len(evals) == 1, (c, log)
    assert os.path.exists(os.path.join(c, "eval.json")), c
    assert not os.path.exists(os.path.join(c, "cell.lock")), c
    assert not os.path.exists(os.path.join(c, "croma.lock")), c
PY
# Both launchers took part (neither simply waited for the other): each ran at least one cell.
for x in a b; do
  grep -q "^  done: " "$work/$x.err" && ok || fail "launcher $x ran no cell: $(cat "$work/$x.err")"
done

# --- jobs/run_lock.py on its own ------------------------------------------------------------------
lock=$work/cell.lock
token=$("$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $$) && ok || fail "acquire on a free cell"
"$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $$ 2>"$work/held.err"
[ $? -eq 3 ] && grep -qF "is held by a sweep cell (jobs/cell.sbatch) on host $(hostname), pid $$" "$work/held.err" && ok ||
  fail "a live holder was not refused: $(cat "$work/held.err")"
"$py" "$here/jobs/run_lock.py" release "$lock" wrong-token; [ -e "$lock" ] && ok || fail "release with another token removed the lock"
"$py" "$here/jobs/run_lock.py" release "$lock" "$token"; [ ! -e "$lock" ] && ok || fail "release left the lock"
sh -c 'exit 0' & dead=$!; wait $dead
"$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $dead >/dev/null || fail "acquire for a pid"
"$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $$ >/dev/null 2>"$work/dead.err" &&
  grep -qF "is gone" "$work/dead.err" && ok || fail "a dead holder was not taken over: $(cat "$work/dead.err")"
printf '{"purpose":"x","host":"lost-node","pid":1,"lease_s":2,"token":"t"}\n' >"$lock"
"$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $$ 2>/dev/null; [ $? -eq 3 ] && ok || fail "a fresh lock of another host was taken"
"$py" "$here/jobs/run_lock.py" acquire "$lock" --pid $$ --wait 15 >/dev/null 2>"$work/lease.err" &&
  grep -qF "more than its 2 s lease" "$work/lease.err" && ok || fail "an expired lease was not taken over: $(cat "$work/lease.err")"

echo "sweep_launchers: $passed passed, $failures failed"
[ $failures -eq 0 ]
