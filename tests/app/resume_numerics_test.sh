#!/usr/bin/env bash
# A resume on a machine that rounds differently says so (app/numerics_fingerprint.h):
#  - every resumable checkpoint records the ranks' numerics fingerprints, and summary.json
#    lists them;
#  - resuming with the same numerics prints no warning and summary.json says
#    "numerics_changed_on_resume": false;
#  - resuming with other numerics (here OPENBLAS_CORETYPE, one of the fields; on a cluster,
#    another kind of node) prints one warning line naming the field and both values,
#    continues to the end, and summary.json says true.
# The two BLAS kernels named, Nehalem (SSE4.2) and Prescott (SSE3), run on every x86-64 CPU
# this suite is for: a test must never force an instruction set the CPU may lack (an AVX-512
# kernel dies with SIGILL on an AVX2-only machine).
# (A checkpoint from before fingerprints were recorded compares as unknown, without a warning:
# tests/app/numerics_fingerprint_test.cpp; an edited checkpoint would fail its checksum.)
# usage: resume_numerics_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
source "$(dirname "$0")/harness.sh"
py=/usr/bin/python3
small=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
       --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --ways 4 --shots 3
       --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
       --checkpoint-every 10 --val-every 0)
run=$work/run
export OPENBLAS_CORETYPE=Nehalem

"$croma" train --run-dir "$run" "${small[@]}" --steps 20 >"$work/a.out" 2>"$work/a.err" ||
  fail "first run failed: $(tail -n 3 "$work/a.err")"
"$py" - "$run" <<'PY' && ok || fail "the fingerprints are not recorded"
import json, os, sys, h5py
run = sys.argv[1]
s = json.load(open(os.path.join(run, "summary.json")))
assert len(s["numerics"]) == 1 and "openblas_coretype=Nehalem" in s["numerics"][0], s["numerics"]
assert s["numerics_changed_on_resume"] is False, s
with h5py.File(os.path.join(run, "checkpoints", "step_20.h5"), "r") as f:
    raw = f["train_state"].attrs["bookkeeping"]
    book = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
assert book["numerics"] == s["numerics"], (book.get("numerics"), s["numerics"])
PY

# Same numerics: no warning.
"$croma" train --run-dir "$run" "${small[@]}" --steps 30 --resume >"$work/b.out" 2>"$work/b.err" ||
  fail "resume with the same numerics failed: $(tail -n 3 "$work/b.err")"
if grep -q "numerics" "$work/b.err"; then fail "a resume with the same numerics warned: $(cat "$work/b.err")"; else ok; fi
"$py" -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["numerics_changed_on_resume"] is False and s["resumed_from_step"] == 20, s' \
  "$run/summary.json" && ok || fail "summary after a resume with the same numerics"

# Other numerics: one warning line naming the field and both values; the run ends.
OPENBLAS_CORETYPE=Prescott "$croma" train --run-dir "$run" "${small[@]}" --steps 40 --resume >"$work/c.out" 2>"$work/c.err" ||
  fail "resume with other numerics failed: $(tail -n 3 "$work/c.err")"
warnings=$(grep -c "warning: resuming with other numerics" "$work/c.err")
[ "$warnings" = 1 ] && grep -qF "openblas_coretype: 'Nehalem' -> 'Prescott'" "$work/c.err" &&
  grep -qF "not bit for bit" "$work/c.err" && ok || fail "expected one warning naming openblas_coretype: $(cat "$work/c.err")"
"$py" - "$run" <<'PY' && ok || fail "summary after a resume with other numerics"
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
assert s["numerics_changed_on_resume"] is True and s["resumed_from_step"] == 30 and s["steps"] == 40, s
assert "openblas_coretype=Prescott" in s["numerics"][0], s["numerics"]
assert os.path.exists(os.path.join(sys.argv[1], "checkpoints", "final.h5"))
PY

echo "resume_numerics: $passed passed, $failures failed"
[ $failures -eq 0 ]
