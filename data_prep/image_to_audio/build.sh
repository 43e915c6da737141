#!/usr/bin/env bash
# Builds the image -> audio benchmark (pictures of things -> the sounds they make; classes are
# concepts such as cattle, horse, tree felling, percussion) as croma feature shards. Installs
# what it needs from Debian: tuxpaint-stamps-default (161 MB), gcompris-qt-data (44 MB; its Qt
# .rcc bundles are read by qt_rcc.py), openclipart-svg (25 MB), librsvg2-bin, webp, sox,
# libsox-fmt-all. The 0 A.D. sound effects come from 0ad-data (1.4 GB download, never
# installed: `apt-get download` into OUT/.cache, public.zip taken out of the .deb, its audio/
# folder kept, 272 MB, the rest deleted); without them (--no-0ad) too few concepts have enough
# sounds for the default split. Reruns give byte-identical shards (see the manifest's sha256).
# usage: data_prep/image_to_audio/build.sh [OUT_DIR] [--no-0ad] [extra build_features.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../build_tools.sh"
out=$(mkdir -p "${1:-data/image_to_audio}" && cd "${1:-data/image_to_audio}" && pwd)
shift $(($# > 0 ? 1 : 0))
with_0ad=1
if [ "${1:-}" = "--no-0ad" ]; then with_0ad=0; shift; fi
cache="$out/.cache"
mkdir -p "$cache"

install_debian_packages tuxpaint-stamps-default gcompris-qt-data openclipart-svg librsvg2-bin webp sox libsox-fmt-all \
  python3-h5py python3-numpy

oad_args=()
oad_source=""
if [ $with_0ad -eq 1 ]; then
  if [ ! -f "$cache/0ad/VERSION" ]; then
    rm -rf "$cache/0ad-deb" "$cache/0ad.tmp" && mkdir -p "$cache/0ad-deb"
    echo "image_to_audio: downloading 0ad-data (1.4 GB) for its sound effects" >&2
    # apt-get download as root warns that the _apt user cannot write here; the file is fine.
    (cd "$cache/0ad-deb" && apt-get download -q 0ad-data 2> >(grep -v "sandbox" >&2))
    deb=$(ls "$cache"/0ad-deb/0ad-data_*.deb)
    dpkg-deb --fsys-tarfile "$deb" | tar x -C "$cache/0ad-deb" ./usr/share/games/0ad/mods/public/public.zip
    /usr/bin/python3 - "$cache/0ad-deb/usr/share/games/0ad/mods/public/public.zip" "$cache/0ad.tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        if info.filename.startswith("audio/") and info.filename.lower().endswith((".ogg", ".wav")):
            z.extract(info, sys.argv[2])
PY
    dpkg-deb -f "$deb" Version > "$cache/0ad.tmp/VERSION"
    rm -rf "$cache/0ad" && mv "$cache/0ad.tmp" "$cache/0ad" && rm -rf "$cache/0ad-deb"
  fi
  oad_args=(--oad "$cache/0ad")
  oad_source=$(printf ',\n {"name": "0ad-data (Debian, audio/ of public.zip only)", "version": "%s", "licence": "CC-BY-SA-3.0 (art and sounds)", "use": "sound effects (target modality)"}' "$(cat "$cache/0ad/VERSION")")
fi

sources=$(cat <<JSON
[{"name": "tuxpaint-stamps-default (Debian)", "version": "$(version tuxpaint-stamps-default)", "licence": "GPL-2+ (stamps), see its copyright file", "use": "stamp pictures (source) and stamp sound effects (target)"},
 {"name": "gcompris-qt-data (Debian)", "version": "$(version gcompris-qt-data)", "licence": "GPL-3+ / CC-BY-SA-4.0 and others, see its copyright file", "use": "activity pictures (source) and sounds (target), read from the Qt .rcc bundles"},
 {"name": "openclipart-svg (Debian)", "version": "$(version openclipart-svg)", "licence": "public domain", "use": "drawings (source)"},
 {"name": "librsvg2-bin / webp (Debian)", "version": "$(version librsvg2-bin) / $(version webp)", "licence": "LGPL-2.1+ / BSD-3-clause", "use": "rsvg-convert renders the pictures, dwebp decodes WebP"},
 {"name": "sox / libsox-fmt-all (Debian)", "version": "$(version sox)", "licence": "GPL-2+ / LGPL-2.1+", "use": "audio decoding and resampling"}$oad_source]
JSON
)
/usr/bin/python3 "$here/build_features.py" --tuxpaint /usr/share/tuxpaint/stamps \
  --gcompris-rcc /usr/share/gcompris-qt/rcc --openclipart /usr/share/openclipart/svg "${oad_args[@]}" \
  --sources-json "$sources" --out "$out" "$@"
echo "image_to_audio: shards in $out; next: croma inspect $out/sounds_image_to_audio.shards.txt" >&2
