#!/usr/bin/env bash
# data_prep/polyglot_speech on tiny self-made inputs in the real raw formats (UDHR HTML, a
# KTuberling .soundtheme with WAV recordings) and the real espeak-ng: languages without text,
# with too little text or in a script espeak-ng cannot read are skipped; each language's text
# items fall into three disjoint sets (text only, pair, spoken only); every strong pair joins a
# text with espeak-ng speech of that very text (re-synthesised here from the item's id) in one
# class; NAME.texts.json holds the texts the features were computed from; real recordings are
# unpaired; clusters are families of >= 2 languages; reruns (also into another folder) are byte-identical, and the class
# split follows --split-seed.
# usage: prep_polyglot_speech_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
prep="$here/../../data_prep/polyglot_speech/build_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
for tool in sox espeak-ng; do
  command -v $tool >/dev/null || { echo "FAIL: $tool missing (scripts/setup.sh installs it)"; exit 1; }
done

"$py" - "$work" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import os, sys, wave, numpy as np
w = sys.argv[1]
os.makedirs(f"{w}/udhr"); os.makedirs(f"{w}/sounds/en"); os.makedirs(f"{w}/sounds/fi")
words = {
    "eng": "all human beings are born free and equal in dignity rights reason conscience".split(),
    "deu_1996": "alle menschen sind frei und gleich an würde rechten geboren vernunft gewissen".split(),
    "fra": "tous les êtres humains naissent libres égaux en dignité et droits raison".split(),
    "spa": "todos los seres humanos nacen libres iguales en dignidad y derechos razón".split(),
    "fin": "kaikki ihmiset syntyvät vapaina ja tasavertaisina arvoltaan oikeuksiltaan järjen omantunnon".split(),
    "eus": "gizon emakume guztiak aske jaiotzen dira duintasun eta eskubide berberak dituzte".split(),
    "ita": "tutti gli esseri umani nascono liberi ed eguali in dignità e diritti".split(),
}
for udhr, ws in words.items():
    paras = 2 if udhr == "ita" else 8
    with open(f"{w}/udhr/{udhr}.html", "w") as f:
        f.write(f'<!doctype html>\n<html lang="x"><body><h1>T</h1>\n')
        for i in range(paras):
            s = [" ".join(ws[(3 * i + 5 * j + k) % len(ws)] for k in range(5)) + f" {i}{j}." for j in range(2)]
            f.write(f"<p>{s[0].capitalize()} {s[1].capitalize()}</p>\n")
        # the same sentence twice (one text item) and one starting with '-' (spoken from stdin)
        f.write(f"<p>{' '.join(ws[:6]).capitalize()}.</p>\n<p>{' '.join(ws[:6]).capitalize()}.</p>\n")
        f.write(f"<li>- {' '.join(ws[2:8])}.</li>\n</body></html>\n")
# Japanese in Han characters only: espeak-ng spells each out as "Chinese letter" (skipped).
han = "人間専制圧迫反逆訴最後手段法支配権利保護肝要"
with open(f"{w}/udhr/jpn.html", "w") as f:
    f.write("<html><body>\n" + "".join(f"<p>{''.join(han[(i + k) % len(han)] for k in range(9))}。</p>\n"
                                        for i in range(16)) + "</body></html>\n")
for lang, freq in (("en", 300.0), ("fi", 900.0)):
    with open(f"{w}/sounds/{lang}.soundtheme", "w") as f:
        f.write(f'<language code="{lang}">\n')
        for i in range(2):
            t = np.arange(int(8000 * (0.4 + 0.1 * i))) / 8000.0
            tone = 0.5 * np.sin(2 * np.pi * freq * t) * np.minimum(1, 20 * t)
            with wave.open(f"{w}/sounds/{lang}/w{i}.wav", "wb") as out:
                out.setnchannels(1); out.setsampwidth(2); out.setframerate(8000)
                out.writeframes((tone * 32767).astype("<i2").tobytes())
            f.write(f'  <sound name="w{i}" file="{lang}/w{i}.wav" />\n')
        f.write("</language>\n")
PY

