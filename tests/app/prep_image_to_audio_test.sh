#!/usr/bin/env bash
# data_prep/image_to_audio on tiny self-made inputs in the real raw formats: a Tux Paint stamps
# tree (PNG/SVG stamps with .ogg sounds, spoken *_desc_* descriptions, a symbols/ folder), a
# GCompris Qt .rcc bundle (written here by an independent writer of the rcc format, with
# zlib-compressed and plain entries), OpenClipart SVG folders and a 0 A.D. audio/ tree.
# Checks: the rcc reader returns every entry byte for byte and rejects a damaged bundle with
# one clear line; pictures and sounds land in the right concepts; ambiguous, duplicate,
# unrenderable, sign-folder and left-out pictures are dropped; strong pairs join a picture
# and a sound of the same item; only concepts with enough sounds become meta-val/meta-test
# (those with too few pictures for meta-train first) and too small ones are dropped;
# picture features are the rendered colours and sound features tell tones apart; `croma
# inspect` accepts the shards; a rerun is byte-identical.
# usage: prep_image_to_audio_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
prep_dir="$here/../../data_prep/image_to_audio"
prep="$prep_dir/build_features.py"
py=/usr/bin/python3
source "$(dirname "$0")/harness.sh"
command -v sox >/dev/null || { echo "FAIL: sox missing (scripts/setup.sh installs it)"; exit 1; }
command -v rsvg-convert >/dev/null || { echo "FAIL: rsvg-convert missing (scripts/setup.sh installs librsvg2-bin)"; exit 1; }

"$py" - "$work" "$prep_dir" <<'PY' || { echo "FAIL: could not make raw inputs"; exit 1; }
import os, struct, subprocess, sys, zlib
w, prep_dir = sys.argv[1], sys.argv[2]

def put(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def png(rgb, size=8):
    """Solid, opaque RGBA PNG."""
    row = b"\x00" + bytes(list(rgb) + [255]) * size
    chunk = lambda k, b: struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))

def svg(colour):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            f'<rect width="10" height="10" fill="{colour}"/></svg>')

def tone(freq, seconds=0.6, noise=False):
    """Ogg Vorbis made by sox (as the packages ship them)."""
    path = os.path.join(w, "tone.ogg")
    kind = ["whitenoise"] if noise else ["sine", str(freq)]
    subprocess.run(["sox", "-D", "-n", "-r", "16000", "-c", "1", path, "synth", str(seconds)] + kind
                   + (["sinc", f"{freq}-{freq + 400}"] if noise else []), check=True)
    data = open(path, "rb").read()
    os.remove(path)
    return data

# A Qt rcc writer (format version 3), independent of the reader under test.
def rcc(files, compress):
    tree = {}
    for path in files:
        node = tree
        parts = path.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = path
    names, data, nodes = bytearray(), bytearray(), []
    name_off = {}
    def name(n):
        if n not in name_off:
            name_off[n] = len(names)
            u = n.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(u) // 2, 0) + u)
        return name_off[n]
    nodes.append(None)  # root
    queue = [(0, "", tree)]
    while queue:
        index, n, children = queue.pop(0)
        first = len(nodes)
        keys = sorted(children)
        nodes.extend([None] * len(keys))
        nodes[index] = struct.pack(">IHII", name(n) if index else 0, 2, len(keys), first) + b"\0" * 8
        for i, k in enumerate(keys):
            if isinstance(children[k], dict):
                queue.append((first + i, k, children[k]))
            else:
                body = files[children[k]]
                flags = 0
                if children[k] in compress:
                    body, flags = struct.pack(">I", len(body)) + zlib.compress(body), 1
                nodes[first + i] = struct.pack(">IHHHI", name(k), flags, 0, 1, len(data)) + b"\0" * 8
                data.extend(struct.pack(">I", len(body)) + body)
    header = 24
    tree_off = header
    data_off = tree_off + 22 * len(nodes)
    names_off = data_off + len(data)
    return (b"qres" + struct.pack(">IIIII", 3, tree_off, data_off, names_off, 0)
            + b"".join(nodes) + bytes(data) + bytes(names))

