#!/usr/bin/env bash
# croma's guard against what a cluster does to a run directory and what a user mistypes:
#  - every command refuses a stray word and an abbreviated option name with one line naming
#    it, exit 2, nothing written;
#  - two `croma train --resume` at once on one run directory: one is refused at once naming
#    the holder (exit 1) and the run ends bit-identical to one never interrupted;
#  - `croma eval` on a directory a live training holds is refused, and runs once it is gone;
#  - kill -9 of the holder: the next resume takes the lock over, with a warning, and ends
#    bit-identical;
#  - a lock left by another host is honoured within its lease and taken over after it
#    (CROMA_LOCK_LEASE_S; --lock-wait waits for that).
# usage: run_guard_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
source "$(dirname "$0")/harness.sh"

# --- every command refuses what it does not understand -------------------------------------------
nothing_written() { [ ! -e "$1" ] && ok || fail "a refused command wrote $1"; }
expect_error "unexpected word 'stray' after '--steps 10'" train --run-dir "$work/t1" --steps 10 stray
nothing_written "$work/t1"
expect_error "unrecognised option '--step' (option names are written in full: did you mean --steps" train --run-dir "$work/t2" --step 10
nothing_written "$work/t2"
expect_error "unexpected word '5' after '--eval-shots 1': every value belongs to an option, and a list is written with commas and no spaces (--eval-shots 1,5)" \
  eval --run-dir "$work/e1" --eval-shots 1 5
expect_error "did you mean --retrieval" eval --run-dir "$work/e1" --retriev
expect_error "unexpected word 'stray'" study --out "$work/s1" --trials 10 stray
nothing_written "$work/s1"
expect_error "did you mean --trials" study --out "$work/s2" --trial 10
nothing_written "$work/s2"
expect_error "unexpected word 'stray'" advise --d 4 stray
expect_error "did you mean --condition" advise --cond 2
expect_error "unexpected word 'stray'" bench --steps 5 stray
expect_error "did you mean --steps" bench --step 5
expect_error "unrecognised option '--hel'" inspect --hel
for cmd in train eval study advise bench inspect; do
  "$croma" "$cmd" --bogus-option >/dev/null 2>&1; [ $? -eq 2 ] && ok || fail "croma $cmd --bogus-option: exit code not 2"
done

# --- two writers on one run directory ---------------------------------------------------------------
small=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
       --target-dim 16 --hidden 32 --embed-dim 16 --classifier-hidden 16 --ways 4 --shots 3
       --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
       --checkpoint-every 500 --val-every 0 --log-every 100)
