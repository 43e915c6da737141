#!/usr/bin/python3
"""Text -> speech benchmark: spoken-language identification. Source modality: text in many
languages (UDHR paragraphs, plus the words of the recordings' file names); target modality:
real recorded speech (KTuberling's spoken object words, one theme per language). Classes
are languages; a strong pair joins a recording with the words of its file name when those
are in the recording's language (not the English sound name); weak clusters are the
languages themselves (the default: each class its own cluster).

Features: text as hashed character 1-3-grams (512 buckets); speech decoded by sox to 16 kHz
mono, log-mel spectrogram (32 bands, 25 ms / 10 ms) of the voiced part averaged over 16
stretches of time (512 values, utterance mean removed).

With --sequences the same items are written as sequences instead (layout version 2), for
croma's LSTM / pool encoders: text as UTF-8 byte ids (vocab 256, at most 256 bytes), speech as
40-band log-mel frames of the voiced part (at most 300, per-band mean removed).
"""
import argparse
import json
import os
import re
import sys
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import croma_shards  # noqa: E402
import features  # noqa: E402
from language_sources import read_theme, udhr_paragraphs  # noqa: E402

# KTuberling theme language -> UDHR declaration file (udhr's declaration/NAME.html).
UDHR_FILES = {
    "ca": "cat", "da": "dan", "de": "deu_1996", "el": "ell_monotonic", "en": "eng", "es": "spa",
    "fi": "fin", "fr": "fra", "ga": "gle", "gl": "glg", "it": "ita", "lt": "lit", "nds": "nds",
    "nl": "nld", "nn": "nno", "pt": "por_PT", "ro": "ron_2006", "ru": "rus", "sl": "slv",
    "sr": "srp_cyrl", "sv": "swe", "uk": "ukr", "wa": "wln",
}
TEXT_BUCKETS = 512


def file_words(path, english):
    """Words of a recording's file name, or None when they are just the English sound name."""
    stem = os.path.splitext(os.path.basename(path))[0]
    words = " ".join(re.split(r"[_\-\s]+", stem)).strip()
    norm = lambda t: re.sub(r"[^a-z]", "", t.lower())  # noqa: E731
    return None if not words or norm(words) == norm(english) else words


def audio_features(path):
    return features.log_mel_summary(features.decode_audio(path))


def audio_frames(path):
    return features.log_mel_frames(features.decode_audio(path))




def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--udhr", required=True, help="udhr package's declaration/ directory")
    p.add_argument("--sounds", required=True, help="KTuberling sounds/ directory (*.soundtheme)")
    p.add_argument("--languages", default=",".join(sorted(UDHR_FILES)))
    p.add_argument("--min-recordings", type=int, default=11, help="smallest language kept")
    p.add_argument("--split-fractions", default="0.5,0.25",
                   help="meta-train,meta-val fractions of the languages (22 -> 11/6/5)")
    p.add_argument("--split-seed", type=int, default=2026)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--name", default="udhr_text_to_speech")
    p.add_argument("--out", required=True)
    p.add_argument("--sources-json")
    p.add_argument("--sequences", action="store_true",
                   help="write byte-id text and log-mel frame sequences instead of fixed vectors")
    a = p.parse_args(argv)

    langs = []
    for lang in a.languages.split(","):
        udhr = os.path.join(a.udhr, UDHR_FILES.get(lang, lang) + ".html")
        theme = os.path.join(a.sounds, lang + ".soundtheme")
        if not (os.path.isfile(udhr) and os.path.isfile(theme)):
            print(f"text_to_speech: skipping {lang} (no UDHR text or no sound theme)", file=sys.stderr)
            continue
        recs = read_theme(a.sounds, lang)
        if len(recs) < a.min_recordings:
            print(f"text_to_speech: skipping {lang} ({len(recs)} decodable recordings)", file=sys.stderr)
            continue
        langs.append((lang, udhr, recs))
    class_names = [lang for lang, _, _ in langs]

    src_feat, src_lab, src_ids, tgt_lab, tgt_ids, audio, pairs = [], [], [], [], [], [], []
    src_text = []
    for k, (lang, udhr, recs) in enumerate(langs):
        for i, para in enumerate(udhr_paragraphs(udhr)):
            src_feat.append(features.hashed_char_ngrams(para, TEXT_BUCKETS))
            src_text.append(para)
            src_lab.append(k)
            src_ids.append(f"udhr:{lang}:{i}")
        for english, path in recs:
            t = len(tgt_lab)
            rel = os.path.relpath(path, a.sounds)
            tgt_lab.append(k)
            tgt_ids.append(f"ktuberling:{rel}")
            audio.append(path)
            words = file_words(path, english)
            if words:
                pairs.append([len(src_lab), t])
                src_feat.append(features.hashed_char_ngrams(words, TEXT_BUCKETS))
                src_text.append(words)
                src_lab.append(k)
                src_ids.append(f"filename:{rel}")
    print(f"text_to_speech: {len(class_names)} languages, {len(src_lab)} texts, {len(audio)} recordings, "
          f"{len(pairs)} strong pairs", file=sys.stderr)
    with Pool(max(1, a.workers)) as pool:
        tgt_feat = pool.map(audio_frames if a.sequences else audio_features, audio, chunksize=8)

    fractions = [float(v) for v in a.split_fractions.split(",")]
    split = croma_shards.random_class_split(len(class_names), fractions[0], fractions[1], a.split_seed)
    provenance = {
        "benchmark": "text-to-speech language identification (UDHR text -> KTuberling speech)",
        "prep": "data_prep/text_to_speech/build.sh",
        "command": "data_prep/text_to_speech/build_features.py " + " ".join(croma_shards.recorded_args(argv)),
        "sources": json.loads(a.sources_json) if a.sources_json else [],
        "inputs": [{"file": f"{lang}.soundtheme", "sha256": croma_shards.sha256(os.path.join(a.sounds, lang + ".soundtheme"))}
                   for lang in class_names],
        "classes": f"languages with >= {a.min_recordings} decodable recordings; class split by fractions "
                   f"{a.split_fractions} and seed {a.split_seed}",
        "pairs": "strong: a recording <-> the words of its file name, when those are not the English sound name "
                 "(an approximation of its transcript)",
        "weak_clusters": "none given: each language is its own cluster",
        "speech": "real recordings (KTuberling contributors); no synthetic speech",
    }
    src = {"features": np.stack(src_feat), "labels": np.array(src_lab), "ids": src_ids, "modality": "text",
           "feature": f"hashed character 1-3-grams, {TEXT_BUCKETS} buckets, log1p, L2"}
    tgt = {"features": None if a.sequences else np.stack(tgt_feat), "labels": np.array(tgt_lab), "ids": tgt_ids, "modality": "speech",
           "feature": "sox 16 kHz mono; log-mel 32 bands, 25/10 ms, voiced part averaged over 16 time stretches (512)"}
    if a.sequences:
        src.pop("features")
        src["tokens"] = [features.utf8_byte_ids(t) for t in src_text]
        src["vocab"] = 256
        src["feature"] = "UTF-8 byte ids (vocab 256), whitespace collapsed, at most 256 bytes"
        tgt.pop("features")
        tgt["sequences"] = tgt_feat
        tgt["feature"] = ("sox 16 kHz mono; log-mel 40 bands, 25/10 ms frames of the voiced part, "
                          "at most 300 (evenly subsampled), per-band mean removed, /10")
        provenance["sequences"] = True
    m = croma_shards.write_shards(a.out, a.name, class_names, split, src, tgt, pairs, provenance, shards=a.shards)
    print(f"text_to_speech: wrote {len(m['files'])} shards to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
