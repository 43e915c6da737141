#!/usr/bin/python3
"""Text -> image benchmark: emoji names and keywords in many languages (CLDR annotations)
as the source modality, emoji pictures in several art styles (Iconify JSON sets) as the
target modality. Classes are the emoji subgroups of emoji-test.txt; a strong pair joins a
text and a picture of the same emoji. Writes croma feature shards (docs/data-format.md).

Features: text as hashed character 1-3-grams (512 buckets); pictures rendered by
rsvg-convert at 32x32 on white and box-down-sampled to 16x16 RGB (768 raw pixel values).

With --sequences the text is written as UTF-8 byte ids (vocab 256) and the pictures as images
[3, 16, 16] (layout version 2), for croma's LSTM / pool and CNN encoders.
"""
import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import croma_shards  # noqa: E402
import features  # noqa: E402

SKIN_TONES = {0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF}
TEXT_BUCKETS = 512


def read_emoji_test(path):
    """-> list of (codepoints tuple, group, subgroup, English name), fully-qualified only."""
    out, group, subgroup = [], None, None
    line_re = re.compile(r"^([0-9A-F ]+?)\s*;\s*fully-qualified\s*#\s*\S+\s+E\d+\.\d+\s+(.*)$")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# group:"):
                group = line.split(":", 1)[1].strip()
            elif line.startswith("# subgroup:"):
                subgroup = line.split(":", 1)[1].strip()
            else:
                m = line_re.match(line.strip())
                if m:
                    cps = tuple(int(h, 16) for h in m.group(1).split())
                    out.append((cps, group, subgroup, m.group(2)))
    return out


def read_annotations(dirs, locale):
    """-> {emoji string without FE0F: "name | keywords"} for one locale (base + derived)."""
    names, keywords = {}, {}
    for d in dirs:
        path = os.path.join(d, locale + ".xml")
        if not os.path.exists(path):
            continue
        for a in ET.parse(path).getroot().iter("annotation"):
            cp = a.get("cp", "").replace("\ufe0f", "")
            text = (a.text or "").strip()
            if not cp or not text:
                continue
            (names if a.get("type") == "tts" else keywords)[cp] = text
    return {cp: names[cp] + " | " + keywords.get(cp, "") for cp in names}


def read_iconify(directory):
    """-> ({codepoint key: icon name}, icons.json dict) of one @iconify-json set."""
    with open(os.path.join(directory, "chars.json"), encoding="utf-8") as f:
        chars = json.load(f)
    with open(os.path.join(directory, "icons.json"), encoding="utf-8") as f:
        icons = json.load(f)
    return chars, icons


def icon_svg(icons, name):
    seen = 0
    while name in icons.get("aliases", {}) and name not in icons["icons"] and seen < 8:
        name = icons["aliases"][name]["parent"]
        seen += 1
    icon = icons["icons"].get(name)
    if icon is None:
        return None
    w = icon.get("width", icons.get("width", 16))
    h = icon.get("height", icons.get("height", 16))
    left, top = icon.get("left", 0), icon.get("top", 0)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{left} {top} {w} {h}">{icon["body"]}</svg>')


def char_key(cps, keep_fe0f):
    return "-".join(f"{c:x}" for c in cps if keep_fe0f or c != 0xFE0F)




