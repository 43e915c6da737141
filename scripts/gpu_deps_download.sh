#!/usr/bin/env bash
# Downloads, on a Debian 12 machine with apt, the .deb files that croma's build and run need
# on a machine that has a C++ compiler, CMake and a LibTorch but none of Open MPI, HDF5,
# Boost.Program_options, nlohmann-json or GoogleTest (the offline GPU node of
# docs/performance.md, "The GPU check"). Nothing is installed: `apt-get download` only
# writes the files, into .gpu-deps/debs/ (ignored by git; name it in the device tool's
# `carry`). scripts/gpu_deps_unpack.sh unpacks them elsewhere into a prefix of their own.
#
# usage: scripts/gpu_deps_download.sh [DIR=.gpu-deps]
#
# What is fetched, and why (the list is computed, then printed into DIR/manifest.txt):
#  - DEV: the development files croma compiles and links against, taken WITHOUT their own
#    dependencies: Debian's -dev packages pull in compilers (gfortran, flang), other -dev
#    packages for static linking (libhwloc-dev, libcurl4-openssl-dev, libssl-dev...) and
#    JavaScript; all of that is hundreds of MiB that a shared-library build never reads.
#  - RUNTIME roots and their whole Depends/Pre-Depends closure (first choice of each
#    alternative), as `apt-cache depends` gives it: the shared libraries and mpirun.
#  - left out of the closure (BASE): the C and C++ runtime, which the node has in a newer
#    version that must win (libc6, libgcc-s1, libstdc++6: the unpacked files ask for glibc
#    2.36 and GLIBCXX_3.4.29 at most, which gpu_deps_unpack.sh checks on the node), and the
#    libraries every Debian-family system has (Essential/required: zlib, zstd, xz, bzip2,
#    libcrypt, SELinux, PCRE2, udev, libmd, libbsd, dpkg, perl-base, debconf, tar...); and
#    openssh-client, which mpirun needs only to start ranks on other hosts (the node is one);
#    adduser and passwd (maintainer-script tools: nothing is configured, only unpacked); and
#    libhwloc-plugins, hwloc's optional plugins (X11/NVCtrl, OpenCL, libxml2 with ICU: 12 MiB),
#    which hwloc loads when present and goes without otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpu-deps}

dev=(
  libopenmpi-dev                     # mpi.h, libmpi.so, the mpicxx wrapper data
  libhdf5-dev                        # hdf5.h, libhdf5_serial.so (FindHDF5)
  libboost1.74-dev                   # Boost headers and BoostConfig.cmake
  libboost-program-options1.74-dev   # libboost_program_options.so and its CMake config
  nlohmann-json3-dev                 # header-only, with its CMake config
  libgtest-dev                       # libgtest.a and GTestConfig.cmake
)
runtime=(
  libopenmpi3 openmpi-bin openmpi-common   # the MPI library, mpirun and its help/config files
  libhdf5-103-1                            # the HDF5 library
  libboost-program-options1.74.0
)
base=(
  libc6 libgcc-s1 libstdc++6 gcc-12-base libcrypt1 zlib1g libzstd1 liblzma5 libbz2-1.0
  libselinux1 libpcre2-8-0 libudev1 libmd0 libbsd0 libaudit1 libaudit-common libcap-ng0
  libacl1 libattr1 libgmp10 libtinfo6 perl-base dpkg tar debconf debianutils
  openssh-client adduser passwd
  libhwloc-plugins
)

command -v apt-get >/dev/null || { echo "gpu_deps_download: needs apt-get (a Debian 12 machine)" >&2; exit 2; }
known() { local p; for p in "${dev[@]}" "${runtime[@]}"; do apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || return 1; done; }
if ! known; then
  # A machine whose package lists were never fetched (a fresh CI image): fetch them once.
  if [ "$(id -u)" = 0 ]; then apt-get update -q >&2; fi
  if ! known; then
    echo "gpu_deps_download: apt does not know every package of the list: run 'apt-get update' first (as root)" >&2
    exit 2
  fi
fi

is_base() { local b; for b in "${base[@]}"; do [ "$b" = "$1" ] && return 0; done; return 1; }

# Depends/Pre-Depends of the packages named: the first alternative of each group, real
# packages only, one name a line. One apt-cache call per level of the closure (a call per
# package takes minutes).
direct_depends() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$@" | awk '
      /^[^ ]/ { in_group = 0; next }
      /^ *\|?(Pre)?Depends:/ {
        alt = ($1 ~ /^\|/)
        name = $2
        if (!in_group && name !~ /^</) print name
        in_group = alt
      }' | sed 's/:.*//' | sort -u
}

declare -A seen=()
frontier=("${runtime[@]}")
closure=()
while [ ${#frontier[@]} -gt 0 ]; do
  next=()
  for p in "${frontier[@]}"; do
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    is_base "$p" && continue
    closure+=("$p")
    next+=("$p")
  done
  [ ${#next[@]} -eq 0 ] && break
  mapfile -t frontier < <(direct_depends "${next[@]}")
done

mkdir -p "$dir/debs"
rm -f "$dir"/debs/*.deb
packages=("${dev[@]}" "${closure[@]}")
echo "gpu_deps_download: ${#dev[@]} dev packages + ${#closure[@]} runtime packages into $dir/debs" >&2
(cd "$dir/debs" && apt-get download -q "${packages[@]}" >&2)

{
  echo "# .deb files for an offline croma build (scripts/gpu_deps_download.sh); package version size"
  for f in "$dir"/debs/*.deb; do
    printf '%s %s %s\n' "$(dpkg-deb -f "$f" Package)" "$(dpkg-deb -f "$f" Version)" "$(stat -c %s "$f")"
  done
} > "$dir/manifest.txt"
total=$(du -cb "$dir"/debs/*.deb | tail -n 1 | cut -f 1)
tree=$(git ls-files -z | xargs -0 du -cb | tail -n 1 | cut -f 1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "gpu_deps_download: $(ls "$dir"/debs/*.deb | wc -l) files, $(mib "$total") MiB; tracked tree $(mib "$tree") MiB" >&2
# The device tool carries the tree and the carried folders together up to 64 MiB.
if [ $((total + tree)) -gt $((60 * 1048576)) ]; then
  echo "gpu_deps_download: $(mib $((total + tree))) MiB with the tree: over the 60 MiB kept below the 64 MiB limit" >&2
  exit 1
fi