long=40000  # meta-steps: several seconds, long enough for a second writer to meet the first
wait_for() { for _ in $(seq 1 600); do compgen -G "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }

"$croma" train --run-dir "$work/ref" "${small[@]}" --steps $long >/dev/null 2>"$work/ref.err" ||
  { echo "FAIL: reference run: $(tail -n 3 "$work/ref.err")"; exit 1; }
[ ! -e "$work/ref/croma.lock" ] && ok || fail "a finished run left its lock behind"

"$croma" train --run-dir "$work/two" "${small[@]}" --steps 20 >/dev/null 2>&1 || fail "first 20 steps failed"
"$croma" train --run-dir "$work/two" "${small[@]}" --steps $long --resume >/dev/null 2>"$work/a.err" &
first=$!
wait_for "$work/two/croma.lock" || fail "the first resume took no lock"
"$croma" train --run-dir "$work/two" "${small[@]}" --steps $long --resume >"$work/b.out" 2>"$work/b.err"
code=$?
still_running=no; kill -0 $first 2>/dev/null && still_running=yes
[ $code -eq 1 ] && grep -qF "is in use by croma train on host $(hostname), pid $first, since" "$work/b.err" &&
  [ "$(wc -l <"$work/b.err")" -eq 1 ] && ok || fail "second resume: exit $code, stderr: $(cat "$work/b.err")"
[ $still_running = yes ] && ok || fail "the first resume ended before the second came (the test proves nothing)"
wait $first && ok || fail "the first resume failed: $(tail -n 3 "$work/a.err")"
params_equal "$work/two/checkpoints/final.h5" "$work/ref/checkpoints/final.h5" 2>"$work/cmp.err" && ok ||
  fail "two writers: the run ends with other meta-parameters: $(tail -n 2 "$work/cmp.err")"
/usr/bin/python3 -c '
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
assert steps == sorted(set(steps)), "metrics.jsonl holds steps twice or out of order"' "$work/two/metrics.jsonl" && ok ||
  fail "metrics.jsonl after two writers"

# --- croma eval on a directory a live training holds (a lock planted for a live process, so
# the check does not race a real training's end) -------------------------------------------------
sleep 120 & sleeper=$!
printf '{"purpose":"croma train","host":"%s","pid":%d,"started":"2026-01-01T00:00:00Z","lease_s":120,"token":"live"}\n' \
  "$(hostname)" "$sleeper" >"$work/two/croma.lock"
"$croma" eval --run-dir "$work/two" >/dev/null 2>"$work/e.err"; code=$?
[ $code -eq 1 ] && grep -qF "is in use by croma train on host $(hostname), pid $sleeper" "$work/e.err" && ok ||
  fail "eval during training: exit $code: $(cat "$work/e.err")"
[ ! -e "$work/two/eval.json" ] && grep -qF '"token":"live"' "$work/two/croma.lock" && ok ||
  fail "a refused eval wrote eval.json or touched the holder's lock"
kill $sleeper; wait $sleeper 2>/dev/null
"$croma" eval --run-dir "$work/two" >/dev/null 2>"$work/e2.err" && grep -qF "is gone" "$work/e2.err" &&
  [ -e "$work/two/eval.json" ] && ok || fail "eval after the holder ended: $(cat "$work/e2.err")"

# --- kill -9 of the holder: the next resume takes over -------------------------------------------
"$croma" train --run-dir "$work/killed" "${small[@]}" --steps $long >/dev/null 2>"$work/k.err" &
holder=$!
wait_for "$work/killed/checkpoints/step_*.h5" || fail "no step checkpoint to kill after"
kill -9 $holder; wait $holder 2>/dev/null
[ -e "$work/killed/croma.lock" ] && ok || fail "kill -9 left no lock (the takeover below proves nothing)"
"$croma" train --run-dir "$work/killed" "${small[@]}" --steps $long --resume >/dev/null 2>"$work/k2.err" &&
  grep -qF "warning: taking over the run-directory lock of croma train on host $(hostname), pid $holder" "$work/k2.err" &&
  grep -qF "is gone" "$work/k2.err" && ok || fail "resume after kill -9: $(cat "$work/k2.err")"
params_equal "$work/killed/checkpoints/final.h5" "$work/ref/checkpoints/final.h5" 2>"$work/cmp.err" && ok ||
  fail "after kill -9: the run ends with other meta-parameters: $(tail -n 2 "$work/cmp.err")"

# --- a lock from another host: honoured within its lease, taken over after it ----------------------
plant() {  # plant DIR LEASE: a lock that host lost-node renewed just now
  printf '{"purpose":"croma train","host":"lost-node","pid":4242,"started":"2026-01-01T00:00:00Z","lease_s":%s,"token":"x"}\n' \
    "$2" >"$1/croma.lock"
}
cp -r "$work/ref" "$work/lease" && rm "$work/lease/checkpoints/final.h5" "$work/lease/summary.json"
plant "$work/lease" 3
"$croma" train --run-dir "$work/lease" "${small[@]}" --steps $long --resume >/dev/null 2>"$work/l1.err"; code=$?
[ $code -eq 1 ] && grep -qF "is in use by croma train on host lost-node, pid 4242" "$work/l1.err" && ok ||
  fail "a fresh lock of another host was not honoured: exit $code: $(cat "$work/l1.err")"
grep -qF '"host":"lost-node"' "$work/lease/croma.lock" && ok || fail "the refused writer touched the holder's lock"
t0=$SECONDS
"$croma" train --run-dir "$work/lease" "${small[@]}" --steps $long --resume --lock-wait 30 >/dev/null 2>"$work/l2.err" &&
  grep -qF "more than its 3 s lease (a lost node)" "$work/l2.err" && ok || fail "lease expiry: $(cat "$work/l2.err")"
[ $((SECONDS - t0)) -le 25 ] && ok || fail "lease expiry took $((SECONDS - t0)) s for a 3 s lease"
params_equal "$work/lease/checkpoints/final.h5" "$work/ref/checkpoints/final.h5" 2>"$work/cmp.err" && ok ||
  fail "after a lease expiry: other meta-parameters: $(tail -n 2 "$work/cmp.err")"
CROMA_LOCK_LEASE_S=abc "$croma" train --run-dir "$work/badlease" "${small[@]}" --steps 5 >/dev/null 2>"$work/bl.err"
[ $? -eq 1 ] && grep -qF "CROMA_LOCK_LEASE_S='abc' is not a positive number of seconds" "$work/bl.err" && ok ||
  fail "a bad lease: $(cat "$work/bl.err")"
[ ! -e "$work/badlease" ] && ok || fail "a refused lease left $work/badlease behind"

echo "run_guard: $passed passed, $failures failed"
[ $failures -eq 0 ]
