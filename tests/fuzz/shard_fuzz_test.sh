#!/usr/bin/env bash
# The shard reader against arbitrary bytes (issue: fault tolerance, bad input).
#  1. Files that once hung or crashed HDF5 1.10 (tests/fuzz/regressions/, found by this fuzzer)
#     make `croma inspect` end within its read limit with one error line naming the file.
#  2. libFuzzer mutates small valid shards for FUZZ_SECONDS (default 60) in fork mode, which
#     keeps going after a crash, a hang or a runaway allocation. Any finding in croma's own
#     code fails the test: a harness finding (a rejection that is not one ShardError line
#     naming the file), an UndefinedBehaviorSanitizer report, or an AddressSanitizer report
#     whose stack reaches croma's code before HDF5's. Findings inside HDF5 itself (which
#     croma cannot fix) are replayed through `croma inspect`, which must again end with one
#     clear error line within the limit.
# Run it longer by hand: FUZZ_SECONDS=3600 bash tests/fuzz/shard_fuzz_test.sh build/croma . build
# usage: shard_fuzz_test.sh CROMA SOURCE_DIR BUILD_DIR
set -uo pipefail
croma=$(realpath "$1")
src=$(realpath "$2")
build=$(realpath "$3")
seconds=${FUZZ_SECONDS:-60}
source "$src/tests/app/harness.sh"

# --- the fuzz target: its own clang build (libFuzzer), reused between runs ---
if ! command -v clang++ >/dev/null; then
  echo "FAIL: clang++ not found (scripts/setup.sh installs clang and libclang-rt-14-dev)"; exit 1
fi
if ! cmake -S "$src/tests/fuzz" -B "$build/fuzz" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log" 2>&1 ||
   ! cmake --build "$build/fuzz" -j2 >"$work/build.log" 2>&1; then
  echo "FAIL: could not build the fuzz target:"; tail -n 20 "$work/configure.log" "$work/build.log"; exit 1
fi
fuzzer=$build/fuzz/shard_fuzzer

# One clean rejection (or acceptance) by the real croma within the read limit.
replay() {
  local file=$1 rc lines
  CROMA_READ_TIMEOUT_S=5 timeout 60 "$croma" inspect "$file" >/dev/null 2>"$work/replay.err"; rc=$?
  lines=$(wc -l <"$work/replay.err")
  if [ $rc -eq 0 ]; then ok; return; fi
  if [ $rc -ne 1 ]; then fail "croma inspect $(basename "$file"): exit code $rc, expected 1: $(head -c 300 "$work/replay.err")"; return; fi
  if [ "$lines" -ne 1 ]; then fail "croma inspect $(basename "$file"): $lines stderr lines: $(head -c 300 "$work/replay.err")"; return; fi
  grep -qF -- "$file" "$work/replay.err" && ok || fail "croma inspect $(basename "$file"): error does not name the file: $(cat "$work/replay.err")"
}

