# Shared by the shell tests in this folder (sourced, not run): a scratch folder removed on
# exit, pass/fail counters, expect_error for croma's one-line errors, and params_equal for checkpoints.
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

# params_equal A.h5 B.h5: two checkpoints hold the same meta-parameters, bit for bit
params_equal() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys() and a, (sorted(a), sorted(b))
assert all(np.array_equal(a[k], b[k]) for k in a), [k for k in a if not np.array_equal(a[k], b[k])]
PY
}
