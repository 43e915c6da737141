#!/usr/bin/env bash
# Builds croma and its tests and runs the whole suite through ctest.
# The container test (label `container`: it builds a Debian image and croma inside it, about
# 17 minutes on 2 cores, which would take CI past its budget) is left out unless
# CROMA_TEST_CONTAINER=1; run it alone with `cd build && ctest -L container` (it needs root,
# buildah and debootstrap, and skips without them; docs/container.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
croma_build
cd "$CROMA_BUILD_DIR"
exclude=(-LE container)
[ "${CROMA_TEST_CONTAINER:-0}" = 1 ] && exclude=()
ctest --output-on-failure -j "$(getconf _NPROCESSORS_ONLN)" "${exclude[@]}" "$@"
