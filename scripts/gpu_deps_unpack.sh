#!/usr/bin/env bash
# Unpacks the .deb files of scripts/gpu_deps_download.sh into a prefix of their own, never
# over / (dpkg-deb -x, or ar and tar: no maintainer scripts, no dpkg database), adds the names
# Debian's alternatives would have made (mpirun, mpicxx, ...), and checks that this machine's
# C and C++ runtime is new enough for them. Then `source scripts/gpu_deps_env.sh PREFIX`.
#
# usage: scripts/gpu_deps_unpack.sh [DEBS=.gpu-deps/debs] [PREFIX=.gpu-deps/root]
set -euo pipefail
cd "$(dirname "$0")/.."
debs=${1:-.gpu-deps/debs}
prefix=${2:-.gpu-deps/root}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd -P)
if [ "$prefix" = / ] || [ "$prefix" = /usr ]; then
  echo "gpu_deps_unpack: refusing to unpack over $prefix: name a folder of its own" >&2
  exit 2
fi
shopt -s nullglob
files=("$debs"/*.deb)
if [ ${#files[@]} -eq 0 ]; then
  echo "gpu_deps_unpack: no .deb files in $debs (run scripts/gpu_deps_download.sh where apt works)" >&2
  exit 2
fi
# dpkg-deb where the machine has it; else the .deb's own layout (an ar archive holding
# data.tar.xz), read with binutils' ar and tar, which a machine with a compiler has.
unpack() {
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$1" "$prefix"
  else
    local member
    member=$(ar t "$1" | grep '^data\.tar') || return 1
    case $member in
      *.xz) ar p "$1" "$member" | tar -xJ -C "$prefix" ;;
      *.zst) ar p "$1" "$member" | tar --zstd -x -C "$prefix" ;;
      *.gz) ar p "$1" "$member" | tar -xz -C "$prefix" ;;
      *) ar p "$1" "$member" | tar -x -C "$prefix" ;;
    esac
  fi
}
command -v dpkg-deb >/dev/null || command -v ar >/dev/null ||
  { echo "gpu_deps_unpack: needs dpkg-deb or ar (binutils) to read .deb files" >&2; exit 2; }
for f in "${files[@]}"; do unpack "$f" || { echo "gpu_deps_unpack: cannot unpack $f" >&2; exit 1; }; done

# Debian's postinst scripts register these through update-alternatives; an unpacked tree has
# only the suffixed names.
bin=$prefix/usr/bin
for tool in mpirun mpiexec mpicc mpicxx mpic++; do
  [ -e "$bin/$tool.openmpi" ] && ln -sfn "$tool.openmpi" "$bin/$tool"
done

# The newest glibc and libstdc++ symbol versions the unpacked libraries ask for, against
# what this machine provides (the node's own runtime, which must not be replaced).
need_version() {  # pattern -> highest version referenced by the unpacked ELF files
  { find "$prefix/usr/lib" "$prefix/usr/bin" -type f \( -name '*.so*' -o -perm -u+x \) -print0 2>/dev/null || true; } |
    { xargs -0 objdump -T 2>/dev/null || true; } | { grep -o "$1[0-9.]*" || true; } | sed "s/^$1//" | sort -V | tail -n 1
}
version_ge() { [ -z "$2" ] || [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }
glibc_have=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
glibc_need=$(need_version GLIBC_)
libstdcxx=$(${CXX:-c++} -print-file-name=libstdc++.so.6)
glibcxx_have=$(grep -ao 'GLIBCXX_3\.4\.[0-9]*' "$libstdcxx" | sed 's/^GLIBCXX_//' | sort -uV | tail -n 1)
glibcxx_need=$(need_version GLIBCXX_)
echo "gpu_deps_unpack: ${#files[@]} packages into $prefix; glibc $glibc_have (need $glibc_need)," \
     "libstdc++ GLIBCXX_$glibcxx_have (need GLIBCXX_$glibcxx_need)" >&2
if ! version_ge "$glibc_have" "$glibc_need"; then
  echo "gpu_deps_unpack: this machine's glibc $glibc_have is older than the $glibc_need the Debian 12 libraries need" >&2
  exit 1
fi
if ! version_ge "$glibcxx_have" "$glibcxx_need"; then
  echo "gpu_deps_unpack: this machine's libstdc++ ($libstdcxx) provides GLIBCXX_$glibcxx_have, older than the GLIBCXX_$glibcxx_need the Debian 12 libraries need" >&2
  exit 1
fi