# --- 1. known HDF5 hangs and crashes ---
for f in "$src"/tests/fuzz/regressions/*.h5; do
  cp "$f" "$work/$(basename "$f")"
  replay "$work/$(basename "$f")"
done

# --- 2. a bounded fuzzing run from small valid shards ---
mkdir -p "$work/corpus" "$work/artifacts" "$work/scratch"
/usr/bin/python3 - "$work" <<'PY' || { echo "FAIL: could not make seed inputs"; exit 1; }
import sys, numpy as np
w = sys.argv[1]; r = np.random.default_rng(1)
lab = np.repeat(np.arange(6), 3); n = len(lab)
for side, dim in (("s", 3), ("t", 2)):
    np.savez(f"{w}/{side}.npz", features=r.normal(size=(n, dim)).astype(np.float32),
             labels=np.array([f"c{k}" for k in lab]), clusters=lab % 2)
np.save(f"{w}/p.npy", np.stack([np.arange(0, n, 3), np.arange(0, n, 3)], 1))
PY
/usr/bin/python3 "$src/data_prep/import_features.py" --name seed --out "$work/seed" --source "$work/s.npz" \
    --target "$work/t.npz" --pairs "$work/p.npy" --split-fractions 0.34,0.33 --seed 1 --shards 2 \
    >/dev/null 2>"$work/import.err" || { echo "FAIL: import: $(cat "$work/import.err")"; exit 1; }
cp "$work"/seed/*.h5 "$work/corpus/"
# A layout-2 seed (frames, token ids and an image modality), so that mutations reach the
# sequence and image readers too.
PYTHONPATH="$src/data_prep" /usr/bin/python3 - "$work" <<'PY' || { echo "FAIL: could not make the sequence seed"; exit 1; }
import sys, numpy as np
from croma_shards import write_shards
w = sys.argv[1]; r = np.random.default_rng(2)
lab = np.repeat(np.arange(6), 2); n = len(lab)
frames = [r.normal(size=(r.integers(1, 4), 2)).astype(np.float32) for _ in lab]
tokens = [r.integers(0, 5, size=r.integers(1, 4)).tolist() for _ in lab]
split = {"meta_train": [0, 1], "meta_val": [2, 3], "meta_test": [4, 5]}
pairs = np.stack([np.arange(n), np.arange(n)], 1)
ids = [f"x{i}" for i in range(n)]
write_shards(f"{w}/seq", "seq", [f"c{k}" for k in range(6)], split, dict(sequences=frames, labels=lab, ids=ids),
             dict(tokens=tokens, vocab=5, labels=lab, ids=ids), pairs, {}, shards=1)
write_shards(f"{w}/img", "img", [f"c{k}" for k in range(6)], split, dict(tokens=tokens, vocab=5, labels=lab, ids=ids),
             dict(features=r.normal(size=(n, 1, 2, 3)).astype(np.float32), labels=lab, ids=ids), pairs, {}, shards=1)
PY
cp "$work"/seq/*.h5 "$work"/img/*.h5 "$work/corpus/"
"$croma" inspect "$work/seq/seq.shards.txt" >/dev/null 2>&1 && ok || fail "the sequence seed shard is not valid"
"$croma" inspect "$work/img/img.shards.txt" >/dev/null 2>&1 && ok || fail "the image seed shard is not valid"
"$croma" inspect "$work/seed/seed.shards.txt" >/dev/null 2>&1 && ok || fail "the seed shards are not valid"

( cd "$work/scratch" && CROMA_FUZZ_DIR="$work/scratch" "$fuzzer" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$seconds" -seed=1 -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/fuzz.log" 2>&1 )
runs=$(grep -oE '^#[0-9]+' "$work/fuzz.log" | tail -n 1 | tr -d '#')
[ "${runs:-0}" -gt 0 ] && ok || fail "the fuzzer ran no inputs: $(tail -n 5 "$work/fuzz.log")"
grep -q "FUZZ FINDING\|runtime error:" "$work/fuzz.log" &&
  fail "finding in croma's code: $(grep -m 3 "FUZZ FINDING\|runtime error:" "$work/fuzz.log")"

found=0
for a in "$work"/artifacts/*; do
  [ -e "$a" ] || continue
  found=$((found + 1))
  case $(basename "$a") in
    crash-*)
      # Full report of this one input; whose code is at the top of the stack?
      "$fuzzer" "$a" >"$work/crash.log" 2>&1
      /usr/bin/python3 - "$work/crash.log" <<'PY' && ok || fail "crash in croma's code ($(basename "$a")): $(grep -m 6 -E 'ERROR|#[0-9] ' "$work/crash.log")"
import re, sys
text = open(sys.argv[1]).read()
if "FUZZ FINDING" in text or "runtime error:" in text:
    sys.exit(1)
frames = re.findall(r"^\s+#\d+ 0x[0-9a-f]+ in (.*)$", text, re.M)
for f in frames:
    if "libhdf5" in f or "libz" in f:
        sys.exit(0)  # HDF5 (or its zlib) is the first real code on the stack
    if "croma::" in f or "/src/" in f or "shard_fuzzer.cpp" in f:
        sys.exit(1)
sys.exit(0)
PY
      ;;
  esac
  replay "$a"
done
echo "fuzzed for ${seconds} s: ${runs:-0} inputs, $found input(s) that hang, crash or exhaust HDF5, all ended cleanly by croma"
echo "passed $passed, failed $failures"
[ "$failures" -eq 0 ]
