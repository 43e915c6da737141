#!/usr/bin/env bash
# data_prep/text_to_image on tiny self-made inputs in the real raw formats (emoji-test.txt,
# CLDR annotation XML, @iconify-json chars.json/icons.json with SVG bodies): the right emoji,
# classes, texts, pictures and pairs end up in shards that `croma inspect` accepts, the
# features are what the manifest says, and a rerun gives byte-identical shards.
# usage: prep_text_to_image_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
prep="$here/../../data_prep/text_to_image/build_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
command -v rsvg-convert >/dev/null || { echo "FAIL: rsvg-convert missing (scripts/setup.sh installs librsvg2-bin)"; exit 1; }

"$py" - "$work" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import json, os, sys
w = sys.argv[1]
# 5 subgroups: three with 3 emoji, one with 2, one ("tiny") with 1 (dropped by --min-emoji 2);
# a skin-tone variant and a Component entry that must be skipped; one emoji without a
# twemoji picture (skipped), one with no text in any locale (skipped).
emoji = {  # codepoints -> (group, subgroup, english)
    "1F600": ("Smileys", "face-smiling", "grinning face"),
    "1F603": ("Smileys", "face-smiling", "grinning face with big eyes"),
    "1F604": ("Smileys", "face-smiling", "grinning face with smiling eyes"),
    "1F436": ("Animals", "animal-mammal", "dog face"),
    "1F431": ("Animals", "animal-mammal", "cat face"),
    "1F42E": ("Animals", "animal-mammal", "cow face"),
    "1F34E": ("Food", "food-fruit", "red apple"),
    "1F34C": ("Food", "food-fruit", "banana"),
    "1F347": ("Food", "food-fruit", "grapes"),
    "1F680": ("Travel", "transport-air", "rocket"),
    "1F681": ("Travel", "transport-air", "helicopter"),
    "1F697": ("Travel", "tiny", "automobile"),
    "1F44B 1F3FD": ("People", "hand-fingers-open", "waving hand: medium skin tone"),
    "1F3FB": ("Component", "skin-tone", "light skin tone"),
    "1F34D": ("Food", "food-fruit", "pineapple"),      # no twemoji picture
    "1F352": ("Food", "food-fruit", "cherries"),       # no text
}
with open(f"{w}/emoji-test.txt", "w") as f:
    f.write("# emoji-test.txt (test excerpt)\n")
    last = None
    for cps, (g, sg, name) in emoji.items():
        if (g, sg) != last:
            f.write(f"\n# group: {g}\n\n# subgroup: {sg}\n")
            last = (g, sg)
        ch = "".join(chr(int(h, 16)) for h in cps.split())
        f.write(f"{cps:<20}; fully-qualified     # {ch} E1.0 {name}\n")
        f.write(f"{cps:<20}; unqualified         # {ch} E1.0 {name}\n")
