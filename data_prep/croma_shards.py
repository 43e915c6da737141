"""Write croma feature shards (docs/data-format.md, layout versions 1 and 2) with h5py.

A modality is a dict with labels, ids, optional clusters, modality/feature descriptions and
one of:
  features  float32 [n, d] vectors (layout version 1) or [n, C, H, W] images (version 2)
  sequences list of n float32 [length_i, d] frame matrices           (version 2, kind frames)
  tokens    list of n int id lists, with vocab (ids lie in [0, vocab)) (version 2, kind tokens)
Files holding only vectors are written as version 1, so that older croma builds read them.

Used by import_features.py and by the benchmark builders. Output is deterministic: the same
inputs give byte-identical files (no HDF5 timestamps), so a manifest's checksums can be
compared across reruns.
"""
import hashlib
import json
import os

import h5py
import numpy as np

FORMAT = "croma-feature-shards"
VERSION = 1           # vectors only
SEQUENCE_VERSION = 2  # frames, tokens, images
SPLITS = ("meta_train", "meta_val", "meta_test")
CHUNK_ROWS = 1024


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recorded_args(argv, ignored=("--workers", "--sources-json"), folders=()):
    """The command line minus options that do not change the output (worker counts, the list of
    sources), in both `--opt value` and `--opt=value` form: provenance records it, and reruns
    must give the same checksums. Options in `folders` (input and output folders, whose contents
    the manifest describes by versions and checksums) keep their name with the value written
    FOLDER, so that builds into different folders or on different machines give the same bytes."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            if out and out[-1] in folders:
                out.append("FOLDER")
        elif arg in ignored:
            skip = True
        elif arg in folders:
            out.append(arg)
            skip = True
        elif arg.startswith(tuple(o + "=" for o in folders)):
            out.append(arg.split("=", 1)[0] + "=FOLDER")
        elif not arg.startswith(tuple(o + "=" for o in ignored)):
            out.append(arg)
    return out


def _group(parent, name):
    # Groups made through the high-level API record creation times; these do not.
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def _strings(group, name, values):
    group.create_dataset(name, data=np.array(list(values), dtype=object),
                         dtype=h5py.string_dtype("utf-8"), track_times=False)


def _ints(group, name, values, shape=None):
    arr = np.asarray(values, dtype=np.int64)
    if shape is not None:
        arr = arr.reshape(shape)
    group.create_dataset(name, data=arr, track_times=False)


def _features(group, features):
    rows, dim = features.shape
    chunks = (max(1, min(rows, CHUNK_ROWS)), dim)
    group.create_dataset("features", data=features, dtype=np.float32, chunks=chunks,
                         compression="gzip", compression_opts=4, shuffle=True, track_times=False)


def kind_of(m):
    """vector | image | frames | tokens, from the keys and shape of a modality dict."""
    if "sequences" in m:
        return "frames"
    if "tokens" in m:
        return "tokens"
    return "image" if np.ndim(m["features"]) == 4 else "vector"


def _chunked(group, name, data, dtype):
    rows = data.shape[0]
    chunks = (max(1, min(rows, CHUNK_ROWS)),) + tuple(max(1, d) for d in data.shape[1:])
    group.create_dataset(name, data=data, dtype=dtype, chunks=chunks if rows else None,
                         compression="gzip" if rows else None, compression_opts=4 if rows else None,
                         shuffle=bool(rows), track_times=False)


def _write_modality(g, m, rows):
    kind = kind_of(m)
    if kind != "vector":
        g.attrs["kind"] = kind
    if kind in ("vector", "image"):
        if kind == "vector":
            _features(g, np.ascontiguousarray(m["features"][rows]))
        else:
            _chunked(g, "features", np.ascontiguousarray(m["features"][rows]), np.float32)
        return
    items = [np.asarray(m["sequences" if kind == "frames" else "tokens"][r]) for r in rows]
    lengths = np.array([len(x) for x in items], dtype=np.int64)
    if kind == "frames":
        dim = np.asarray(m["sequences"][0]).shape[1]
        flat = np.concatenate(items).astype(np.float32) if items else np.zeros((0, dim), np.float32)
        _chunked(g, "features", flat, np.float32)
    else:
        g.attrs["vocab"] = np.int64(m["vocab"])
        flat = np.concatenate(items).astype(np.int64) if items else np.zeros((0,), np.int64)
        _chunked(g, "features", flat, np.int64)
    _ints(g, "lengths", lengths)


def check_modality(side, m, num_classes, num_clusters):
    kind = kind_of(m)
    if kind in ("vector", "image"):
        f = m["features"]
        if f.ndim != (2 if kind == "vector" else 4) or f.dtype != np.float32:
            raise ValueError(f"{side} features must be a float32 [n, d] or [n, C, H, W] array, got {f.dtype} {f.shape}")
        n = f.shape[0]
        bad = ~np.isfinite(f.reshape(n, -1)).all(1)
        if bad.any():
            raise ValueError(f"{side} features hold NaN or Inf (row {int(np.where(bad)[0][0])})")
    elif kind == "frames":
        seqs = m["sequences"]
        n = len(seqs)
        dims = {np.asarray(x).shape[1:] for x in seqs}
        if len(dims) > 1 or any(np.asarray(x).ndim != 2 for x in seqs):
            raise ValueError(f"{side} sequences must be [length, d] matrices of one d, got {sorted(dims)}")
        for i, x in enumerate(seqs):
            if len(x) < 1:
                raise ValueError(f"{side} sequence {i} is empty (every sequence needs a frame)")
            if not np.isfinite(x).all():
                raise ValueError(f"{side} sequence {i} holds NaN or Inf")
    else:
        vocab = int(m.get("vocab", 0))
        if vocab < 1:
            raise ValueError(f"{side} tokens need vocab >= 1")
        n = len(m["tokens"])
        for i, x in enumerate(m["tokens"]):
            x = np.asarray(x)
            if len(x) < 1:
                raise ValueError(f"{side} token sequence {i} is empty")
            if x.min() < 0 or x.max() >= vocab:
                raise ValueError(f"{side} token sequence {i} holds ids outside [0, {vocab})")
    for key in ("labels", "ids") + (("clusters",) if "clusters" in m else ()):
        if len(m[key]) != n:
            raise ValueError(f"{side} {key}: {len(m[key])} entries for {n} items")
    labels = np.asarray(m["labels"])
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{side} labels outside [0, {num_classes})")
    if "clusters" in m and n and (np.min(m["clusters"]) < 0 or np.max(m["clusters"]) >= num_clusters):
        raise ValueError(f"{side} clusters outside [0, {num_clusters})")


def check_pair_classes(pairs, source, target, class_names):
    """Raises ValueError naming the first strong pair whose items have different classes.

    croma assigns a pair to a split by its source item's class; a pair across classes (perhaps
    of two splits) could carry a meta-val or meta-test item into meta-training."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return
    s_cls = np.asarray(source["labels"], dtype=np.int64)[pairs[:, 0]]
    t_cls = np.asarray(target["labels"], dtype=np.int64)[pairs[:, 1]]
    bad = np.nonzero(s_cls != t_cls)[0]
    if len(bad):
        p = int(bad[0])
        s, t = int(pairs[p, 0]), int(pairs[p, 1])
        raise ValueError(f"strong pair {p} (source item {s} {source['ids'][s]!r}, target item {t} "
                         f"{target['ids'][t]!r}) joins class {class_names[s_cls[p]]!r} and class "
                         f"{class_names[t_cls[p]]!r}; a strong pair must join two items of one class")


