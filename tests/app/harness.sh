# Shared by the shell tests in this folder (sourced, not run): a scratch folder removed on
# exit, pass/fail counters, and expect_error for croma's one-line errors.
# The sourcing script sets $croma before calling expect_error.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { passed=$((passed + 1)); }

# expect_error "expected message" args... : croma exits non-zero, prints exactly one stderr
# line containing the message, and nothing on stdout.
expect_error() {
  local want=$1; shift
  local out err code
  out=$("$croma" "$@" 2>"$work/stderr"); code=$?
  err=$(cat "$work/stderr")
  if [ $code -eq 0 ]; then fail "croma $* exited 0"; return; fi
  if ! grep -qF -- "$want" <<<"$err"; then fail "croma $*: stderr lacks '$want': $err"; return; fi
  if [ "$(wc -l <<<"$err")" -ne 1 ]; then fail "croma $*: expected one error line, got: $err"; return; fi
  if [ -n "$out" ]; then fail "croma $*: printed on stdout: $out"; return; fi
  ok
}
