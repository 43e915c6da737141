#!/usr/bin/env bash
# Quick start: install what is missing, build, meta-train CroMA with 2 MPI ranks on the
# built-in concept world, then evaluate 5-shot classification in the target modality on
# meta-test classes (600 episodes per k, 95 % intervals), against the untrained start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
croma_build --target croma
run_dir=${RUN_DIR:-runs/quickstart}
mpirun --oversubscribe -np 2 "$CROMA_BUILD_DIR/croma" train --run-dir "$run_dir" --overwrite "$@"
"$CROMA_BUILD_DIR/croma" eval --run-dir "$run_dir" --eval-shots 1,5,10