def write_shards(out_dir, name, class_names, split, source, target, pairs, provenance,
                 cluster_names=None, shards=1):
    """Writes NAME-00000-of-0000N.h5 files, NAME.shards.txt and NAME.manifest.json in out_dir.

    source / target: dicts with features [n, d] float32 (or images, sequences, tokens: see the
    module docstring), labels [n] (class ids), ids [n]
    (strings), optional clusters [n] (weak-cluster ids, then cluster_names is required),
    modality and feature (descriptions). split: dict meta_train/meta_val/meta_test -> class
    ids. pairs: [p, 2] (source index, target index) into the whole dataset. Items go to shard
    (class id mod shards), so a strong pair between classes of two shards is an error.
    Returns the manifest (a dict).
    """
    num_classes = len(class_names)
    has_clusters = "clusters" in source or "clusters" in target
    if has_clusters != ("clusters" in source and "clusters" in target) or has_clusters != (cluster_names is not None):
        raise ValueError("weak clusters need clusters for both modalities and cluster_names")
    for side, m in (("source", source), ("target", target)):
        check_modality(side, m, num_classes, len(cluster_names or []))
    seen = {}
    split = {s: list(split.get(s, [])) for s in SPLITS}  # a copy: the caller's dict stays as given
    for s in SPLITS:
        # No meta-val classes is allowed: croma train then validates on held-out items of the
        # meta-train classes (--val-split auto/items).
        if not len(split[s]) and s != "meta_val":
            raise ValueError(f"split {s} has no classes")
        for k in split[s]:
            if not 0 <= k < num_classes:
                raise ValueError(f"split {s}: class {k} outside [0, {num_classes})")
            if k in seen:
                raise ValueError(f"class {class_names[k]!r} is in both {seen[k]} and {s}")
            seen[k] = s
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ns, nt = len(source["labels"]), len(target["labels"])
    if len(pairs) and (pairs.min() < 0 or pairs[:, 0].max() >= ns or pairs[:, 1].max() >= nt):
        raise ValueError("a strong pair indexes past the items")
    check_pair_classes(pairs, source, target, class_names)

    src_shard = np.asarray(source["labels"], dtype=np.int64) % shards
    tgt_shard = np.asarray(target["labels"], dtype=np.int64) % shards
    if len(pairs) and (src_shard[pairs[:, 0]] != tgt_shard[pairs[:, 1]]).any():
        raise ValueError("a strong pair joins items of classes stored in different shards")
    version = VERSION if kind_of(source) == kind_of(target) == "vector" else SEQUENCE_VERSION
    os.makedirs(out_dir, exist_ok=True)
    files = []
    for i in range(shards):
        file_name = f"{name}-{i:05d}-of-{shards:05d}.h5"
        path = os.path.join(out_dir, file_name)
        s_rows = np.where(src_shard == i)[0]
        t_rows = np.where(tgt_shard == i)[0]
        s_local = np.full(ns, -1, dtype=np.int64)
        s_local[s_rows] = np.arange(len(s_rows))
        t_local = np.full(nt, -1, dtype=np.int64)
        t_local[t_rows] = np.arange(len(t_rows))
        mine = pairs[src_shard[pairs[:, 0]] == i] if len(pairs) else pairs
        local_pairs = np.stack([s_local[mine[:, 0]], t_local[mine[:, 1]]], 1) if len(mine) else np.zeros((0, 2), np.int64)
        tmp = path + ".tmp"
        with h5py.File(tmp, "w", track_order=False) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(version)
            f.attrs["dataset"] = name
            f.attrs["shard_index"] = np.int64(i)
            f.attrs["shard_count"] = np.int64(shards)
            f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)
            g = _group(f, "classes")
            _strings(g, "names", class_names)
            for s in SPLITS:
                _ints(g, s, split[s])
            if has_clusters:
                _strings(_group(f, "clusters"), "names", cluster_names)
            for side, m, rows in (("source", source, s_rows), ("target", target, t_rows)):
                g = _group(f, side)
                g.attrs["modality"] = m.get("modality", "")
                g.attrs["feature"] = m.get("feature", "")
                _write_modality(g, m, rows)
                _ints(g, "labels", np.asarray(m["labels"])[rows])
                _strings(g, "ids", [m["ids"][r] for r in rows])
                if has_clusters:
                    _ints(g, "clusters", np.asarray(m["clusters"])[rows])
            _ints(f, "pairs", local_pairs, shape=(-1, 2))
        os.replace(tmp, path)
        files.append(file_name)

    with open(os.path.join(out_dir, f"{name}.shards.txt"), "w") as f:
        f.write("".join(p + "\n" for p in files))
    manifest = {
        "dataset": name,
        "format": FORMAT,
        "format_version": version,
        "files": [{"file": p, "sha256": sha256(os.path.join(out_dir, p))} for p in files],
        "classes": num_classes,
        "split_classes": {s: len(split[s]) for s in SPLITS},
        "source": _describe(source, ns),
        "target": _describe(target, nt),
        "pairs": int(len(pairs)),
        "provenance": provenance,
    }
    tmp = os.path.join(out_dir, f"{name}.manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, f"{name}.manifest.json"))
    return manifest


def _describe(m, n):
    out = {"modality": m.get("modality", ""), "feature": m.get("feature", ""), "items": n}
    kind = kind_of(m)
    if kind == "vector":
        out["dim"] = int(m["features"].shape[1])
    else:
        out["kind"] = kind
        if kind == "image":
            out["shape"] = [int(d) for d in m["features"].shape[1:]]
        elif kind == "frames":
            out["dim"] = int(np.asarray(m["sequences"][0]).shape[1])
            out["max_length"] = int(max(len(x) for x in m["sequences"]))
        else:
            out["vocab"] = int(m["vocab"])
            out["max_length"] = int(max(len(x) for x in m["tokens"]))
    return out


def random_class_split(num_classes, train_fraction, val_fraction, seed):
    """Deterministic class split: a seeded permutation cut by the fractions."""
    order = np.random.default_rng(seed).permutation(num_classes)
    n_train = int(round(train_fraction * num_classes))
    n_val = int(round(val_fraction * num_classes))
    # val_fraction 0 asks for no meta-val classes (validation on held-out items).
    if n_train < 1 or (n_val < 1 and val_fraction > 0) or num_classes - n_train - n_val < 1:
        raise ValueError(f"fractions {train_fraction}, {val_fraction} of {num_classes} classes leave a split empty")
    return {"meta_train": sorted(order[:n_train].tolist()),
            "meta_val": sorted(order[n_train:n_train + n_val].tolist()),
            "meta_test": sorted(order[n_train + n_val:].tolist())}
