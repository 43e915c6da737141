#!/usr/bin/env bash
# The same numbers on any layout: for a fixed number of task slots R x T, every layout of R
# ranks x T slots per rank ends with bit-identical meta-parameters (final.h5), best checkpoint
# (best.h5), metrics and summary (meta/exact_sum.h):
#  - 1 x 4, 2 x 2 and 4 x 1 for 500 meta-steps of the default configuration (fused inner
#    loops); layout_methods_test.sh does the same for a baseline and an LSTM / CNN model;
#  - `--resume` on another number of ranks continues bit for bit: 2 x 2 -> 4 ranks with the
#    run's own --tasks-per-rank (croma picks T = 1), 4 x 1 -> 1 x 4 with --tasks-per-rank 4;
#  - a resume that would change R x T is refused, naming the layouts that work.
# usage: layout_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=$2
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
source "$(dirname "$0")/layout_harness.sh"
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
