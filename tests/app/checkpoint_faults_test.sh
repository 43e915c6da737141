#!/usr/bin/env bash
# Damaged checkpoints and full disks, as `croma train` meets them:
#  - a newest checkpoint whose data was damaged after it was written (HDF5 structure intact,
#    parameter bytes changed) or cut short is not loaded: `--resume` warns, names the file,
#    falls back to the previous checkpoint and still ends bit-identical to a run never damaged;
#  - a run directory on a file system without room for the run's checkpoints is refused
#    before training, with nothing created;
#  - a disk that fills up during training ends the run with one error line and exit 1, the
#    checkpoints already written stay readable, and no temporary file is left.
# The disk tests mount small tmpfs file systems (root only); they are skipped, saying so,
# where mounting is not allowed.
# usage: checkpoint_faults_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
source "$(dirname "$0")/harness.sh"

base=(--concepts 20 --samples-per-concept 24 --latent-dim 6 --nuisance-dim 4 --source-dim 24
      --target-dim 16 --embed-dim 16 --classifier-hidden 16 --ways 4 --shots 3
      --eval-ways 4 --eval-shots 3 --eval-tasks 4 --eval-queries 5 --eval-steps 10 --quiet
      --log-every 5 --val-every 50)
small=("${base[@]}" --hidden 32 --checkpoint-every 25 --steps 100)


"$croma" train --run-dir "$work/ref" "${small[@]}" >"$work/ref.out" 2>"$work/ref.err" ||
  { echo "FAIL: reference run: $(tail -n 3 "$work/ref.err")"; exit 1; }

# Makes run $1 look interrupted after its newest step checkpoint, then damages that one with $2.
damaged_run() {
  local name=$1 how=$2 newest
  cp -r "$work/ref" "$work/$name"
  rm -f "$work/$name/checkpoints/final.h5" "$work/$name/summary.json"
  newest=$(ls "$work/$name/checkpoints" | grep -E '^step_[0-9]+\.h5$' | sort -t_ -k2 -n | tail -n 1)
  /usr/bin/python3 - "$work/$name/checkpoints/$newest" "$how" <<'PY' || fail "$name: could not damage $newest"
import os, sys, h5py
path, how = sys.argv[1], sys.argv[2]
if how == "bytes":
    # Change four bytes of the first parameter tensor in place: HDF5 still opens the file.
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and not n.startswith("train_state") else None)
        offset = f[names[0]].id.get_offset()
    with open(path, "r+b") as raw:
        raw.seek(offset + 8); b = raw.read(4); raw.seek(offset + 8)
        raw.write(bytes(x ^ 0x5A for x in b))
else:
    os.truncate(path, os.path.getsize(path) // 2)
PY
  echo "$newest"
}

for how in bytes truncated; do
  newest=$(damaged_run "$how" "$how")
  "$croma" train --resume --run-dir "$work/$how" "${small[@]}" >"$work/$how.out" 2>"$work/$how.err" ||
    { fail "$how: --resume failed: $(tail -n 3 "$work/$how.err")"; continue; }
  grep -q "warning: skipping checkpoint '.*$newest'" "$work/$how.err" && ok ||
    fail "$how: no warning naming $newest: $(cat "$work/$how.err")"
  grep -q "resuming .* from .*step_" "$work/$how.err" && ! grep -q "resuming .* from .*$newest" "$work/$how.err" && ok ||
    fail "$how: did not fall back to an older checkpoint: $(cat "$work/$how.err")"
  params_equal "$work/ref/checkpoints/final.h5" "$work/$how/checkpoints/final.h5" && ok ||
    fail "$how: resumed run ends with other parameters than the undamaged one"
done
# The damage is caught by the checksum, not by luck: the damaged file alone is rejected.
damaged=$(damaged_run bytes2 bytes)
/usr/bin/python3 - "$work/bytes2/checkpoints/$damaged" <<'PY' && ok || fail "damaged checkpoint still opens with h5py (test damaged the wrong bytes?)"
import sys, h5py
h5py.File(sys.argv[1], "r").close()
PY
"$croma" eval --run-dir "$work/bytes2" --checkpoint "$work/bytes2/checkpoints/$damaged" >/dev/null 2>"$work/eval.err"
[ $? -ne 0 ] && grep -q "does not match its content checksum" "$work/eval.err" && ok ||
  fail "eval of the damaged checkpoint was not refused by its checksum: $(cat "$work/eval.err")"

# --- full disks ---
mnt=$work/mnt
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=256k tmpfs "$mnt" 2>/dev/null; then
  echo "SKIP: cannot mount tmpfs here (not root?); disk-full tests not run"
else
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$work"' EXIT
  # Too small from the start: refused before training, nothing created.
  out=$("$croma" train --run-dir "$mnt/run" "${base[@]}" --hidden 512 --checkpoint-every 25 --steps 100 2>"$work/full.err"); rc=$?
  [ $rc -eq 1 ] && grep -q "MiB free on its file system" "$work/full.err" && [ "$(wc -l <"$work/full.err")" -eq 1 ] && ok ||
    fail "small disk: rc $rc, stderr: $(cat "$work/full.err")"
  [ ! -e "$mnt/run" ] && ok || fail "small disk: the run directory was created"
  umount "$mnt"

  # Fills up while training: one error line, exit 1, older checkpoints intact, no .tmp left.
  mount -t tmpfs -o size=32m tmpfs "$mnt"
  "$croma" train --run-dir "$mnt/run" "${base[@]}" --hidden 32 --steps 200000 --checkpoint-every 20 >"$work/fill.out" 2>"$work/fill.err" &
  pid=$!
  for i in $(seq 1 300); do [ -e "$mnt/run/checkpoints/step_40.h5" ] && break; sleep 0.1; done
  dd if=/dev/zero of="$mnt/filler" bs=64k >/dev/null 2>&1
  for i in $(seq 1 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  if kill -0 $pid 2>/dev/null; then kill -9 $pid; fail "disk full: the run did not stop within 30 s"; fi
  wait $pid; rc=$?
  [ $rc -eq 1 ] && grep -q "disk full\|No space left" "$work/fill.err" && ok ||
    fail "disk full: rc $rc, stderr: $(tail -n 3 "$work/fill.err")"
  [ -z "$(find "$mnt/run" -name '*.tmp')" ] && ok || fail "disk full: temporary files left: $(find "$mnt/run" -name '*.tmp')"
  rm -f "$mnt/filler"
  # The run may have gone on past step 40 (and pruned it) before the disk filled: every step
  # checkpoint still there must be whole.
  /usr/bin/python3 - "$mnt/run/checkpoints" <<'PY' && ok || fail "disk full: a step checkpoint is no longer readable"
import glob, os, re, sys, h5py
files = glob.glob(os.path.join(sys.argv[1], "step_*.h5"))
assert files, "no step checkpoint left"
for path in files:
    with h5py.File(path, "r") as f:
        assert int(f.attrs["step"]) == int(re.search(r"step_(\d+)", path).group(1)), path
PY
  umount "$mnt"
fi

echo "passed $passed, failed $failures"
[ "$failures" -eq 0 ]