build() {  # OUT [options]
  local out=$1; shift
  "$py" "$prep" --udhr "$work/udhr" --languages en,de,fr,es,fi,eu,it,ja,sv --real ktuberling \
    --sounds "$work/sounds" --min-texts 9 --pair-texts 3 --spoken-texts 3 --source-texts 4 \
    --shards 2 --workers 2 --name tiny --out "$out" "$@" 2>"$work/prep.err"
}
build "$work/out" && ok || fail "prep failed: $(cat "$work/prep.err")"
grep -q "skipping sv (no UDHR text" "$work/prep.err" && ok || fail "sv not skipped: $(cat "$work/prep.err")"
grep -q "skipping it (.* text items" "$work/prep.err" && ok || fail "it not skipped: $(cat "$work/prep.err")"
grep -q "skipping ja (.*cannot read" "$work/prep.err" && ok || fail "ja not skipped: $(cat "$work/prep.err")"
cp "$work/out/tiny.manifest.json" "$work/first.json"
build "$work/out" && ok || fail "second prep failed: $(cat "$work/prep.err")"
cmp -s "$work/out/tiny.manifest.json" "$work/first.json" && ok || fail "rerun changed the manifest (checksums)"
# Another output folder (another machine's paths): the same bytes, folders are not recorded.
build "$work/elsewhere" && ok || fail "prep into another folder failed: $(cat "$work/prep.err")"
cmp -s "$work/elsewhere/tiny.manifest.json" "$work/first.json" && cmp -s "$work/elsewhere/tiny-00000-of-00002.h5" "$work/out/tiny-00000-of-00002.h5" &&
  ok || fail "a build into another folder differs (a path recorded?)"