def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--emoji-test", required=True, help="unicode-data's emoji-test.txt")
    p.add_argument("--annotations", action="append", required=True, help="CLDR annotations dir (repeatable)")
    p.add_argument("--style", action="append", required=True, help="NAME=DIR of an @iconify-json package")
    p.add_argument("--locales", default="en,fr,de,es,it,pt,ru,ja,zh,ko,ar,hi,tr,pl,nl,sv,el,he,th,vi,uk,fa,id,cs")
    p.add_argument("--min-emoji", type=int, default=8, help="smallest subgroup kept as a class")
    p.add_argument("--split-seed", type=int, default=2026)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--name", default="emoji_text_to_image")
    p.add_argument("--out", required=True)
    p.add_argument("--sources-json", help="JSON list of {name, version, licence} for the manifest")
    p.add_argument("--sequences", action="store_true",
                   help="write byte-id text and [3, 16, 16] images instead of fixed vectors")
    a = p.parse_args(argv)

    locales = a.locales.split(",")
    styles = []
    for spec in a.style:
        name, directory = spec.split("=", 1)
        styles.append((name, *read_iconify(directory)))
    texts = {loc: read_annotations(a.annotations, loc) for loc in locales}

    # Emoji with a picture in every style and a text in at least half of the locales.
    kept = []
    for cps, group, subgroup, english in read_emoji_test(a.emoji_test):
        if group == "Component" or any(c in SKIN_TONES for c in cps):
            continue
        svgs = []
        for _, chars, icons in styles:
            icon = chars.get(char_key(cps, True)) or chars.get(char_key(cps, False))
            svg = icon_svg(icons, icon) if icon else None
            if svg is None:
                break
            svgs.append(svg)
        if len(svgs) != len(styles):
            continue
        key = "".join(chr(c) for c in cps if c != 0xFE0F)
        have = [loc for loc in locales if key in texts[loc]]
        if 2 * len(have) < len(locales):
            continue
        kept.append((cps, subgroup, key, have, svgs))
    counts = {}
    for e in kept:
        counts[e[1]] = counts.get(e[1], 0) + 1
    class_names = sorted(s for s, n in counts.items() if n >= a.min_emoji)
    cls = {s: i for i, s in enumerate(class_names)}
    kept = [e for e in kept if e[1] in cls]

    src_feat, src_lab, src_ids, tgt_lab, tgt_ids, svgs, pairs = [], [], [], [], [], [], []
    src_text = []
    for cps, subgroup, key, have, pics in kept:
        hexkey = char_key(cps, False)
        first_target = len(tgt_lab)
        for (style, _, _), svg in zip(styles, pics):
            tgt_lab.append(cls[subgroup])
            tgt_ids.append(f"{style}:{hexkey}")
            svgs.append(svg)
        for loc in have:
            s = len(src_lab)
            src_feat.append(features.hashed_char_ngrams(texts[loc][key], TEXT_BUCKETS))
            src_text.append(texts[loc][key])
            src_lab.append(cls[subgroup])
            src_ids.append(f"{loc}:{hexkey}")
            pairs.extend([s, first_target + j] for j in range(len(pics)))
    print(f"text_to_image: {len(kept)} emoji in {len(class_names)} subgroups, {len(src_lab)} texts, "
          f"rendering {len(svgs)} pictures", file=sys.stderr)
    with Pool(max(1, a.workers)) as pool:
        tgt_feat = pool.map(features.render_svg, svgs, chunksize=16)

    split = croma_shards.random_class_split(len(class_names), 0.6, 0.2, a.split_seed)
    sources = json.loads(a.sources_json) if a.sources_json else []
    provenance = {
        "benchmark": "text-to-image (emoji names -> emoji pictures)",
        "prep": "data_prep/text_to_image/build.sh",
        "command": "data_prep/text_to_image/build_features.py " + " ".join(croma_shards.recorded_args(argv)),
        "sources": sources,
        "inputs": [{"file": os.path.basename(a.emoji_test), "sha256": croma_shards.sha256(a.emoji_test)}],
        "classes": "emoji subgroups (emoji-test.txt) with >= %d emoji; split 60/20/20 by seed %d" % (a.min_emoji, a.split_seed),
        "pairs": "strong: a locale's name+keywords of an emoji <-> each style's picture of it",
        "weak_clusters": "none (each class is its own cluster)",
    }
    src = {"features": np.stack(src_feat), "labels": np.array(src_lab), "ids": src_ids, "modality": "text",
           "feature": f"hashed character 1-3-grams of CLDR name | keywords, {TEXT_BUCKETS} buckets, log1p, L2"}
    tgt = {"features": np.stack(tgt_feat), "labels": np.array(tgt_lab), "ids": tgt_ids, "modality": "image",
           "feature": "rsvg-convert 32x32 on white, box-down-sampled to 16x16 RGB in [0,1] (768 values)"}
    if a.sequences:
        src.pop("features")
        src["tokens"] = [features.utf8_byte_ids(t) for t in src_text]
        src["vocab"] = 256
        src["feature"] = "UTF-8 byte ids of CLDR name | keywords (vocab 256), at most 256 bytes"
        # render_svg gives [16 * 16 * 3] in height, width, channel order.
        tgt["features"] = np.ascontiguousarray(tgt["features"].reshape(-1, 16, 16, 3).transpose(0, 3, 1, 2))
        tgt["feature"] = "rsvg-convert 32x32 on white, box-down-sampled to 16x16 RGB in [0,1], as [3, 16, 16]"
    m = croma_shards.write_shards(a.out, a.name, class_names, split, src, tgt, pairs, provenance, shards=a.shards)
    print(f"text_to_image: wrote {len(m['files'])} shards to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
