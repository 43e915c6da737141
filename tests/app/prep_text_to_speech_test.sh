#!/usr/bin/env bash
# data_prep/text_to_speech on tiny self-made inputs in the real raw formats (UDHR HTML,
# KTuberling .soundtheme XML with WAV recordings): languages with too few recordings or no
# text are skipped, paragraphs and recordings land in the right classes, strong pairs join a
# recording to its file-name words only when those are not the English sound name, the
# log-mel features tell two tones apart, and a rerun gives byte-identical shards.
# usage: prep_text_to_speech_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
prep="$here/../../data_prep/text_to_speech/build_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
command -v sox >/dev/null || { echo "FAIL: sox missing (scripts/setup.sh installs it)"; exit 1; }

"$py" - "$work" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import os, sys, wave, numpy as np
w = sys.argv[1]
os.makedirs(f"{w}/udhr"); os.makedirs(f"{w}/sounds")
# Five languages with UDHR text; 'xx' has a theme but no text; 'sv' has only 2 recordings.
langs = {"en": ("eng", 300.0), "fr": ("fra", 500.0), "de": ("deu_1996", 700.0), "it": ("ita", 900.0),
         "sv": ("swe", 1100.0), "xx": (None, 1300.0)}
paras = {"en": "All human beings are born free and equal in dignity and rights.",
         "fr": "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
         "de": "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
         "it": "Tutti gli esseri umani nascono liberi ed eguali in dignità e diritti.",
         "sv": "Alla människor äro födda fria och lika i värde och rättigheter."}
for lang, (udhr, freq) in langs.items():
    if udhr:
        with open(f"{w}/udhr/{udhr}.html", "w") as f:
            f.write(f'<!doctype html>\n<html lang="{lang}"><body><h1>Title {lang}</h1>\n')
            for i in range(3):
                f.write(f"<p>{paras[lang]} ({i})</p>\n")
            f.write("</body></html>\n")
    os.makedirs(f"{w}/sounds/{lang}")
    n = 2 if lang == "sv" else 4
    with open(f"{w}/sounds/{lang}.soundtheme", "w") as f:
        f.write(f'<language code="{lang}">\n')
        for i, english in enumerate(["ball", "hat", "eye", "nose"][:n]):
            # English theme: file names are the sound names (no strong pair); others: own words
            stem = english if lang in ("en", "de") else f"{lang}_word-{i}"
            path = f"{lang}/{stem}.wav"
            t = np.arange(int(8000 * (0.4 + 0.1 * i))) / 8000.0
            tone = 0.5 * np.sin(2 * np.pi * freq * t) * np.minimum(1, 20 * t)
            with wave.open(f"{w}/sounds/{path}", "wb") as out:
                out.setnchannels(1); out.setsampwidth(2); out.setframerate(8000)
                out.writeframes((tone * 32767).astype("<i2").tobytes())
            f.write(f'  <sound name="{english}" file="{path}" />\n')
        f.write('  <sound name="broken" file="%s/missing.wav" />\n</language>\n' % lang)
PY

build() {
  "$py" "$prep" --udhr "$work/udhr" --sounds "$work/sounds" --languages en,fr,de,it,sv,xx \
    --min-recordings 3 --shards 2 --workers 2 --name tiny --out "$1" 2>"$work/prep.err"
}
build "$work/out" && ok || fail "prep failed: $(cat "$work/prep.err")"
grep -q "skipping sv (2 decodable recordings)" "$work/prep.err" && ok || fail "sv not skipped: $(cat "$work/prep.err")"
grep -q "skipping xx (no UDHR text" "$work/prep.err" && ok || fail "xx not skipped: $(cat "$work/prep.err")"
cp "$work/out/tiny.manifest.json" "$work/first.json"
build "$work/out" && ok || fail "second prep failed: $(cat "$work/prep.err")"
cmp -s "$work/out/tiny.manifest.json" "$work/first.json" && ok || fail "rerun changed the manifest (checksums)"

out=$("$croma" inspect "$work/out/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/out" <<'PY' && ok || fail "benchmark content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d = sys.argv[2]
assert s["classes"] == 4, s                      # de, en, fr, it
assert s["target"]["items"] == 16 and s["target"]["dim"] == 512, s["target"]
# texts: 4 languages x (title + 3 paragraphs) + file-name words of fr and it (4 each)
assert s["source"]["items"] == 16 + 8, s["source"]
assert s["pairs"] == 8, s                          # en and de name files by the English sound
tones = {}
for i in range(2):
    with h5py.File(f"{d}/tiny-0000{i}-of-00002.h5") as f:
        names = [n.decode() for n in f["classes/names"][()]]
        sids = [x.decode() for x in f["source/ids"][()]]
        tids = [x.decode() for x in f["target/ids"][()]]
        for a, b in f["pairs"][()]:
            assert sids[a] == "filename:" + tids[b].split(":", 1)[1], (sids[a], tids[b])
        X = f["target/features"][()]; y = f["target/labels"][()]
        for k in set(y.tolist()):
            tones[names[k]] = X[y == k]
assert sorted(tones) == ["de", "en", "fr", "it"], sorted(tones)
# Same tone, different lengths: close; different tones: far apart.
within = max(np.linalg.norm(v[0] - v[-1]) for v in tones.values())
between = min(np.linalg.norm(tones[a][0] - tones[b][0]) for a in tones for b in tones if a < b)
assert within < 0.5 * between, (within, between)
PY

# --sequences: the same items as UTF-8 byte ids and 40-band log-mel frames (layout version 2).
"$py" "$prep" --udhr "$work/udhr" --sounds "$work/sounds" --languages en,fr,de,it,sv,xx \
  --min-recordings 3 --shards 2 --workers 2 --name tiny --out "$work/seq" --sequences 2>"$work/prep.err" \
  && ok || fail "prep --sequences failed: $(cat "$work/prep.err")"
out=$("$croma" inspect "$work/seq/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect of sequences failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/seq" "$work/out" <<'PY' && ok || fail "sequence content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d, vec = sys.argv[2], sys.argv[3]
assert s["source"]["kind"] == "tokens" and s["source"]["vocab"] == 256 and s["source"]["items"] == 24, s["source"]
assert s["target"]["kind"] == "frames" and s["target"]["dim"] == 40 and s["target"]["items"] == 16, s["target"]
assert s["pairs"] == 8, s
with h5py.File(f"{d}/tiny-00000-of-00002.h5") as f, h5py.File(f"{vec}/tiny-00000-of-00002.h5") as g:
    assert f.attrs["format_version"] == 2 and g.attrs["format_version"] == 1
    # Same items, ids and pairs as the vector build.
    for k in ("source/ids", "target/ids", "source/labels", "target/labels", "pairs"):
        assert np.array_equal(f[k][()], g[k][()]), k
    lengths = f["target/lengths"][()]
    frames = np.split(f["target/features"][()], np.cumsum(lengths)[:-1])
    # Recordings of 0.4 .. 0.7 s: about 10 ms frames each (the voiced part), per-band mean 0.
    assert all(30 <= len(x) <= 75 for x in frames), lengths
    assert all(np.abs(x.mean(0)).max() < 1e-5 for x in frames)
    text = bytes(np.split(f["source/features"][()], np.cumsum(f["source/lengths"][()])[:-1])[1].astype(np.uint8)).decode()
    assert "born free and equal" in text or "libres et" in text or "frei und gleich" in text or "liberi ed" in text, text
PY

echo "prep_text_to_speech: $passed passed, $failures failed"
[ $failures -eq 0 ]
