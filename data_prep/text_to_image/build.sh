#!/usr/bin/env bash
# Builds the text -> image benchmark (emoji names in 24 languages -> emoji pictures in two art
# styles) as croma feature shards. Installs what it needs: Debian unicode-cldr-core,
# unicode-data and librsvg2-bin (apt), and two pinned Iconify emoji sets (npm pack, no
# node_modules). Reruns give byte-identical shards (see the manifest's sha256).
# usage: data_prep/text_to_image/build.sh [OUT_DIR]     (default: data/text_to_image)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../build_tools.sh"
out=$(mkdir -p "${1:-data/text_to_image}" && cd "${1:-data/text_to_image}" && pwd)
cache="$out/.cache"
mkdir -p "$cache"

install_debian_packages unicode-cldr-core unicode-data librsvg2-bin python3-h5py python3-numpy

npm_packages=("@iconify-json/noto@1.2.9" "@iconify-json/twemoji@1.2.5")
for spec in "${npm_packages[@]}"; do
  name=${spec%@*}; short=${name#@iconify-json/}
  if [ ! -f "$cache/$short/package/icons.json" ]; then
    (cd "$cache" && npm pack --silent "$spec" >/dev/null)
    tgz=$(ls "$cache"/iconify-json-"$short"-*.tgz | head -n 1)
    mkdir -p "$cache/$short" && tar xzf "$tgz" -C "$cache/$short"
  fi
done

sources=$(cat <<JSON
[{"name": "unicode-cldr-core (Debian)", "version": "$(version unicode-cldr-core)", "licence": "Unicode-DFS-2016", "use": "CLDR emoji annotations (names, keywords)"},
 {"name": "unicode-data (Debian)", "version": "$(version unicode-data)", "licence": "Unicode-DFS-2016", "use": "emoji-test.txt groups and subgroups"},
 {"name": "@iconify-json/noto (npm)", "version": "1.2.9", "licence": "Apache-2.0", "use": "Noto emoji pictures"},
 {"name": "@iconify-json/twemoji (npm)", "version": "1.2.5", "licence": "CC-BY-4.0", "use": "Twemoji pictures"},
 {"name": "librsvg2-bin (Debian)", "version": "$(version librsvg2-bin)", "licence": "LGPL-2.1+", "use": "rsvg-convert renders the SVGs"}]
JSON
)
cldr=/usr/share/unicode/cldr/common
/usr/bin/python3 "$here/build_features.py" \
  --emoji-test /usr/share/unicode/emoji/emoji-test.txt \
  --annotations "$cldr/annotations" --annotations "$cldr/annotationsDerived" \
  --style "noto=$cache/noto/package" --style "twemoji=$cache/twemoji/package" \
  --sources-json "$sources" --out "$out" "${@:2}"
echo "text_to_image: shards in $out; next: croma inspect $out/emoji_text_to_image.shards.txt" >&2
