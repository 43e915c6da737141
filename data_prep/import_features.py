#!/usr/bin/python3
"""Import features made elsewhere (e.g. ResNet / BERT / audio-CNN embeddings of the paper's
datasets) into croma feature shards (docs/data-format.md).

Each modality is one of:
  FILE.npz  arrays `features` [n, d], `labels` [n]; optional `ids` [n], `clusters` [n]
  FILE.npy  features [n, d]; labels from --source-labels / --target-labels
            (.npy, or a text file with one label a line)
  FILE.csv  a header row; columns `id` (optional), `label`, `cluster` (optional), and every
            other column a feature
Labels (and clusters) may be names or integers; class ids follow the sorted names (numeric
order when all are integers). Strong pairs (--pairs): .npy [p, 2] of item indices, or a CSV
with header `source,target` holding indices or sample ids; both items of a pair must have
the same class. The class split is a CSV `class,split` (split: train, val or test) or
--split-fractions with --seed. A dataset may have no meta-val classes (no `val` rows, or a
meta-val fraction of 0): croma train then validates on held-out items of the meta-train
classes (--val-split auto).

Example:
  data_prep/import_features.py --name mydata --out shards/ \\
      --source text.npz --target images.npz --pairs pairs.csv --split split.csv
"""
import argparse
import csv
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import croma_shards  # noqa: E402

SPLIT_NAMES = {"train": "meta_train", "val": "meta_val", "test": "meta_test"}


class ImportError_(Exception):
    pass


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def read_label_file(path):
    if path.endswith(".npy"):
        return [str(v) for v in np.load(path, allow_pickle=False).reshape(-1).tolist()]
    with open(path, newline="") as f:
        return [line.strip() for line in f if line.strip()]


def read_modality(side, path, labels_path):
    """Returns dict features, labels (strings), ids (strings), optional clusters (strings)."""
    if not os.path.isfile(path):
        raise ImportError_(f"--{side}: no such file '{path}'")
    ext = os.path.splitext(path)[1].lower()
    out = {}
    if ext == ".npz":
        z = np.load(path, allow_pickle=False)
        for key in ("features", "labels"):
            if key not in z:
                raise ImportError_(f"--{side} '{path}': lacks the array '{key}' (has {sorted(z.files)})")
        out["features"] = z["features"]
        out["labels"] = [str(v) for v in z["labels"].reshape(-1).tolist()]
        if "ids" in z:
            out["ids"] = [str(v) for v in z["ids"].reshape(-1).tolist()]
        if "clusters" in z:
            out["clusters"] = [str(v) for v in z["clusters"].reshape(-1).tolist()]
    elif ext == ".npy":
        out["features"] = np.load(path, allow_pickle=False)
        if not labels_path:
            raise ImportError_(f"--{side} '{path}' is .npy: give its labels with --{side}-labels")
        out["labels"] = read_label_file(labels_path)
    elif ext == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or "label" not in rows[0]:
            raise ImportError_(f"--{side} '{path}': the CSV header needs a 'label' column")
        header = rows[0]
        special = {c: header.index(c) for c in ("id", "label", "cluster") if c in header}
        feature_cols = [i for i in range(len(header)) if i not in special.values()]
        body = rows[1:]
        try:
            out["features"] = np.array([[float(r[i]) for i in feature_cols] for r in body], dtype=np.float64)
        except (ValueError, IndexError) as e:
            raise ImportError_(f"--{side} '{path}': a feature cell is not a number ({e})")
        out["labels"] = [r[special["label"]] for r in body]
        if "id" in special:
            out["ids"] = [r[special["id"]] for r in body]
        if "cluster" in special:
            out["clusters"] = [r[special["cluster"]] for r in body]
    else:
        raise ImportError_(f"--{side} '{path}': unsupported extension '{ext}' (.npz, .npy or .csv)")
    feats = np.asarray(out["features"])
    if feats.ndim != 2 or not np.issubdtype(feats.dtype, np.number):
        raise ImportError_(f"--{side} '{path}': features must be a numeric 2-D array, got {feats.dtype} {feats.shape}")
    out["features"] = feats.astype(np.float32)
    n = feats.shape[0]
    if len(out["labels"]) != n:
        raise ImportError_(f"--{side}: {len(out['labels'])} labels for {n} feature rows")
    if not np.isfinite(out["features"]).all():
        row = int(np.where(~np.isfinite(out["features"]).all(1))[0][0])
        raise ImportError_(f"--{side} '{path}': features hold NaN or Inf (row {row})")
    out.setdefault("ids", [f"{side}-{i}" for i in range(n)])
    return out


def sorted_names(values):
    names = sorted(set(values))
    try:
        return sorted(names, key=int)
    except ValueError:
        return names