out=$("$croma" inspect "$work/out/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/out" "$here/../../data_prep" <<'PY' && ok || fail "benchmark content check"
import json, os, subprocess, sys, tempfile, h5py, numpy as np
s = json.loads(sys.argv[1]); d = sys.argv[2]; sys.path.insert(0, sys.argv[3])
import features
assert s["classes"] == 6, s                               # de en es eu fi fr
assert s["source"]["items"] == 6 * (4 + 3) and s["target"]["items"] == 6 * (3 + 3) + 4, s
assert s["pairs"] == 18, s
texts = json.load(open(f"{d}/tiny.texts.json", encoding="utf-8"))
man = json.load(open(f"{d}/tiny.manifest.json"))
assert "espeak-ng" in man["provenance"]["speech"]["synthetic"], man["provenance"]["speech"]
assert man["provenance"]["speech"]["real"]["languages"] == {"en": 2, "fi": 2}, man["provenance"]["speech"]
sets, family = {}, {}
pairs_seen = 0
for i in range(2):
    with h5py.File(f"{d}/tiny-0000{i}-of-00002.h5") as f:
        names = [n.decode() for n in f["classes/names"][()]]
        fams = [n.decode() for n in f["clusters/names"][()]]
        assert "synthetic" in f["target"].attrs["feature"] and "espeak-ng" in f["target"].attrs["feature"]
        sid = [x.decode() for x in f["source/ids"][()]]; tid = [x.decode() for x in f["target/ids"][()]]
        sl, tl = f["source/labels"][()], f["target/labels"][()]
        X, Y = f["source/features"][()], f["target/features"][()]
        for side, ids, lab, clu in (("s", sid, sl, f["source/clusters"][()]), ("t", tid, tl, f["target/clusters"][()])):
            for j, (x, k, c) in enumerate(zip(ids, lab, clu)):
                lang = names[k]
                family.setdefault(fams[c], set()).add(lang)
                kind, item_lang, rest = x.split(":", 2)
                if kind == "real":
                    assert side == "t" and item_lang == "ktuberling" and rest.split("/")[0] == lang, x
                    continue
                assert item_lang == lang, (x, lang)
                sets.setdefault(lang, {}).setdefault(rest.split(":")[0], []).append(texts[x])
        # the texts file holds the texts the source features were computed from
        for j, x in enumerate(sid):
            assert np.array_equal(X[j], features.hashed_char_ngrams(texts[x], 512)), x
        pairs = f["pairs"][()]
        pairs_seen += len(pairs)
        paired_s, paired_t = set(pairs[:, 0].tolist()), set(pairs[:, 1].tolist())
        assert len(paired_s) == len(pairs) == len(paired_t)
        for a, b in pairs:
            assert sl[a] == tl[b], (sid[a], tid[b])
            assert sid[a].split(":")[2] == "pair" and tid[b].split(":")[2] == "pair", (sid[a], tid[b])
            assert texts[sid[a]] == texts[tid[b]], (sid[a], tid[b])
        # unpaired: text-only sources, spoken-only and real targets
        assert all((":pair:" in x) == (j in paired_s) for j, x in enumerate(sid))
        assert all((":pair:" in x) == (j in paired_t) for j, x in enumerate(tid))
        # every synthetic target is espeak-ng speech of its text, re-synthesised from its id
        for j, x in enumerate(tid):
            if not x.startswith("espeak:"):
                continue
            voice, rate, pitch = x.split(":")[4].split("-")
            with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
                subprocess.run(["espeak-ng", "-v", voice, "-s", rate[1:], "-p", pitch[1:], "-w", wav.name],
                               input=texts[x].encode(), check=True)
                again = features.log_mel_summary(features.decode_audio(wav.name))
            assert np.array_equal(Y[j], again), x
assert pairs_seen == 18
assert sorted(sets) == ["de", "en", "es", "eu", "fi", "fr"], sorted(sets)
for lang, by in sets.items():
    assert sorted(by) == ["pair", "spoken", "text"], (lang, sorted(by))
    assert len(by["pair"]) // 2 == 3 and len(by["spoken"]) == 3 and len(by["text"]) == 4, (lang, by)
    a, b, c = set(by["text"]), set(by["pair"]), set(by["spoken"])
    assert not (a & b or a & c or b & c), (lang, a & b, a & c, b & c)   # three disjoint text sets
    assert len(a) == 4 and len(b) == 3 and len(c) == 3, (lang, by)       # and no repeats inside one
    assert any(t.startswith("- ") for t in texts.values())
# clusters are language families of >= 2 languages (singletons folded into "other")
assert family == {"Germanic": {"de", "en"}, "Romance and Latin": {"es", "fr"}, "other": {"eu", "fi"}}, family
PY

# --split-seed: the same seed gives the same class split, another seed another split.
split_of() { "$py" -c 'import sys, h5py
with h5py.File(sys.argv[1]) as f: print([f["classes/" + s][()].tolist() for s in ("meta_train", "meta_val", "meta_test")])' "$1"; }
build "$work/same" --split-seed 2026 && build "$work/other" --split-seed 7 && ok || fail "prep with split seeds failed: $(cat "$work/prep.err")"
first=$(split_of "$work/out/tiny-00000-of-00002.h5")
[ "$first" = "$(split_of "$work/same/tiny-00000-of-00002.h5")" ] && ok || fail "same seed, other split"
[ "$first" != "$(split_of "$work/other/tiny-00000-of-00002.h5")" ] && ok || fail "--split-seed 7 gave the same split: $first"

# --sequences: the same items as UTF-8 byte ids and log-mel frames (layout version 2).
build "$work/seq" --sequences && ok || fail "prep --sequences failed: $(cat "$work/prep.err")"
out=$("$croma" inspect "$work/seq/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect of sequences failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/seq" "$work/out" <<'PY' && ok || fail "sequence content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d, vec = sys.argv[2], sys.argv[3]
assert s["source"]["kind"] == "tokens" and s["target"]["kind"] == "frames" and s["target"]["dim"] == 40, s
assert s["pairs"] == 18, s
texts = json.load(open(f"{d}/tiny.texts.json", encoding="utf-8"))
with h5py.File(f"{d}/tiny-00001-of-00002.h5") as f, h5py.File(f"{vec}/tiny-00001-of-00002.h5") as g:
    for k in ("source/ids", "target/ids", "source/labels", "target/labels", "pairs", "source/clusters"):
        assert np.array_equal(f[k][()], g[k][()]), k
    toks = np.split(f["source/features"][()], np.cumsum(f["source/lengths"][()])[:-1])
    for x, t in zip(f["source/ids"][()], toks):
        assert bytes(t.astype(np.uint8)).decode() == texts[x.decode()], x
PY

echo "prep_polyglot_speech: $passed passed, $failures failed"
[ $failures -eq 0 ]
