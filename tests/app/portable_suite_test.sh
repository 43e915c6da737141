#!/usr/bin/env bash
# The suite must pass on any x86-64 CPU with 2 cores, with or without AVX-512. No test may
# force an instruction set the CPU may lack: an OPENBLAS_CORETYPE, libxsmm target or LibTorch
# CPU capability above the x86-64 baseline kernels every such CPU runs (Prescott: SSE3,
# Core2: SSSE3, Nehalem: SSE4.2), or a compiler flag such as -mavx512f or -march=native in a
# test's build. A test that truly needs a feature checks /proc/cpuinfo for it and skips.
# usage: portable_suite_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/harness.sh"
cd "$here"

# Every value a test assigns to OPENBLAS_CORETYPE: only the baseline kernels.
while IFS= read -r hit; do
  value=$(sed -E 's/.*OPENBLAS_CORETYPE=([A-Za-z0-9_]*).*/\1/' <<<"$hit")
  case $value in
    Prescott|Core2|Nehalem) ok ;;
    *) fail "a test forces OPENBLAS_CORETYPE=$value, which not every x86-64 CPU runs: $hit" ;;
  esac
done < <(grep -rnE 'OPENBLAS_CORETYPE=[A-Za-z]' tests/ --include='*.sh' --include='*.py' --include='*.cpp' --include='*.txt')

# libxsmm's and LibTorch's own instruction-set overrides, and compiler flags, in tests.
if hits=$(grep -rnE 'LIBXSMM_TARGET=|ATEN_CPU_CAPABILITY=|-mavx|-march=native|-mfma' tests/ --include='*.sh' \
          --include='*.py' --include='*.cpp' --include='CMakeLists.txt' | grep -v '^tests/app/portable_suite_test.sh'); then
  fail "a test forces an instruction set: $hits"
else
  ok
fi

# The one place that picks an AVX-512 BLAS kernel checks the CPU first.
grep -qE 'grep -qw avx512f /proc/cpuinfo' scripts/env.sh && ok ||
  fail "scripts/env.sh names an AVX-512 kernel without checking the CPU"

echo "portable_suite: $passed passed, $failures failed"
[ $failures -eq 0 ]