def read_pairs(path, source_ids, target_ids):
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False).astype(np.int64).reshape(-1, 2)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:2] != ["source", "target"]:
        raise ImportError_(f"--pairs '{path}': the CSV header must be 'source,target'")
    s_index = {v: i for i, v in enumerate(source_ids)}
    t_index = {v: i for i, v in enumerate(target_ids)}
    pairs = []
    for line, r in enumerate(rows[1:], start=2):
        ends = []
        for value, index, side in ((r[0], s_index, "source"), (r[1], t_index, "target")):
            if value in index:
                ends.append(index[value])
            elif value.lstrip("-").isdigit():
                ends.append(int(value))
            else:
                raise ImportError_(f"--pairs '{path}' line {line}: '{value}' is no {side} id or index")
        pairs.append(ends)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def read_split(path, class_names):
    index = {c: i for i, c in enumerate(class_names)}
    split = {v: [] for v in SPLIT_NAMES.values()}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:2] != ["class", "split"]:
        raise ImportError_(f"--split '{path}': the CSV header must be 'class,split'")
    for line, r in enumerate(rows[1:], start=2):
        if r[0] not in index:
            raise ImportError_(f"--split '{path}' line {line}: unknown class '{r[0]}'")
        if r[1] not in SPLIT_NAMES:
            raise ImportError_(f"--split '{path}' line {line}: split '{r[1]}' is not train, val or test")
        split[SPLIT_NAMES[r[1]]].append(index[r[0]])
    return split


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="dataset name (file prefix)")
    p.add_argument("--out", required=True, help="output directory")
    for side in ("source", "target"):
        p.add_argument(f"--{side}", required=True, help=f"{side}-modality features (.npz, .npy, .csv)")
        p.add_argument(f"--{side}-labels", help="labels for a .npy features file")
        p.add_argument(f"--{side}-modality", default="", help="e.g. text, image, audio")
        p.add_argument(f"--{side}-feature", default="imported", help="how the features were made")
    p.add_argument("--pairs", help="strong pairs (.npy [p,2] or CSV source,target)")
    p.add_argument("--split", help="CSV class,split (train|val|test)")
    p.add_argument("--split-fractions", default="0.6,0.2",
                   help="meta-train,meta-val class fractions (meta-val 0: no meta-val classes)")
    p.add_argument("--seed", type=int, default=1, help="seed of the class split from fractions")
    p.add_argument("--shards", type=int, default=1, help="number of shard files")
    a = p.parse_args(argv)
    if a.shards < 1:
        raise ImportError_(f"--shards {a.shards}: must be >= 1")

    source = read_modality("source", a.source, a.source_labels)
    target = read_modality("target", a.target, a.target_labels)
    class_names = sorted_names(source["labels"] + target["labels"])
    index = {c: i for i, c in enumerate(class_names)}
    mods = {}
    for side, m, modality, feature in (("source", source, a.source_modality, a.source_feature),
                                        ("target", target, a.target_modality, a.target_feature)):
        mods[side] = {"features": m["features"], "labels": np.array([index[v] for v in m["labels"]], np.int64),
                      "ids": m["ids"], "modality": modality, "feature": feature}
    cluster_names = None
    if "clusters" in source or "clusters" in target:
        if not ("clusters" in source and "clusters" in target):
            raise ImportError_("weak clusters given for one modality only (need a cluster column/array in both)")
        cluster_names = sorted_names(source["clusters"] + target["clusters"])
        cindex = {c: i for i, c in enumerate(cluster_names)}
        for side, m in (("source", source), ("target", target)):
            mods[side]["clusters"] = np.array([cindex[v] for v in m["clusters"]], np.int64)
    pairs = read_pairs(a.pairs, source["ids"], target["ids"]) if a.pairs else np.zeros((0, 2), np.int64)
    if len(pairs) and (pairs.min() < 0 or pairs[:, 0].max() >= len(source["ids"]) or
                       pairs[:, 1].max() >= len(target["ids"])):
        raise ImportError_(f"--pairs '{a.pairs}': a pair indexes past the {len(source['ids'])} source / "
                           f"{len(target['ids'])} target items")
    try:
        croma_shards.check_pair_classes(pairs, mods["source"], mods["target"], class_names)
    except ValueError as e:
        raise ImportError_(f"--pairs '{a.pairs}': {e}")
    if a.split:
        split = read_split(a.split, class_names)
    else:
        fr = [float(v) for v in a.split_fractions.split(",")]
        split = croma_shards.random_class_split(len(class_names), fr[0], fr[1], a.seed)
    inputs = [x for x in (a.source, a.source_labels, a.target, a.target_labels, a.pairs, a.split) if x]
    provenance = {
        "prep": "data_prep/import_features.py",
        "command": " ".join(["data_prep/import_features.py"] + argv),
        "inputs": [{"file": os.path.basename(x), "sha256": file_sha256(x)} for x in inputs],
        "sources": [{"name": "user-supplied features", "licence": "as of the user's data"}],
    }
    try:
        manifest = croma_shards.write_shards(a.out, a.name, class_names, split, mods["source"], mods["target"],
                                             pairs, provenance, cluster_names=cluster_names, shards=a.shards)
    except ValueError as e:
        raise ImportError_(str(e))
    print(f"import_features: wrote {len(manifest['files'])} shard(s) of '{a.name}' to {a.out}: "
          f"{manifest['source']['items']} source / {manifest['target']['items']} target items, "
          f"{len(class_names)} classes, {manifest['pairs']} pairs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ImportError_ as e:
        print(f"import_features: error: {e}", file=sys.stderr)
        sys.exit(1)
