#!/usr/bin/env bash
# Installs the Debian 12 packages croma's build, tests and quick start need. Idempotent:
# packages already present are left alone, and apt is not touched when nothing is missing.
#   bash scripts/setup.sh               everything (build, quick start, test suite)
#   bash scripts/setup.sh --build-only  what building and running croma needs, nothing the
#                                       tests alone need (the container image, scripts/container.sh)
set -euo pipefail

build_packages=(
  g++ make cmake pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-pthread    # optimised BLAS; replaces the slow reference BLAS libtorch links
  libxsmm-dev libblas-dev # just-in-time kernels for the inner loop's small products (and the BLAS they fall back on)
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libboost-program-options-dev
  nlohmann-json3-dev
  python3 python3-h5py python3-numpy   # data_prep and analysis; tests read checkpoints the way users do, with h5py
)
test_packages=(
  libgtest-dev
  python3-scipy           # Student-t quantiles of the search tables (analysis/search_tables.py)
  python3-statsmodels     # an independent Holm correction the search tables' test checks against
  python3-sklearn         # an independent logistic-regression probe the frozen heads' test checks against
  python3-matplotlib                   # analysis/ draws the figures (tables, Fig. 7, Fig. 8)
  python3-torch           # analysis/load_encoder_torch.py: a checkpoint's encoders as torch.nn modules (and its test)
  librsvg2-bin sox        # data_prep renders SVG pictures and decodes audio (and their tests)
  espeak-ng               # data_prep/polyglot_speech synthesises speech (and its test)
  slurm-wlm munge         # the Slurm tests run a one-node and a two-node cluster (tests/slurm/)
  iproute2 util-linux     # the two-node cluster: network namespaces, veth links (ip), nsenter, unshare
  clang libclang-rt-14-dev  # libFuzzer: the shard-reader fuzz test (tests/fuzz/)
)

case "${1:-}" in
  "") packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  --build-only) packages=("${build_packages[@]}") ;;
  *) echo "usage: bash scripts/setup.sh [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
