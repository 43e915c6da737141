#!/usr/bin/env bash
# Speed of `croma study` against the straightforward NumPy reference
# (analysis/study_reference_numpy.py: one lstsq per fit), on the paper's default grid
# (7 sigma_w2 x 16 n_align; croma 1000 trials per cell, the reference REF_TRIALS per cell,
# since it would take hours at 1000). Both single-threaded, in one run on this machine;
# then croma on 2 ranks for the whole-grid wall time. Prints the fits-per-second ratio.
# usage: scripts/bench_study.sh [REF_TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ref_trials=${1:-20}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "bench_study: NumPy reference, $ref_trials trials per cell (1 thread)" >&2
ref=$(/usr/bin/python3 analysis/study_reference_numpy.py --trials "$ref_trials" | tail -n 1)
echo "bench_study: croma study, 1000 trials per cell, 1 rank 1 thread" >&2
one=$("$CROMA_BUILD_DIR/croma" study --out "$out/one" --trials 1000 --quiet | tail -n 1)
echo "bench_study: croma study, 1000 trials per cell, 2 ranks" >&2
two=$(mpirun --oversubscribe -np 2 "$CROMA_BUILD_DIR/croma" study --out "$out/two" --trials 1000 --quiet | tail -n 1)
cmp -s "$out/one/study.csv" "$out/two/study.csv" && same=true || same=false
/usr/bin/python3 - "$ref" "$one" "$two" "$same" <<'PY'
import json, sys
ref, one, two = (json.loads(a) for a in sys.argv[1:4])
fits = lambda s: 3 * s["cells"] * s["trials"] / s["study_seconds"]
r = {"reference_fits_per_second": ref["fits_per_second"], "reference_seconds": ref["seconds"],
     "reference_trials_per_cell": ref["trials_per_cell"],
     "croma_1rank_fits_per_second": fits(one), "croma_1rank_grid_seconds": one["study_seconds"],
     "croma_2ranks_grid_seconds": two["study_seconds"], "croma_2ranks_fits_per_second": fits(two),
     "speedup_1rank_vs_reference": fits(one) / ref["fits_per_second"],
     "tables_identical_1_vs_2_ranks": sys.argv[4] == "true"}
print(json.dumps(r))
PY
