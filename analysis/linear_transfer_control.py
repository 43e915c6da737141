#!/usr/bin/python3
"""Can anything learned on meta-train classes help on meta-test classes of these data? A check of
the data, independent of croma's networks and of its code.

On the target features of feature shards (standardised with meta-train statistics, as croma
does), N-way k-shot episodes on the meta-test classes are classified by nearest class mean
(squared Euclidean) twice, on the same episodes:
  raw  the standardised features themselves;
  lda  the same features projected on the discriminant directions of the meta-train classes
       (Fisher's linear discriminant with shrinkage: within-class scatter + s * its mean
       eigenvalue * I, at most C_train - 1 directions).
The paired gain lda - raw, with a 95 % t-interval over episodes, says whether class structure
learned on meta-train classes transfers to new classes. Where it is clearly positive and a
method's own gain over its untrained start is not (the positive control of jobs/sweep.py
aggregate), the data can be learned from and the method did not; where it is not, the data
themselves may hold nothing transferable.

usage: linear_transfer_control.py SHARDS.txt|FILE.h5[,FILE.h5...] [--shots 1,5] [--ways 5]
                                  [--queries 6] [--episodes 600] [--shrinkage 0.1] [--seed 1]
Prints a table and, last, one JSON line.
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

try:
    from scipy.stats import t as student_t
except ImportError:  # the interval needs scipy (python3-scipy)
    student_t = None


def shard_paths(spec):
    if spec.endswith(".txt"):
        base = os.path.dirname(os.path.abspath(spec))
        with open(spec) as f:
            return [os.path.join(base, line.strip()) for line in f if line.strip()]
    return spec.split(",")


def read_target(paths):
    """(features [n, d] float64, labels [n], {split: class ids}) of the target modality."""
    xs, ys, split = [], [], None
    for path in paths:
        with h5py.File(path, "r") as f:
            if f["target"].attrs.get("kind", "vector") != "vector":
                raise SystemExit(f"{path}: target features are {f['target'].attrs['kind']}, this check reads vectors")
            xs.append(f["target/features"][()].astype(np.float64))
            ys.append(f["target/labels"][()])
            split = {s: f[f"classes/{s}"][()].tolist() for s in ("meta_train", "meta_val", "meta_test")}
    return np.concatenate(xs), np.concatenate(ys), split


def discriminant(x, y, classes, shrinkage):
    """Fisher directions of `classes` (columns, by decreasing ratio)."""
    mask = np.isin(y, classes)
    xt, yt = x[mask], y[mask]
    mean = xt.mean(0)
    within = np.zeros((x.shape[1], x.shape[1]))
    between = np.zeros_like(within)
    for c in classes:
        a = xt[yt == c]
        mc = a.mean(0)
        within += (a - mc).T @ (a - mc)
        between += len(a) * np.outer(mc - mean, mc - mean)
    within += shrinkage * np.trace(within) / len(within) * np.eye(len(within))
    # Symmetric form: W^-1/2 B W^-1/2, so the eigenvectors are real and ordered.
    values, vectors = np.linalg.eigh(within)
    root_inv = vectors @ np.diag(values ** -0.5) @ vectors.T
    ratio, directions = np.linalg.eigh(root_inv @ between @ root_inv)
    order = np.argsort(-ratio)[:max(1, min(len(classes) - 1, len(ratio)))]
    return root_inv @ directions[:, order]


def nearest_mean(features, support, support_labels, query, ways):
    means = np.stack([features[support[support_labels == j]].mean(0) for j in range(ways)])
    q = features[query]
    distance = ((q[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    return distance.argmin(1)


def interval(values):
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2 or student_t is None:
        return float(values.mean()), None
    return float(values.mean()), float(student_t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))


def run(x, y, split, shots_list, ways, queries, episodes, shrinkage, seed):
    train = np.isin(y, split["meta_train"])
    x = (x - x[train].mean(0)) / np.maximum(x[train].std(0), 1e-6)
    projected = x @ discriminant(x, y, split["meta_train"], shrinkage)
    test_classes = np.array(split["meta_test"])
    by_class = {c: np.flatnonzero(y == c) for c in test_classes}
    out = []
    for shots in shots_list:
        smallest = min(len(v) for v in by_class.values())
        if smallest < shots + queries or len(test_classes) < ways:
            raise SystemExit(f"{shots}-shot {ways}-way episodes with {queries} queries need {shots + queries} "
                             f"items in {ways} meta-test classes; the smallest has {smallest}")
        rng = np.random.default_rng([seed, shots])
        acc = {"raw": [], "lda": []}
        for _ in range(episodes):
            chosen = rng.choice(test_classes, ways, replace=False)
            support, support_labels, query, query_labels = [], [], [], []
            for j, c in enumerate(chosen):
                items = rng.permutation(by_class[c])[:shots + queries]
                support += items[:shots].tolist()
                support_labels += [j] * shots
                query += items[shots:].tolist()
                query_labels += [j] * queries
            support, support_labels = np.array(support), np.array(support_labels)
            query, query_labels = np.array(query), np.array(query_labels)
            for name, features in (("raw", x), ("lda", projected)):
                acc[name].append(float((nearest_mean(features, support, support_labels, query, ways) == query_labels).mean()))
        gain = [a - b for a, b in zip(acc["lda"], acc["raw"])]
        row = {"shots": shots, "episodes": episodes}
        for name in ("raw", "lda"):
            row[name] = dict(zip(("mean", "ci95"), interval(acc[name])))
        row["gain"] = dict(zip(("mean", "ci95"), interval(gain)))
        out.append(row)
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shards")
    p.add_argument("--shots", default="1,5")
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--queries", type=int, default=6)
    p.add_argument("--episodes", type=int, default=600)
    p.add_argument("--shrinkage", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    try:
        x, y, split = read_target(shard_paths(a.shards))
    except (OSError, KeyError) as e:  # a missing file, or an HDF5 file that is not feature shards
        raise SystemExit(f"linear_transfer_control: cannot read feature shards {a.shards}: {e}")
    rows = run(x, y, split, [int(k) for k in a.shots.split(",")], a.ways, a.queries, a.episodes, a.shrinkage, a.seed)
    pct = lambda c: f"{100 * c['mean']:.1f}" + ("" if c["ci95"] is None else f" ± {100 * c['ci95']:.1f}")  # noqa: E731
    print(f"| k | raw nearest mean | meta-train discriminant | gain (paired) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['shots']} | {pct(r['raw'])} | {pct(r['lda'])} | {pct(r['gain'])} |")
    print(json.dumps({"shards": a.shards, "ways": a.ways, "queries": a.queries, "shrinkage": a.shrinkage,
                      "seed": a.seed, "classes": {s: len(v) for s, v in split.items()}, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