for loc, suffix in (("en", ""), ("fr", " fr"), ("de", " de")):
    os.makedirs(f"{w}/ann", exist_ok=True)
    with open(f"{w}/ann/{loc}.xml", "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<ldml><annotations>\n')
        for cps, (g, sg, name) in emoji.items():
            if cps == "1F352" or (loc == "de" and cps == "1F600"):
                continue
            ch = "".join(chr(int(h, 16)) for h in cps.split())
            f.write(f'<annotation cp="{ch}">{name}{suffix} | {sg}</annotation>\n')
            f.write(f'<annotation cp="{ch}" type="tts">{name}{suffix}</annotation>\n')
        f.write("</annotations></ldml>\n")
colours = ["#e53935", "#43a047", "#1e88e5", "#fdd835", "#8e24aa", "#00acc1", "#fb8c00", "#6d4c41",
           "#3949ab", "#c0ca33", "#d81b60", "#546e7a", "#7cb342", "#f4511e"]
for style, size, shape in (("noto", 128, "circle"), ("twemoji", 36, "rect")):
    d = f"{w}/{style}"; os.makedirs(d, exist_ok=True)
    chars, icons, aliases = {}, {}, {}
    for i, cps in enumerate(emoji):
        if style == "twemoji" and cps == "1F34D":
            continue
        key = "-".join(h.lower() for h in cps.split())
        name = f"e{i}"
        c = colours[i % len(colours)]
        body = (f'<circle cx="{size/2}" cy="{size/2}" r="{size/2.5}" fill="{c}"/>' if shape == "circle"
                else f'<rect x="{size/6}" y="{size/6}" width="{size/1.5}" height="{size/3}" fill="{c}"/>')
        if i == 0:  # one picture reached through an alias, as in the real sets
            icons[name + "-base"] = {"body": body}; aliases[name] = {"parent": name + "-base"}
        else:
            icons[name] = {"body": body}
        chars[key] = name
    json.dump(chars, open(f"{d}/chars.json", "w"))
    json.dump({"prefix": style, "icons": icons, "aliases": aliases, "width": size, "height": size},
              open(f"{d}/icons.json", "w"))
PY

build() {
  "$py" "$prep" --emoji-test "$work/emoji-test.txt" --annotations "$work/ann" \
    --style "noto=$work/noto" --style "twemoji=$work/twemoji" --locales en,fr,de \
    --min-emoji 2 --shards 2 --workers 2 --name tiny --out "$1" 2>"$work/prep.err"
}
build "$work/out" && ok || fail "prep failed: $(cat "$work/prep.err")"
cp "$work/out/tiny.manifest.json" "$work/first.json"
build "$work/out" && ok || fail "second prep failed: $(cat "$work/prep.err")"
cmp -s "$work/out/tiny.manifest.json" "$work/first.json" && ok || fail "rerun changed the manifest (checksums)"

out=$("$croma" inspect "$work/out/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/out" <<'PY' && ok || fail "benchmark content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d = sys.argv[2]
# kept: 3 subgroups x 3 emoji + 2 (not pineapple, cherries, automobile, skin tone, component)
assert s["classes"] == 4, s
assert s["target"]["items"] == 11 * 2 and s["target"]["dim"] == 768, s["target"]
# texts: 11 emoji x 3 locales, minus grinning face in de
assert s["source"]["items"] == 32 and s["source"]["dim"] == 512, s["source"]
assert s["pairs"] == 32 * 2, s
sp = s["splits"]
assert [sp[k]["classes"] for k in ("meta-train", "meta-val", "meta-test")] == [2, 1, 1], sp
names, dog_seen = [], False
for i in range(2):
    with h5py.File(f"{d}/tiny-0000{i}-of-00002.h5") as f:
        names = [n.decode() for n in f["classes/names"][()]]
        ids = [x.decode() for x in f["source/ids"][()]]
        tids = [x.decode() for x in f["target/ids"][()]]
        X = f["target/features"][()]
        for (a, b) in f["pairs"][()]:
            assert ids[a].split(":")[1] == tids[b].split(":")[1], (ids[a], tids[b])  # same emoji
        if "noto:1f436" in tids:   # dog (4th emoji): a #fdd835 circle on white in the noto style
            px = X[tids.index("noto:1f436")].reshape(16, 16, 3); dog_seen = True
            assert np.allclose(px[0, 0], 1.0), px[0, 0]
            assert np.allclose(px[8, 8], np.array([0xfd, 0xd8, 0x35]) / 255, atol=0.02), px[8, 8]
        assert f["source/features"].dtype == np.float32 and f["source/features"].compression == "gzip"
        norms = np.linalg.norm(f["source/features"][()], axis=1)
        assert np.allclose(norms, 1.0, atol=1e-5), norms
assert dog_seen
assert names == ["animal-mammal", "face-smiling", "food-fruit", "transport-air"], names
m = json.load(open(f"{d}/tiny.manifest.json"))
assert "hashed character" in m["source"]["feature"] and "16x16" in m["target"]["feature"], m
PY

# --sequences: byte-id text and [3, 16, 16] images (layout version 2), same items as above.
"$py" "$prep" --emoji-test "$work/emoji-test.txt" --annotations "$work/ann" \
  --style "noto=$work/noto" --style "twemoji=$work/twemoji" --locales en,fr,de \
  --min-emoji 2 --shards 2 --workers 2 --name tiny --out "$work/seq" --sequences 2>"$work/prep.err" \
  && ok || fail "prep --sequences failed: $(cat "$work/prep.err")"
out=$("$croma" inspect "$work/seq/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect of sequences failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/seq" "$work/out" <<'PY' && ok || fail "sequence/image content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d, vec = sys.argv[2], sys.argv[3]
assert s["source"]["kind"] == "tokens" and s["source"]["items"] == 32, s["source"]
assert s["target"]["kind"] == "image" and s["target"]["shape"] == [3, 16, 16] and s["target"]["items"] == 22, s["target"]
for i in range(2):
    with h5py.File(f"{d}/tiny-0000{i}-of-00002.h5") as f, h5py.File(f"{vec}/tiny-0000{i}-of-00002.h5") as g:
        assert np.array_equal(f["pairs"][()], g["pairs"][()])
        # The image is the vector build's pixels, channels first.
        v = g["target/features"][()].reshape(-1, 16, 16, 3).transpose(0, 3, 1, 2)
        assert np.array_equal(f["target/features"][()], v)
        ids = [x.decode() for x in f["source/ids"][()]]
        texts = np.split(f["source/features"][()], np.cumsum(f["source/lengths"][()])[:-1])
        for sid, t in zip(ids, texts):
            assert len(bytes(t.astype(np.uint8)).decode()) > 0, sid
PY

echo "prep_text_to_image: $passed passed, $failures failed"
[ $failures -eq 0 ]