# Tux Paint stamps: cow (picture + sound = strong pair, spoken description left out), an oak,
# a cello (SVG stamp + sound), a thumbnail, and symbols/ (left out).
tp = f"{w}/tuxpaint"
put(f"{tp}/animals/mammals/bovines/cow.png", png((255, 0, 0)))
put(f"{tp}/animals/mammals/bovines/cow_thumb.png", png((0, 255, 0)))
put(f"{tp}/animals/mammals/bovines/cow.ogg", tone(200))
put(f"{tp}/animals/mammals/bovines/cow_desc_fr.ogg", tone(200))
put(f"{tp}/plants/trees/holm_oak.png", png((0, 128, 0)))
put(f"{tp}/animals/birds/hen.png", png((255, 255, 0)))
put(f"{tp}/animals/birds/duck.ogg", tone(1500))
put(f"{tp}/hobbies/music/string/cello.svg", svg("#000080"))
put(f"{tp}/hobbies/music/string/cello.ogg", tone(900))
put(f"{tp}/symbols/math/plus.ogg", tone(900))
put(f"{tp}/symbols/math/cow.png", png((255, 0, 0)))

# GCompris: one bundle with a violin and a chicken (pictures and sounds; 'chickens.ogg' pairs
# with 'chicken.svg'), a QML file and a drum picture without a sound.
act = "gcompris/src/activities"
files = {f"{act}/instruments/resource/violin.svg": svg("#0000ff").encode(),
         f"{act}/instruments/resource/violin.ogg": tone(1000),
         f"{act}/instruments/Instruments.qml": b"import QtQuick 2.12\n",
         f"{act}/explore_farm_animals/resource/animals/chicken.svg": svg("#ffff00").encode(),
         f"{act}/explore_farm_animals/resource/animals/chickens.ogg": tone(3000),
         f"{act}/categorization/resource/images/others/drum.svg": svg("#808080").encode()}
compress = {f"{act}/instruments/resource/violin.svg", f"{act}/explore_farm_animals/resource/animals/chickens.ogg"}
put(f"{w}/rcc/test.rcc", rcc(files, compress))
put(f"{w}/rcc/README", "not a bundle")
put(f"{w}/rcc_files.py", repr(files))

# OpenClipart: a bull, the same bull bytes again (duplicate), a tree, a tree with fruits
# (tree felling and fruit: ambiguous), a hot dog (left out by 'hot'), a triangle in shapes/
# (a sign folder), and a broken SVG.
oc = f"{w}/openclipart"
put(f"{oc}/animals/bull_ganson.svg", svg("#ff0000"))
put(f"{oc}/food/bull_copy.svg", svg("#ff0000"))
put(f"{oc}/plants/tree_01.svg", svg("#008000"))
put(f"{oc}/plants/tree_with_fruits.svg", svg("#00ff00"))
put(f"{oc}/food/hot_dog.svg", svg("#aa5500"))
put(f"{oc}/shapes/triangle.svg", svg("#000000"))
put(f"{oc}/animals/cow_broken.svg", "<svg this is not xml")
put(f"{oc}/geography/rocks.svg", svg("#777777"))
put(f"{oc}/animals/duck_01.svg", svg("#ffaa00"))

# 0 A.D.: cattle and tree-felling takes, and a music file no concept wants.
oad = f"{w}/0ad/audio"
for i in range(3):
    put(f"{oad}/actor/fauna/animal/cattle_{i + 1}.ogg", tone(200 + 10 * i, 0.4 + 0.1 * i))
    put(f"{oad}/resource/lumbering/lumber_tree_{i + 1}.ogg", tone(2000, 0.4 + 0.1 * i, noise=True))
    put(f"{oad}/resource/mining/mine_stone_{i + 1}.ogg", tone(600, 0.3 + 0.1 * i))
put(f"{oad}/music/theme.ogg", tone(440))
PY

# The rcc reader: every entry back byte for byte, compressed or not; damaged bundles refused.
"$py" - "$work" "$prep_dir" <<'PY' && ok || fail "rcc reader round trip"
import ast, sys
sys.path.insert(0, sys.argv[2])
import qt_rcc
w = sys.argv[1]
want = ast.literal_eval(open(f"{w}/rcc_files.py").read())
got = qt_rcc.read_rcc(open(f"{w}/rcc/test.rcc", "rb").read())
assert got == want, (sorted(got), sorted(want))
data = open(f"{w}/rcc/test.rcc", "rb").read()
for bad, why in ((b"qrez" + data[4:], "no 'qres' magic"), (data[:200], "past the end"),
                 (data[:4] + b"\0\0\0\x09" + data[8:], "version 9")):
    try:
        qt_rcc.read_rcc(bad)
        raise AssertionError("accepted: " + why)
    except qt_rcc.RccError as e:
        assert why in str(e), (why, str(e))
PY

build() {
  "$py" "$prep" --tuxpaint "$work/tuxpaint" --gcompris-rcc "$work/rcc" --openclipart "$work/openclipart" \
    --oad "$work/0ad" --min-pictures 1 --min-train-pictures 2 --min-sounds 1 --min-eval-sounds 3 --test-classes 1 --val-classes 1 \
    --shards 2 --workers 2 --name tiny --out "$1" 2>"$work/prep.err"
}
build "$work/out" && ok || fail "prep failed: $(cat "$work/prep.err")"
grep -q "skipping picture openclipart:animals/cow_broken.svg (cannot render" "$work/prep.err" && ok \
  || fail "broken SVG not reported: $(cat "$work/prep.err")"
