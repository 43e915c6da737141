#!/usr/bin/env bash
# Builds an OCI image of croma from Debian packages alone, with Debian's buildah, and writes it
# as a docker-archive tarball that Apptainer and Singularity read:
#
#   sudo bash scripts/container.sh [--out croma.tar] [--tag croma:latest] [--work DIR] [--jobs N]
#                                  [--storage-driver vfs]
#   apptainer build croma.sif docker-archive://croma.tar      (where Apptainer runs)
#
# No registry image is used: the base is a Debian 12 root made by debootstrap from the apt
# package source this machine is configured with (read from /etc/apt at run time; CROMA_APT_URI
# overrides it). Inside it, scripts/setup.sh --build-only installs croma's build and run
# packages and croma is built (Release, without the test suite) and installed as
# /usr/local/bin/croma; the source tree stays in /opt/croma.
#
# Needs root (debootstrap makes device nodes and owns files as other users) and buildah.
# Where buildah's defaults do not work:
#   --storage-driver vfs       where overlay mounts are refused (slower, more disk); the image
#                              store is then its own, in --work
#   BUILDAH_ISOLATION=chroot   where the OCI runtime cannot create containers; the script
#                              switches to it by itself when a first `buildah run` fails
# The debootstrap root is kept in --work (default: build-container/) and reused by later runs.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)

out=croma.tar
tag=croma:latest
work=$source_dir/build-container
jobs=$(getconf _NPROCESSORS_ONLN)
suite=bookworm
storage_driver=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --storage-driver) storage_driver=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "container: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
out=$(realpath -m "$out")
work=$(realpath -m "$work")
cd "$source_dir"

# Every buildah call; another storage driver gets a store of its own (a store keeps one driver).
buildah_flags=()
if [ -n "$storage_driver" ]; then
  buildah_flags=(--storage-driver "$storage_driver" --root "$work/storage-$storage_driver" --runroot "$work/runroot-$storage_driver")
fi
bh() { buildah "${buildah_flags[@]}" "$@"; }

say() { echo "container: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap); build the image where you have it and copy croma.tar or croma.sif to the cluster"
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install buildah debootstrap)"
done

# ---- the apt source: the URIs this machine's apt reads Debian from ---------------------
# Prints "URI SUITE" for every Debian suite of $suite in the apt configuration (one-line
# sources.list format and deb822 .sources files).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no") { n = split(uris, u, " "); m = split(suites, s, " ");
                                for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j] } types = uris = suites = ""; enabled = "" }
         /^[ \t]*$/ { flush(); next }
         /^#/ { next }
         tolower($1) == "types:" { $1 = ""; types = $0 }
         tolower($1) == "uris:" { $1 = ""; uris = $0 }
         tolower($1) == "suites:" { $1 = ""; suites = $0 }
         tolower($1) == "enabled:" { enabled = tolower($2) }
         END { flush() }' "$f"
  done
}
mapfile -t sources < <(apt_sources | awk -v s="$suite" '$2 == s || index($2, s "-") == 1' | sort -u)
if [ -n "${CROMA_APT_URI:-}" ]; then
  sources=("$CROMA_APT_URI $suite")
fi
main_uri=""
for line in "${sources[@]}"; do
  read -r uri dist <<<"$line"
  if [ "$dist" = "$suite" ]; then main_uri=$uri; break; fi
done
[ -n "$main_uri" ] || die "no apt source for Debian $suite in /etc/apt (set CROMA_APT_URI to the archive's URI)"
say "apt source: $main_uri ($suite); also in the image: ${sources[*]}"

# ---- 1. a Debian root from debootstrap (kept in $work and reused) ------------------------
mkdir -p "$work"
rootfs=$work/rootfs
stamp=$work/rootfs.done
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$main_uri $suite" ]; then
  rm -rf "$rootfs" "$stamp"
  say "debootstrap $suite into $rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$main_uri" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
  echo "$main_uri $suite" >"$stamp"
else
  say "reusing the Debian root in $rootfs"
fi
# The image's apt reads the same Debian suites as this machine (updates and security too).
: >"$rootfs/etc/apt/sources.list"
for line in "${sources[@]}"; do
  echo "deb $line main" >>"$rootfs/etc/apt/sources.list"
done
rm -f "$rootfs"/etc/apt/sources.list.d/*

# ---- 2. import it as the image's base ----------------------------------------------------
base_tar=$work/rootfs.tar
tar -C "$rootfs" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -cf "$base_tar" .
ctr=$(bh from scratch)
trap 'bh rm "$ctr" >/dev/null 2>&1 || true' EXIT
say "importing the root into $ctr"
bh add "$ctr" "$base_tar" / >/dev/null
rm -f "$base_tar"
# buildah's default isolation runs each step through the OCI runtime (crun, runc), which some
# machines refuse (cgroups it cannot manage, no namespaces); chroot isolation needs neither.
if [ -z "${BUILDAH_ISOLATION:-}" ] && ! bh run --network host "$ctr" -- true 2>"$work/oci-runtime.err"; then
  say "the OCI runtime cannot run a container here ($(grep -v '^$' "$work/oci-runtime.err" | head -1)); using BUILDAH_ISOLATION=chroot"
  export BUILDAH_ISOLATION=chroot
fi

# ---- 3. croma's packages, and croma built inside ------------------------------------------
src_tar=$work/source.tar
# The tracked and untracked-but-not-ignored files of this tree, as the build sees them.
git -C "$source_dir" ls-files -z --cached --others --exclude-standard |
  (cd "$source_dir" && xargs -0 tar --no-recursion --ignore-failed-read -cf - 2>/dev/null) >"$src_tar" ||
  die "could not pack the source tree"
bh run --network host "$ctr" -- mkdir -p /opt/croma
bh add "$ctr" "$src_tar" /opt/croma >/dev/null
rm -f "$src_tar"

run() { bh run --network host --env DEBIAN_FRONTEND=noninteractive "$ctr" -- "$@"; }
say "installing croma's packages (scripts/setup.sh --build-only)"
run bash -c 'apt-get update -q && cd /opt/croma && bash scripts/setup.sh --build-only && apt-get clean && rm -rf /var/lib/apt/lists/*'
say "building croma ($jobs jobs)"
run bash -c "cd /opt/croma && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCROMA_BUILD_TESTS=OFF >/dev/null &&
             cmake --build build -j $jobs --target croma && install -m 755 build/croma /usr/local/bin/croma &&
             rm -rf build && croma --version"

# Open MPI refuses to run as root without these (a container's default user); one intra-op
# thread per rank, as scripts/env.sh sets.
bh config --env OMPI_ALLOW_RUN_AS_ROOT=1 --env OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  --env OMP_NUM_THREADS=1 --workingdir /opt/croma --cmd '["croma", "--help"]' \
  --label org.opencontainers.image.title=croma "$ctr"

# ---- 4. the image, and its docker-archive tarball ------------------------------------------
say "committing $tag"
bh commit --rm "$ctr" "$tag" >/dev/null
trap - EXIT
rm -f "$out"
bh push "$tag" "docker-archive:$out:$tag"
say "wrote $out ($(du -h "$out" | cut -f1)); Apptainer: apptainer build croma.sif docker-archive://$out"
