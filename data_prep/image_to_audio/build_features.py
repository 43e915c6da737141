#!/usr/bin/python3
"""Image -> audio benchmark: pictures of things and the sounds they make. Source modality:
labelled pictures (Tux Paint stamps, GCompris activity pictures read out of its Qt .rcc
bundles, OpenClipart drawings); target modality: real sound effects (Tux Paint stamp sounds,
GCompris animal / instrument / effect sounds, and optionally 0 A.D.'s sound effects). Classes
are concepts (cattle, horse, tree felling, percussion, footsteps, ...): a picture belongs to a
concept when its file name names it, a sound when its path does (the table CONCEPTS below,
written by hand, like the paper's 17 clusters). A picture or sound that matches two
concepts is dropped as ambiguous; byte-identical pictures are kept once.

Strong pairs: a picture and a sound of the same item (a Tux Paint stamp that has both; a
GCompris activity entry with a picture and a sound of the same name). Weak clusters: the
concepts themselves (each class is its own cluster, as with `--pairs weak`).

Split: only concepts with >= --min-eval-sounds sounds can be meta-val or meta-test classes
(5-way 5-shot tasks with queries need that many), and only concepts with >=
--min-train-pictures pictures can be meta-train classes (croma halves a meta-train class's
pictures between alignment and classification episodes, each needing --shots). A seeded draw
fills the --test-classes + --val-classes evaluation slots, concepts fit only for evaluation
first; every other concept fit for meta-train is meta-train. No augmentation: every target
item is one real recording.

Features: pictures rendered by rsvg-convert at 32x32 on white (rasters embedded in an SVG,
aspect ratio kept), box-down-sampled to 16x16 RGB (768 raw pixel values in [0, 1]); sounds
decoded by sox to 16 kHz mono, log-mel spectrogram (32 bands, 25 ms / 10 ms) of the loud part
averaged over 16 stretches of time (512 values, mean removed).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from multiprocessing import Pool

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import croma_shards  # noqa: E402
import features  # noqa: E402
import qt_rcc  # noqa: E402

PICTURE_EXTENSIONS = (".svg", ".png", ".jpg", ".jpeg", ".webp")
SOUND_EXTENSIONS = (".ogg", ".wav")
NO_TURKEY = r"(?!hen\.|rooster|duck|drake|gander|turkey)"
FARM = r"^gcompris:explore_farm_animals/resource/animals/"
GC_INSTRUMENT = r"^gcompris:instruments/resource/"

# concept -> (sounds: regex on 'source:path', pictures: regex on the words of the file name,
# pictures to leave out: regex on the same words). Sources: tuxpaint, gcompris, openclipart, 0ad.
CONCEPTS = {
    "tree felling": (r"^0ad:audio/resource/lumbering/lumber_tree",
                     r"\b(tree|trees|palm|pine|oak|birch|fir|spruce|axe|lumberjack)\b", r"\bfamily\b"),
    "mining": (r"^0ad:audio/resource/mining/mine_(stone|metal)",
               r"\b(stone|stones|rock|rocks|boulder|pebble|pebbles|pickaxe|ore|quarry)\b", r"\b(sword|magic)\b"),
    "harvest": (r"^0ad:audio/resource/(gathering/gather_field|farming/)",
                r"\b(wheat|grain|corn|field|crop|crops|harvest|hoe|scythe|sickle|hay|haystack|rake|pitchfork|sheaf)\b",
                r"\b(elevator|dog|pop|dreydl|candy)\b"),
    "construction": (r"^0ad:audio/resource/construction/con_|^tuxpaint:household/tools/(hammer|saw|mallet)",
                     r"\b(hammer|saw|mallet|drill|wrench|screw|screwdriver|nail|chisel|pliers|plier|toolbox|trowel)\b",
                     r"\b(sea|puller|polish|jig)\b"),
    "weapons": (r"^0ad:audio/attack/(impact/(arrow|shield_|swordhit|sling)|weapon/(sword|spear|pike|jav|bow|arrowfly|sling))",
                r"\b(sword|swords|dagger|sabre|saber|katana|rapier|spear|spears|lance|javelin|trident|shield|shields|armor|"
                r"armour|bow|archer|archery|crossbow|quiver|slingshot)\b",
                r"\b(spider|tie|ribbon|gift|hair|rain|violin|cello|incendie|chess)\b"),
    "meat": (r"^0ad:audio/resource/gathering/gather_meat", r"\b(meat|steak|ham|sausage|sausages|bacon|roast)\b", None),
    "fruit": (r"^0ad:audio/resource/(gathering|foraging)/gather_fruit|^tuxpaint:food/fruit/",
              r"\b(fruit|fruits|apple|apples|berry|berries|grape|grapes|cherry|cherries|pear|pears|banana|bananas|"
              r"strawberry|strawberries|peach|plum|lemon|pineapple|watermelon|melon)\b",
              r"\b(candied|balloon|slate|computer|logo)\b"),
    "horse": (r"^0ad:audio/actor/(fauna|mounted)/.*(horse|mstep)|^tuxpaint:animals/mammals/equines/|" + FARM + "horse",
              r"\b(horse|horses|pony|donkey|zebra|mule|foal|stallion)\b", r"\b(nodding|rocking|sea)\b"),
    "cattle": (r"^0ad:audio/actor/fauna/.*cattle|^tuxpaint:animals/mammals/bovines/(cow|bull|bison)|" + FARM + "cow",
               r"\b(cow|cows|cattle|bull|ox|oxen|bison|calf|buffalo|auroch)\b", r"\b(nodding|kevin)\b"),
    "goat": (r"^0ad:audio/actor/fauna/.*goat|^tuxpaint:animals/mammals/bovines/(mountain)?goat",
             r"\b(goat|goats|ibex)\b", None),
    "sheep": (r"^0ad:audio/actor/fauna/.*sheep|^tuxpaint:animals/mammals/bovines/(sheep|ram)|" + FARM + "sheep",
              r"\b(sheep|lamb|ram)\b", None),
    "pig": (r"^0ad:audio/actor/fauna/.*pig|^tuxpaint:animals/mammals/pig|" + FARM + "pig",
            r"\b(pig|pigs|piglet|boar|hog)\b", None),
    "chicken": (r"^0ad:audio/actor/fauna/.*chicken|^tuxpaint:animals/birds/(hen\.|rooster)|" + FARM + "chicken",
                r"\b(chicken|chickens|hen|rooster|chick|cockerel)\b", r"\b(burger|nugget|soup|leg)\b"),
    "duck": (r"^tuxpaint:animals/birds/(duck|drake|gander)|" + FARM + "duck",
             r"\b(duck|ducks|duckling|goose|geese|drake|gander)\b", r"\brubber\b"),
    "elephant": (r"^0ad:audio/actor/fauna/.*elephant|^tuxpaint:animals/mammals/elephant", r"\b(elephant|elephants|mammoth)\b", None),
    "big cat": (r"^0ad:audio/actor/fauna/.*lion|^tuxpaint:animals/mammals/cats/",
                r"\b(lion|lions|tiger|tigers|leopard|cheetah|panther|jaguar)\b", r"\bsea\b"),
    "dog": (r"^tuxpaint:animals/mammals/dogs/dog|" + FARM + r"dog|^gcompris:memory-sound/resource/lrbark",
            r"\b(dog|dogs|puppy)\b", r"\b(hot|corn)\b"),
    "wild bird": (r"^tuxpaint:animals/birds/" + NO_TURKEY + "|" + FARM + "owl",
                  r"\b(bird|birds|crow|owl|parrot|eagle|gull|seagull|penguin|lark|cuckoo|toucan|tucan|vulture|pigeon|"
                  r"dove|heron|blackbird|robin|sparrow|swallow|flamingo|stork|ostrich|quetzal|nandou|hummingbird|"
                  r"woodpecker)\b", None),
    "insect": (r"^tuxpaint:animals/insects/",
               r"\b(bee|bees|wasp|hornet|mosquito|grasshopper|cricket|fly|flies|insect|insects|beetle|ladybug|ladybird)\b",
               r"\b(butter|dragon|fire)\b"),
    "percussion": (GC_INSTRUMENT + r"(tambourine|snare_drum|bongo|triangle|cymbal|timpani|maracas|drum_kit|castanets)\.|"
                   r"^tuxpaint:hobbies/music/percussion/",
                   r"\b(drum|drums|drumkit|tambourine|bongo|bongos|triangle|cymbal|cymbals|timpani|maracas|castanets|"
                   r"xylophone|snare|tomtom|gong)\b", None),
    "string instrument": (GC_INSTRUMENT + r"(violin|cello|electric_guitar|banjo|harp|guitar)\.|^tuxpaint:hobbies/music/string/|"
                          r"^gcompris:memory-sound/resource/guitar_",
                          r"\b(violin|violins|cello|guitar|guitars|banjo|harp|lute|viola|mandolin|ukulele|contrabass)\b", None),
    "wind instrument": (GC_INSTRUMENT + r"(harmonica|accordion|trumpet|horn|saxophone|clarinet|tuba|trombone|flute_traversiere)\.|"
                        r"^tuxpaint:hobbies/music/wind/",
                        r"\b(trumpet|trumpets|horn|saxophone|sax|clarinet|tuba|trombone|flute|harmonica|accordion|bassoon|oboe|"
                        r"bagpipe|bagpipes)\b", r"\b(shoe|french|car)\b"),
    "weather": (r"^0ad:audio/ambient/weather/|^tuxpaint:naturalforces/|^gcompris:memory-sound/resource/lrrain",
                r"\b(cloud|clouds|rain|raining|thunder|lightning|lightningbolt|storm|thunderstorm|umbrella|raindrop|tornado)\b",
                None),
    "water": (r"^0ad:audio/ambient/water/|^gcompris:(core/resource/sounds/water\.|canal_lock/resource/water_fill|"
              r"watercycle/resource/(bubble|harbor))",
              r"\b(wave|waves|sea|ocean|river|waterfall|fountain|water|droplet|drop|drops)\b",
              r"\b(tower|bottle|gun|skier|melon|glass|ice|lion|horse|drink|sign)\b"),
    "ship": (r"^0ad:audio/actor/ship/|^tuxpaint:vehicles/ship/",
             r"\b(ship|ships|boat|boats|sailboat|sailing|galley|yacht|canoe|ferry|steamship|bathyscape)\b", r"\bspace\b"),
    "footsteps": (r"^0ad:audio/actor/(singlesteps/|human/movement/footsteps/)",
                  r"\b(shoe|shoes|boot|boots|foot|feet|footprint|footprints|sandal|sandals|sneaker|sneakers)\b",
                  r"\b(ball|football|print)\b"),
    "siege engine": (r"^0ad:audio/attack/(siege/|impact/siegeprojectilehit)",
                     r"\b(catapult|ballista|trebuchet|cannon|battering)\b", None),
}
# OpenClipart folders of signs, logos and user-interface art: their names (arrow, triangle,
# drop) rarely mean the thing that sounds.
# Pictures whose names mean signs (AIGA symbols), logos or puzzle pieces of paintings.
PICTURE_SKIP = re.compile(r"\b(aiga|logo|icon|great wave|kazusa)\b")
OPENCLIPART_SKIP = ("shapes/", "signs_and_symbols/", "buttons/", "logos/", "computer/", "office/", "special/")


def words(path):
    """File name -> lower-case words: 'screwDriver2.webp' -> 'screw driver'."""
    stem = os.path.splitext(os.path.basename(path))[0]
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)
    return " ".join(re.sub(r"[^a-z]+", " ", stem.lower()).split())


def walk(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            out.append(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/"))
    return out


def tuxpaint_media(root):
    """Stamp pictures (an SVG wins over a PNG of the same stamp; thumbnails, backs and the
    symbols/ folder left out) and stamp sounds (not the spoken *_desc_* descriptions)."""
    pictures, sounds = {}, []
    for rel in walk(root):
        low = rel.lower()
        if low.startswith("symbols/"):
            continue
        stem, ext = os.path.splitext(rel)
        if ext.lower() in (".svg", ".png") and not re.search(r"_(thumb|back|mirror)$", stem.lower()):
            if stem not in pictures or ext.lower() == ".svg":
                pictures[stem] = rel
        elif ext.lower() in SOUND_EXTENSIONS and "_desc" not in os.path.basename(low):
            sounds.append(("tuxpaint:" + rel, os.path.join(root, rel)))
    return [("tuxpaint:" + rel, os.path.join(root, rel)) for rel in sorted(pictures.values())], sounds


def gcompris_media(rcc_dir, extract_dir, wanted):
    """Media in every .rcc bundle of rcc_dir; the entries `wanted(id, is_sound)` accepts are
    written under extract_dir (sox and rsvg-convert read files)."""
    pictures, sounds = [], []
    prefix = "gcompris/src/activities/"
    for name in sorted(os.listdir(rcc_dir)):
        if not name.endswith(".rcc"):
            continue
        with open(os.path.join(rcc_dir, name), "rb") as f:
            try:
                entries = qt_rcc.read_rcc(f.read())
            except qt_rcc.RccError as e:
                raise qt_rcc.RccError(f"{os.path.join(rcc_dir, name)}: {e}") from None
        for path in sorted(entries):
            low = path.lower()
            rel = path[len(prefix):] if path.startswith(prefix) else path.replace("gcompris/src/", "", 1)
            is_sound = low.endswith(SOUND_EXTENSIONS)
            if not (is_sound or low.endswith(PICTURE_EXTENSIONS)):
                continue
            ident = "gcompris:" + rel
            if not wanted(ident, is_sound):
                continue
            dest = os.path.join(extract_dir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if not (os.path.isfile(dest) and open(dest, "rb").read() == entries[path]):
                with open(dest + ".tmp", "wb") as f:
                    f.write(entries[path])
                os.replace(dest + ".tmp", dest)
            (sounds if is_sound else pictures).append((ident, dest))
    return pictures, sounds


def sound_concepts(ident, patterns):
    return [c for c, rx in patterns if rx.search(ident.lower())]


def picture_concepts(ident, patterns):
    w = words(ident.split(":", 1)[1])
    if PICTURE_SKIP.search(w):
        return []
    return [c for c, rx, ex in patterns if rx.search(w) and not (ex and ex.search(w))]


def picture_features(path):
    try:
        return features.render_picture(path)
    except (subprocess.CalledProcessError, ValueError, UnicodeError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__


def sound_features(path):
    return features.log_mel_summary(features.decode_audio(path))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tuxpaint", help="Tux Paint stamps directory (tuxpaint-stamps-default)")
    p.add_argument("--gcompris-rcc", help="directory of GCompris .rcc bundles (gcompris-qt-data)")
    p.add_argument("--openclipart", help="OpenClipart svg/ directory (openclipart-svg)")
    p.add_argument("--oad", help="directory holding 0 A.D.'s audio/ folder (from 0ad-data's public.zip)")
    p.add_argument("--extract-dir", help="where GCompris media are written (default OUT/.cache/gcompris)")
    p.add_argument("--concepts", help="comma-separated subset of the concepts (default: all)")
    p.add_argument("--min-pictures", type=int, default=5, help="smallest number of pictures a concept needs")
    p.add_argument("--min-train-pictures", type=int, default=10,
                   help="pictures a meta-train concept needs (2 x croma's --shots: half align, half classify)")
    p.add_argument("--min-sounds", type=int, default=3, help="smallest number of sounds a meta-train concept needs")
    p.add_argument("--min-eval-sounds", type=int, default=11,
                   help="sounds a concept needs to be a meta-val or meta-test class")
    p.add_argument("--test-classes", type=int, default=5)
    p.add_argument("--val-classes", type=int, default=5, help="croma validates with --eval-ways (5) classes")
    p.add_argument("--split-seed", type=int, default=2026)
    p.add_argument("--meta-test", help="comma-separated meta-test concepts instead of the seeded draw (needs --meta-val)")
    p.add_argument("--meta-val", help="comma-separated meta-val concepts instead of the seeded draw (needs --meta-test)")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--name", default="sounds_image_to_audio")
    p.add_argument("--out", required=True)
    p.add_argument("--sources-json")
    a = p.parse_args(argv)

    names = sorted(CONCEPTS) if not a.concepts else sorted(set(a.concepts.split(",")))
    unknown = [c for c in names if c not in CONCEPTS]
    if unknown:
        p.error(f"unknown concepts: {', '.join(unknown)}")
    s_pat = [(c, re.compile(CONCEPTS[c][0])) for c in names]
    p_pat = [(c, re.compile(CONCEPTS[c][1]), re.compile(CONCEPTS[c][2]) if CONCEPTS[c][2] else None) for c in names]

    pictures, sounds = [], []
    if a.tuxpaint:
        pics, snds = tuxpaint_media(a.tuxpaint)
        pictures += pics
        sounds += snds
    if a.gcompris_rcc:
        def wanted(ident, is_sound):
            return bool(sound_concepts(ident, s_pat) if is_sound else picture_concepts(ident, p_pat))
        try:
            pics, snds = gcompris_media(a.gcompris_rcc, a.extract_dir or os.path.join(a.out, ".cache", "gcompris"), wanted)
        except qt_rcc.RccError as e:
            print(f"image_to_audio: {e}", file=sys.stderr)
            return 1
        pictures += pics
        sounds += snds
    if a.openclipart:
        pictures += [("openclipart:" + rel, os.path.join(a.openclipart, rel)) for rel in walk(a.openclipart)
                     if rel.lower().endswith(".svg") and not rel.startswith(OPENCLIPART_SKIP)]
    if a.oad:
        sounds += [("0ad:" + rel, os.path.join(a.oad, rel)) for rel in walk(a.oad)
                   if rel.startswith("audio/") and rel.lower().endswith(SOUND_EXTENSIONS)]

    # Assign each medium to its one concept; drop ambiguous ones and byte-identical pictures.
    ambiguous = 0
    concept_of = {}
    kept_pictures, kept_sounds, seen = [], [], set()
    for ident, path in sorted(pictures):
        hits = picture_concepts(ident, p_pat)
        if len(hits) > 1:
            ambiguous += 1
        if len(hits) != 1:
            continue
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        concept_of[ident] = hits[0]
        kept_pictures.append((ident, path))
    for ident, path in sorted(sounds):
        hits = sound_concepts(ident, s_pat)
        if len(hits) > 1:
            ambiguous += 1
        if len(hits) == 1:
            concept_of[ident] = hits[0]
            kept_sounds.append((ident, path))

    with Pool(max(1, a.workers)) as pool:
        pic_feat = pool.map(picture_features, [p for _, p in kept_pictures], chunksize=8)
        snd_feat = pool.map(sound_features, [p for _, p in kept_sounds], chunksize=8)
    good = []
    for (ident, path), f in zip(kept_pictures, pic_feat):
        if isinstance(f, str):
            print(f"image_to_audio: skipping picture {ident} (cannot render: {f})", file=sys.stderr)
        else:
            good.append((ident, f))
    pics = good
    snds = list(zip([i for i, _ in kept_sounds], snd_feat))

    count_p = {c: sum(concept_of[i] == c for i, _ in pics) for c in names}
    count_s = {c: sum(concept_of[i] == c for i, _ in snds) for c in names}
    # Roles. croma gives half of a meta-train class's pictures to alignment and half to
    # classification episodes, so a meta-train concept needs 2 x --shots pictures
    # (--min-train-pictures); a meta-val/meta-test concept needs sounds for 5-shot tasks with
    # queries (--min-eval-sounds). Concepts fit only for evaluation take evaluation slots first.
    can_eval = {c: count_p[c] >= a.min_pictures and count_s[c] >= a.min_eval_sounds for c in names}
    can_train = {c: count_p[c] >= max(a.min_pictures, a.min_train_pictures) and count_s[c] >= a.min_sounds for c in names}
    rng = np.random.default_rng(a.split_seed)
    n_eval = a.test_classes + a.val_classes
    forced = [names[i] for i in rng.permutation(len(names)) if can_eval[names[i]] and not can_train[names[i]]]
    free = [names[i] for i in rng.permutation(len(names)) if can_eval[names[i]] and can_train[names[i]]]
    chosen = (forced + free)[:n_eval]
    if a.meta_test or a.meta_val:
        if not (a.meta_test and a.meta_val):
            p.error("--meta-test and --meta-val go together")
        given = a.meta_test.split(",") + a.meta_val.split(",")
        unfit = [c for c in given if c not in names or not can_eval[c]]
        if unfit or len(set(given)) != len(given):
            p.error(f"--meta-test/--meta-val: {', '.join(unfit) or 'a concept given twice'} (each must be a distinct "
                    f"concept with >= {a.min_eval_sounds} sounds and >= {a.min_pictures} pictures)")
        a.test_classes, a.val_classes = len(a.meta_test.split(",")), len(a.meta_val.split(","))
        n_eval = len(given)
        chosen = given
    for c in names:
        if not (can_train[c] or c in chosen):
            why = " (fit only for evaluation; no evaluation slot left)" if can_eval[c] else ""
            print(f"image_to_audio: skipping {c} ({count_p[c]} pictures, {count_s[c]} sounds){why}", file=sys.stderr)
    if len(chosen) < n_eval or not any(can_train[c] and c not in chosen for c in names):
        print(f"image_to_audio: only {len(chosen)} concepts have >= {a.min_eval_sounds} sounds and >= {a.min_pictures} "
              f"pictures; {a.test_classes} meta-test + {a.val_classes} meta-val classes and one meta-train class "
              f"(>= {a.min_train_pictures} pictures) are needed", file=sys.stderr)
        return 1
    if not a.meta_test:
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    class_names = sorted(c for c in names if can_train[c] or c in chosen)
    label = {c: k for k, c in enumerate(class_names)}
    pics = [(i, f) for i, f in pics if concept_of[i] in label]
    snds = [(i, f) for i, f in snds if concept_of[i] in label]

    # Strong pairs: same source, same folder, same file stem (a trailing plural 's' ignored:
    # GCompris's chicken.svg sounds as chickens.ogg), same concept.
    def item_key(ident):
        stem = os.path.splitext(ident)[0].lower()
        return stem[:-1] if stem.endswith("s") else stem
    sound_index = {}
    for t, (ident, _) in enumerate(snds):
        sound_index.setdefault(item_key(ident), []).append(t)
    pairs = [[s, t] for s, (ident, _) in enumerate(pics) for t in sound_index.get(item_key(ident), [])
             if concept_of[snds[t][0]] == concept_of[ident]]

    order = [label[c] for c in chosen]
    test, val = sorted(order[:a.test_classes]), sorted(order[a.test_classes:a.test_classes + a.val_classes])
    split = {"meta_train": sorted(set(range(len(class_names))) - set(test) - set(val)), "meta_val": val, "meta_test": test}
    print(f"image_to_audio: {len(class_names)} concepts, {len(pics)} pictures, {len(snds)} sounds, {len(pairs)} strong "
          f"pairs, {ambiguous} ambiguous media dropped; meta-test: {', '.join(class_names[k] for k in test)}",
          file=sys.stderr)

    provenance = {
        "benchmark": "image-to-audio (pictures of things -> the sounds they make)",
        "prep": "data_prep/image_to_audio/build.sh",
        "command": "data_prep/image_to_audio/build_features.py " + " ".join(croma_shards.recorded_args(argv)),
        "sources": json.loads(a.sources_json) if a.sources_json else [],
        "concepts": {c: {"sounds": CONCEPTS[c][0], "pictures": CONCEPTS[c][1], "pictures_left_out": CONCEPTS[c][2],
                         "picture_count": count_p[c], "sound_count": count_s[c]} for c in class_names},
        "classes": (f"meta-test {a.meta_test}, meta-val {a.meta_val} as given; meta-train: every other concept with "
                    f">= {a.min_train_pictures} pictures and >= {a.min_sounds} sounds") if a.meta_test else (
                   f"meta-val/meta-test: {n_eval} concepts with >= {a.min_eval_sounds} sounds and >= {a.min_pictures} "
                   f"pictures, drawn with seed {a.split_seed}, those with < {a.min_train_pictures} pictures (unfit for "
                   f"meta-train) first; meta-train: every other concept with >= {a.min_train_pictures} pictures and "
                   f">= {a.min_sounds} sounds"),
        "pairs": "strong: a picture and a sound of the same item (same source, folder and file stem)",
        "weak_clusters": "none given: each concept is its own cluster",
        "augmentation": "none: every sound is one real recording, every picture one file",
    }
    src = {"features": np.stack([f for _, f in pics]), "labels": np.array([label[concept_of[i]] for i, _ in pics]),
           "ids": [i for i, _ in pics], "modality": "image",
           "feature": "rsvg-convert 32x32 on white, box-down-sampled to 16x16 RGB, raw pixels in [0,1] (768)"}
    tgt = {"features": np.stack([f for _, f in snds]), "labels": np.array([label[concept_of[i]] for i, _ in snds]),
           "ids": [i for i, _ in snds], "modality": "audio",
           "feature": "sox 16 kHz mono; log-mel 32 bands, 25/10 ms, loud part averaged over 16 time stretches (512)"}
    m = croma_shards.write_shards(a.out, a.name, class_names, split, src, tgt, pairs, provenance, shards=a.shards)
    print(f"image_to_audio: wrote {len(m['files'])} shards to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