grep -q "skipping percussion (1 pictures, 0 sounds)" "$work/prep.err" && ok || fail "percussion not skipped: $(cat "$work/prep.err")"
# duck: one picture (meta-train needs 2) and one sound (evaluation needs 3)
grep -q "skipping duck (1 pictures, 1 sounds)" "$work/prep.err" && ok || fail "duck not skipped: $(cat "$work/prep.err")"
grep -q "1 ambiguous media dropped" "$work/prep.err" && ok || fail "ambiguous count: $(cat "$work/prep.err")"
cp "$work/out/tiny.manifest.json" "$work/first.json"
build "$work/out" && ok || fail "second prep failed: $(cat "$work/prep.err")"
cmp -s "$work/out/tiny.manifest.json" "$work/first.json" && ok || fail "rerun changed the manifest (checksums)"

out=$("$croma" inspect "$work/out/tiny.shards.txt" 2>"$work/inspect.err") || fail "inspect failed: $(cat "$work/inspect.err")"
"$py" - "$(tail -n 1 <<<"$out")" "$work/out" <<'PY' && ok || fail "benchmark content check"
import json, sys, h5py, numpy as np
s = json.loads(sys.argv[1]); d = sys.argv[2]
m = json.load(open(f"{d}/tiny.manifest.json"))
assert m["source"]["modality"] == "image" and m["source"]["dim"] == 768, m["source"]
assert m["target"]["modality"] == "audio" and m["target"]["dim"] == 512, m["target"]
assert "16x16 RGB" in m["source"]["feature"] and "log-mel" in m["target"]["feature"], m
assert s["classes"] == 5, s
src, tgt, pairs = {}, {}, []
for i in range(2):
    with h5py.File(f"{d}/tiny-0000{i}-of-00002.h5") as f:
        names = [n.decode() for n in f["classes/names"][()]]
        split = {k: sorted(names[c] for c in f[f"classes/{k}"][()]) for k in ("meta_train", "meta_val", "meta_test")}
        sids = [x.decode() for x in f["source/ids"][()]]
        tids = [x.decode() for x in f["target/ids"][()]]
        for side, ids, into in (("source", sids, src), ("target", tids, tgt)):
            X, y = f[f"{side}/features"][()], f[f"{side}/labels"][()]
            for ident, row, lab in zip(ids, X, y):
                into[ident] = (names[lab], row)
        pairs += [(sids[a], tids[b]) for a, b in f["pairs"][()]]
assert names == ["cattle", "chicken", "mining", "string instrument", "tree felling"], names
# mining (1 picture, 3 sounds) is fit only for evaluation and takes a slot first; cattle (4
# sounds) and tree felling (3) may be either; chicken and string instrument (< 3 sounds) train.
evaluated = sorted(split["meta_val"] + split["meta_test"])
assert len(split["meta_val"]) == 1 and len(split["meta_test"]) == 1, split
assert "mining" in evaluated and {"chicken", "string instrument"} <= set(split["meta_train"]), split
assert sorted(evaluated + split["meta_train"]) == names and len(split["meta_train"]) == 3, split
want_src = {"tuxpaint:animals/mammals/bovines/cow.png": "cattle",
            "tuxpaint:plants/trees/holm_oak.png": "tree felling",
            "tuxpaint:hobbies/music/string/cello.svg": "string instrument",
            "gcompris:instruments/resource/violin.svg": "string instrument",
            "openclipart:geography/rocks.svg": "mining",
            "tuxpaint:animals/birds/hen.png": "chicken",
            "gcompris:explore_farm_animals/resource/animals/chicken.svg": "chicken",
            "openclipart:animals/bull_ganson.svg": "cattle",
            "openclipart:plants/tree_01.svg": "tree felling"}
assert {k: v[0] for k, v in src.items()} == want_src, sorted(src)
want_tgt = {"tuxpaint:animals/mammals/bovines/cow.ogg": "cattle",
            "tuxpaint:hobbies/music/string/cello.ogg": "string instrument",
            "gcompris:instruments/resource/violin.ogg": "string instrument",
            "gcompris:explore_farm_animals/resource/animals/chickens.ogg": "chicken",
            **{f"0ad:audio/resource/mining/mine_stone_{i}.ogg": "mining" for i in (1, 2, 3)}}
