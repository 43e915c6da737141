#!/usr/bin/env bash
# croma study / croma advise as users meet them: clear one-line errors for invalid grids,
# result files (CSV, HDF5 readable by h5py, summary JSON) written only on success, the same
# table from 1 and 2 MPI ranks, and advise's decision.
# usage: study_cli_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
mpirun=$2
source "$(dirname "$0")/harness.sh"

small=(--d 4 --n1 40 --n2 8 --n-align 9,20,200 --sigma-w2 0,0.5,1 --trials 200 --quiet)

expect_error "n_align = 5 is too small for d = 4 (must be > d + 1 = 5" study --out "$work/bad1" --d 4 --n1 40 --n2 8 --n-align 5,20
expect_error "n2 = 20 is too small for d = 20" study --out "$work/bad2" --n2 20
expect_error "sigma_w2 = -0.5 is invalid (a variance must be a finite number >= 0)" study --out "$work/bad3" --sigma-w2=-0.5,0
expect_error "sigma2 = -1 is invalid" study --out "$work/bad4" --sigma2 -1
expect_error "invalid value for --n-align: '10,x'" study --out "$work/bad5" --n-align 10,x
expect_error "invalid value for --method: 'fast'" study --out "$work/bad6" --method fast
expect_error "the n_align grid must be strictly increasing" study --out "$work/bad7" --n-align 100,50
for d in bad1 bad2 bad3 bad4 bad5 bad6 bad7; do
  [ -e "$work/$d/summary.json" ] && fail "$d: summary.json written after an error" || ok
done

# One rank and two ranks: identical tables.
"$croma" study --out "$work/one" "${small[@]}" >"$work/one.out" 2>"$work/one.err" || fail "1-rank study failed: $(cat "$work/one.err")"
"$mpirun" --oversubscribe -np 2 "$croma" study --out "$work/two" "${small[@]}" >"$work/two.out" 2>"$work/two.err" \
  || fail "2-rank study failed: $(cat "$work/two.err")"
if cmp -s "$work/one/study.csv" "$work/two/study.csv"; then ok; else fail "study.csv differs between 1 and 2 ranks"; fi
tail -n 1 "$work/one.out" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["command"]=="study" and s["cells"]==9, s' \
  && ok || fail "last stdout line is not the study JSON"
/usr/bin/python3 - "$work/one" <<'PY' && ok || fail "result files are inconsistent"
import csv, json, sys, h5py, math
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/study.csv")))
assert len(rows) == 9, len(rows)
with h5py.File(d + "/study.h5", "r") as f:
    assert f["cells/cross_mean"].shape == (9,)
    assert abs(f["cells/cross_mean"][4] - float(rows[4]["cross_mean"])) < 1e-8 * abs(f["cells/cross_mean"][4])
for r in rows:
    for k in ("supervised", "source", "cross"):
        assert float(r[k + "_sem"]) > 0
        assert abs(float(r[k + "_mean"]) - float(r[k + "_theory"])) < 5 * float(r[k + "_sem"]), (r, k)
s = json.load(open(d + "/summary.json"))
assert len(s["crossovers"]) == 3 and s["crossovers"][0]["measured_below_grid"]
PY
expect_error "already holds study results" study --out "$work/one" "${small[@]}"

# Weak alignment writes weak.csv and reports the optimum per N.
"$croma" study --out "$work/weak" --skip-main --weak --d 3 --n1 30 --weak-n 40,160 --weak-trials 6 --quiet \
  >"$work/weak.out" 2>"$work/weak.err" || fail "weak study failed: $(cat "$work/weak.err")"
tail -n 1 "$work/weak.out" | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert len(s["weak"]["optima"])==2, s' \
  && ok || fail "weak summary missing"
[ -s "$work/weak/weak.csv" ] && ok || fail "weak.csv missing"

# advise: theory, decision and the n_align needed.
out=$("$croma" advise --d 20 --sigma2 1 --sigma-w2 1 --n1 250 --n2 40 --n-align 1000 2>&1) || fail "advise failed: $out"
tail -n 1 <<<"$out" | /usr/bin/python3 -c '
import json,sys
s=json.load(sys.stdin)
assert s["decision"]=="align", s
assert abs(s["supervised_error"] - 20/19) < 1e-12
assert 430 < s["n_align_needed"] < 440, s
' && ok || fail "advise JSON wrong: $out"
out=$("$croma" advise --d 20 --sigma2 1 --sigma-w2 1 --n1 250 --n2 40 --n-align 100 2>&1)
grep -q "decision: use supervised learning" <<<"$out" && ok || fail "advise did not choose supervised: $out"
expect_error "no such file" advise --shards x.h5
expect_error "n_align = 10 is too small" advise --n-align 10

# Their options are option-registry tables: --help shows the paper's setting as the defaults,
# every value is range-checked with the option named, and --config files are read.
help=$("$croma" study --help)
for want in "--n1 arg (=250)" "--n2 arg (=40)" "--trials arg (=1000)" "--weak-n arg (=100,400,1600)" \
            "--method arg (=stats)" "--out arg (=runs/study)" "--config arg"; do
  grep -qF -- "$want" <<<"$help" && ok || fail "croma study --help lacks '$want'"
done
grep -qF -- '--help-markdown' <<<"$help" && ok || fail "croma study --help lacks --help-markdown"
"$croma" advise --help | grep -qF -- "--variance-kept arg (=0.9" && ok || fail "croma advise --help lacks --variance-kept's default"
md=$("$croma" study --help-markdown)
grep -qF '| `--weak-sets` |  | comma-separated list, each integer |' <<<"$md" && ok || fail "study --help-markdown: --weak-sets row: $(grep -F -- '--weak-sets' <<<"$md")"
grep -qF '| `--method` | `stats` | `stats`, `direct` |' <<<"$md" && ok || fail "study --help-markdown: --method row"
expect_error "invalid value for --threads: 0 (must be >= 1)" study --out "$work/bad8" --threads 0
expect_error "invalid value for --device: 'gpu' (allowed: auto, cpu, cuda, cuda:N)" study --out "$work/bad9" --device gpu
expect_error "invalid value for --weak-sets: '5,x'" study --out "$work/bad10" --weak --weak-sets 5,x
expect_error "invalid value for --sigma-w2: '0,y' (expected a comma-separated list of numbers" study --out "$work/bad11" --sigma-w2 0,y
expect_error "invalid value for --variance-kept: 0" advise --variance-kept 0
expect_error "--skip-main without --weak leaves nothing to run" study --out "$work/bad12" --skip-main
printf 'd = 4\nn1 = 40\nn2 = 8\nn-align = 9,20,200\nsigma-w2 = 0,0.5,1\ntrials = 200\nquiet = true\n' >"$work/study.cfg"
"$croma" study --out "$work/from_config" --config "$work/study.cfg" >/dev/null 2>"$work/config.err" ||
  fail "study --config failed: $(cat "$work/config.err")"
cmp -s "$work/one/study.csv" "$work/from_config/study.csv" && ok || fail "study --config FILE differs from the same options typed"
out=$("$croma" advise --d 20 --sigma2 1 --sigma-w2 1 --n1 250 --n2 40 --n-align 100 --n-align 1000 2>&1)
[ $? -ne 0 ] && ok || fail "advise accepted --n-align twice: $out"

echo "study_cli_test: $passed passed, $failures failed"
[ $failures -eq 0 ]
