#!/usr/bin/env bash
# Builds croma and its tests and runs the whole suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
croma_build
cd "$CROMA_BUILD_DIR"
ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" "$@"