want_tgt.update({f"0ad:audio/actor/fauna/animal/cattle_{i}.ogg": "cattle" for i in (1, 2, 3)})
want_tgt.update({f"0ad:audio/resource/lumbering/lumber_tree_{i}.ogg": "tree felling" for i in (1, 2, 3)})
assert {k: v[0] for k, v in tgt.items()} == want_tgt, sorted(tgt)
assert sorted(pairs) == sorted([
    ("tuxpaint:animals/mammals/bovines/cow.png", "tuxpaint:animals/mammals/bovines/cow.ogg"),
    ("tuxpaint:hobbies/music/string/cello.svg", "tuxpaint:hobbies/music/string/cello.ogg"),
    ("gcompris:instruments/resource/violin.svg", "gcompris:instruments/resource/violin.ogg"),
    ("gcompris:explore_farm_animals/resource/animals/chicken.svg",
     "gcompris:explore_farm_animals/resource/animals/chickens.ogg")]), pairs
# Pictures: solid colours come back as 16x16 RGB of that colour (the violin SVG was stored
# zlib-compressed in the rcc).
colour = {"tuxpaint:animals/mammals/bovines/cow.png": (1, 0, 0), "gcompris:instruments/resource/violin.svg": (0, 0, 1),
          "openclipart:geography/rocks.svg": (0x77 / 255,) * 3,
          "gcompris:explore_farm_animals/resource/animals/chicken.svg": (1, 1, 0), "tuxpaint:plants/trees/holm_oak.png": (0, 128 / 255, 0)}
for ident, rgb in colour.items():
    px = src[ident][1].reshape(16, 16, 3)
    assert np.abs(px - np.array(rgb)).max() < 0.01, (ident, px[8, 8])
# Sounds: cattle tones (200-220 Hz) are close to each other and far from band noise at 2 kHz.
cattle = [tgt[f"0ad:audio/actor/fauna/animal/cattle_{i}.ogg"][1] for i in (1, 2, 3)]
trees = [tgt[f"0ad:audio/resource/lumbering/lumber_tree_{i}.ogg"][1] for i in (1, 2, 3)]
within = max(np.linalg.norm(cattle[0] - c) for c in cattle[1:])
between = min(np.linalg.norm(c - t) for c in cattle for t in trees)
assert within < 0.5 * between, (within, between)
prov = m["provenance"]
assert prov["concepts"]["cattle"]["sound_count"] == 4 and prov["concepts"]["cattle"]["picture_count"] == 2, prov["concepts"]
PY

# A split given by name instead of the seeded draw; a concept unfit for evaluation is refused.
build_named() {
  "$py" "$prep" --tuxpaint "$work/tuxpaint" --gcompris-rcc "$work/rcc" --openclipart "$work/openclipart" \
    --oad "$work/0ad" --min-pictures 1 --min-train-pictures 2 --min-sounds 1 --min-eval-sounds 3 \
    --workers 2 --name named --out "$work/named" "$@" 2>"$work/named.err"
}
build_named --meta-test "tree felling" --meta-val cattle && ok || fail "named split failed: $(cat "$work/named.err")"
"$py" - "$work/named/named-00000-of-00002.h5" <<'PY' && ok || fail "named split content"
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    names = [n.decode() for n in f["classes/names"][()]]
    split = {k: sorted(names[c] for c in f[f"classes/{k}"][()]) for k in ("meta_train", "meta_val", "meta_test")}
assert split == {"meta_test": ["tree felling"], "meta_val": ["cattle"],
                 "meta_train": ["chicken", "string instrument"]}, split
PY
build_named --meta-test chicken --meta-val cattle && fail "unfit meta-test concept accepted" || ok
grep -q "meta-test/--meta-val: chicken (each must be" "$work/named.err" && ok || fail "unfit concept message: $(cat "$work/named.err")"

# A damaged bundle: one clear line, non-zero exit, no shards.
cp "$work/rcc/test.rcc" "$work/good.rcc"
head -c 300 "$work/good.rcc" > "$work/rcc/test.rcc"
"$py" "$prep" --gcompris-rcc "$work/rcc" --out "$work/bad" 2>"$work/bad.err" && fail "damaged rcc accepted" || ok
grep -q "test.rcc: .*past the end" "$work/bad.err" && [ "$(wc -l <"$work/bad.err")" -eq 1 ] && ok \
  || fail "damaged rcc message: $(cat "$work/bad.err")"
[ ! -e "$work/bad/tiny.shards.txt" ] && [ ! -e "$work/bad/sounds_image_to_audio.shards.txt" ] && ok || fail "shards written after an error"

echo "prep_image_to_audio: $passed passed, $failures failed"
[ $failures -eq 0 ]
