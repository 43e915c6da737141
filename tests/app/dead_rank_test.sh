#!/usr/bin/env bash
# A rank that dies (kill -9) mid-training must not leave the others waiting: the job ends
# within a bounded time with a clear message and a non-zero exit, writes no final checkpoint,
# and the last step checkpoint it did write continues the run with --resume.
# usage: dead_rank_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
mpirun=$2
source "$(dirname "$0")/harness.sh"
bound_s=30

opts=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
      --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --ways 4 --shots 3
      --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10
      --steps 4000 --checkpoint-every 100 --val-every 0 --quiet)
run="$work/run"
"$mpirun" --oversubscribe -np 2 "$croma" train --run-dir "$run" "${opts[@]}" \
  >"$work/out" 2>"$work/err" &
job=$!
# Wait (bounded) for the first step checkpoint, then kill rank 1 with SIGKILL.
for _ in $(seq 300); do
  ls "$run"/checkpoints/step_*.h5 >/dev/null 2>&1 && break
  sleep 0.1
done
victim=""
for pid in $(pgrep -f "croma train --run-dir $run"); do
  if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
if [ -z "$victim" ]; then
  fail "no rank 1 process found (did training start? $(cat "$work/err"))"
else
  start=$(date +%s)
  kill -9 "$victim"
  # Wait for mpirun, but never longer than the bound.
  for _ in $(seq $((bound_s * 10))); do
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$job" 2>/dev/null; then
    fail "the job still runs ${bound_s}s after rank 1 was killed"
    pkill -9 -f "croma train --run-dir $run"
  fi
  wait "$job"; code=$?
  elapsed=$(( $(date +%s) - start ))
  echo "job ended ${elapsed}s after SIGKILL of rank 1, exit code $code"
  [ "$code" -ne 0 ] && ok || fail "the job exited 0 after a rank died"
  grep -q "exited on signal 9" "$work/err" && ok || fail "no message naming the dead rank: $(tail -5 "$work/err")"
  [ ! -e "$run/checkpoints/final.h5" ] && ok || fail "a final checkpoint was written by a broken job"
  ls "$run"/checkpoints/*.tmp >/dev/null 2>&1 && fail "a temporary checkpoint was left behind" || ok
  # The newest step checkpoint is whole and the run continues from it.
  out=$("$mpirun" --oversubscribe -np 2 "$croma" train --run-dir "$run" "${opts[@]}" --resume 2>"$work/resume.err")
  code=$?
  [ $code -eq 0 ] || fail "--resume after the dead rank exited $code: $(grep 'croma' "$work/resume.err" | head -3)"
  /usr/bin/python3 - "$(tail -n 1 <<<"$out")" <<'PY' && ok || fail "resumed run summary: $out"
import json, sys
s = json.loads(sys.argv[1])
assert s["steps"] == 4000 and s["resumed_from_step"] >= 100, s
PY
fi
echo "dead_rank: $passed passed, $failures failed"
[ $failures -eq 0 ]
