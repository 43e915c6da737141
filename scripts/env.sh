# Sourced by the scripts: settings every croma process on this machine wants.
# Open MPI refuses to start as root unless told that this is intended (containers, CI).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# One intra-op thread per rank: ranks, not threads, use the cores for networks this small.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CROMA_BUILD_DIR=${CROMA_BUILD_DIR:-build}
croma_build() {
  cmake -S . -B "$CROMA_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  # Not nproc: it obeys OMP_NUM_THREADS=1 above and would report one core.
  cmake --build "$CROMA_BUILD_DIR" -j "$(getconf _NPROCESSORS_ONLN)" "$@"
}
# OpenBLAS 0.3.21 (Debian 12) does not recognise recent Intel cores (Sapphire Rapids) and
# falls back to its SSE3 "Prescott" kernels, which halved croma's matrix-product rate there
# (docs/performance.md). Name an AVX-512 core for it when the CPU has AVX-512 and nobody chose.
if [ -z "${OPENBLAS_CORETYPE+x}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
