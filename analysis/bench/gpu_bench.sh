#!/usr/bin/env bash
# croma bench on a GPU: builds croma against a CUDA-enabled LibTorch and records
# meta-iterations/s on cuda for the bench configuration (docs/performance.md) and a larger
# one, one JSON line each, plus the same runs on the CPU of that machine for comparison.
#
# usage: analysis/bench/gpu_bench.sh [STEPS=200] [BUILD_DIR=build-cuda]
# The CUDA LibTorch is taken from CMAKE_PREFIX_PATH when set, else from a Python torch
# (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'); it must report
# torch.cuda.is_available() on the machine this runs on.
#
# On a GPU croma runs the autograd inner loop (the fused kernels of model/mlp_kernels.h are
# CPU code) and its Adam as ATen passes on the device; the bench JSON says which
# ("inner_loop"). Task slots (--tasks-per-rank) are where a GPU gains: more work per kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
steps=${1:-200}
build=${2:-build-cuda}
if [ -z "${CMAKE_PREFIX_PATH:-}" ]; then
  # Only a torch that sees a GPU (Debian's python3-torch is a CPU build).
  CMAKE_PREFIX_PATH=$(python3 -c 'import torch; assert torch.cuda.is_available(); print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
fi
if [ -z "$CMAKE_PREFIX_PATH" ]; then
  echo "gpu_bench.sh: no CUDA LibTorch: set CMAKE_PREFIX_PATH or install a CUDA-enabled torch for python3" >&2
  exit 2
fi
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >&2; then
  echo "gpu_bench.sh: no NVIDIA GPU visible (nvidia-smi)" >&2
  exit 2
fi
echo "gpu_bench.sh: LibTorch from $CMAKE_PREFIX_PATH, building in $build" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCROMA_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX_PATH" >&2
cmake --build "$build" -j "$(getconf _NPROCESSORS_ONLN)" --target croma >&2
croma="$build/croma"
larger=(--source-dim 2048 --target-dim 1024 --hidden 1024 --embed-dim 512 --classifier-hidden 1024
        --align-batch 64 --inner-batch 64 --shots 20)
run() {  # label, device, steps, args...
  local label=$1 device=$2 n=$3
  shift 3
  local line
  line=$("$croma" bench --steps "$n" --device "$device" "$@" | tail -n 1)
  echo "{\"case\": \"$label\", \"bench\": $line}"
}
run bench-config cuda "$steps"
run bench-config-8-slots cuda "$steps" --tasks-per-rank 8
run larger cuda "$steps" "${larger[@]}"
run larger-8-slots cuda "$steps" "${larger[@]}" --tasks-per-rank 8
# The same on one core of the machine's CPU (the larger configuration runs at about one
# meta-iteration per CPU second there: a few steps only).
run bench-config cpu "$steps"
run larger cpu 5 "${larger[@]}"
