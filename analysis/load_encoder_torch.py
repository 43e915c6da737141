#!/usr/bin/python3
"""A croma checkpoint's MLP encoders as PyTorch modules, and features embedded with them.

    python3 analysis/load_encoder_torch.py CHECKPOINT.h5 FEATURES --modality target --out EMB.npy

CHECKPOINT.h5 is any checkpoint of a run (RUN/checkpoints/best.h5, final.h5, step_N.h5).
FEATURES is a .npy array [n, d] or a .npz with an array `features` (the format
data_prep/import_features.py reads), in the units the shards hold: the run's standardisation
(mean and deviation of the meta-train items, stored in the checkpoint) is applied here, as
croma applies it. The embeddings are what croma's encoders give: the MLP's output, L2-normalised.

In Python:
    from load_encoder_torch import load_encoders
    encoders = load_encoders("runs/a/checkpoints/best.h5")   # {"source": module, "target": module}
    z = encoders["target"](torch.from_numpy(x))              # [n, embed_dim], unit rows

The layout read (docs/data-format.md, include/croma/model/checkpoint.h): one float32 dataset per
tensor, /<module>/layer<L>/weight [out, in] and /<module>/layer<L>/bias [out]; the source
encoder is e_s, the target encoder e_t, each Linear - ReLU - ... - Linear (ReLU between layers,
none after the last). The shared-encoder methods (shared, shared-align, shared-confusion,
shared-target-labels) have no e_t: their target path is map_t (one Linear into the source's
feature space) followed by e_s. Pool, LSTM and CNN encoders are not rebuilt here.
"""
import argparse
import json
import re
import sys

import h5py
import numpy as np
import torch
from torch import nn


class CheckpointError(Exception):
    pass


class Standardize(nn.Module):
    """(x - mean) / std per feature, in float32 as croma does; identity without statistics."""

    def __init__(self, record):
        super().__init__()
        self.active = bool(record and record.get("mean"))
        if self.active:
            self.register_buffer("mean", torch.tensor(record["mean"], dtype=torch.float64).float())
            self.register_buffer("std", torch.tensor(record["std"], dtype=torch.float64).float())

    def forward(self, x):
        return (x - self.mean) / self.std if self.active else x


class Normalize(nn.Module):
    def forward(self, z):
        return z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def mlp(f, module):
    """nn.Sequential of the Linear layers of /<module>, ReLU between them."""
    if module not in f:
        raise CheckpointError(f"no group '{module}' in the checkpoint")
    names = sorted(f[module], key=lambda n: int(re.fullmatch(r"layer(\d+)", n).group(1))
                   if re.fullmatch(r"layer(\d+)", n) else -1)
    if not names or any(not re.fullmatch(r"layer\d+", n) for n in names):
        raise CheckpointError(f"'{module}' is not an MLP (its members: {', '.join(sorted(f[module]))}); "
                              "only MLP encoders are rebuilt here")
    layers = []
    for i, name in enumerate(names):
        w = np.asarray(f[f"{module}/{name}/weight"], dtype=np.float32)
        b = np.asarray(f[f"{module}/{name}/bias"], dtype=np.float32)
        linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i + 1 < len(names):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def load_encoders(path):
    """{"source": nn.Module, "target": nn.Module}: standardise, MLP, L2-normalise."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CheckpointError(f"cannot open '{path}': {e}")
    with f:
        if f.attrs.get("format") not in ("croma-checkpoint", b"croma-checkpoint"):
            raise CheckpointError(f"'{path}' is not a croma checkpoint")
        config = json.loads(f.attrs.get("config", "{}") or "{}")
        stats = config.get("standardization") or {}
        source = mlp(f, "e_s")
        target = nn.Sequential(mlp(f, "map_t"), *source) if "map_t" in f else mlp(f, "e_t")
    encoders = {
        "source": nn.Sequential(Standardize(stats.get("source")), source, Normalize()),
        "target": nn.Sequential(Standardize(stats.get("target")), target, Normalize()),
    }
    for m in encoders.values():
        m.eval()
    return encoders


def read_features(path):
    if path.endswith(".npz"):
        with np.load(path) as z:
            if "features" not in z:
                raise CheckpointError(f"'{path}' has no array 'features'")
            x = z["features"]
    else:
        x = np.load(path)
    if x.ndim != 2:
        raise CheckpointError(f"'{path}': features must be [n, d], got shape {list(x.shape)}")
    return np.ascontiguousarray(x, dtype=np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a croma checkpoint (.h5)")
    p.add_argument("features", help=".npy [n, d] or .npz with 'features'")
    p.add_argument("--modality", choices=["source", "target"], default="target")
    p.add_argument("--out", help="write the embeddings here (.npy); default: print their shape only")
    a = p.parse_args()
    try:
        encoder = load_encoders(a.checkpoint)[a.modality]
        x = read_features(a.features)
        width = next(m for m in encoder.modules() if isinstance(m, nn.Linear)).in_features
        if x.shape[1] != width:
            raise CheckpointError(f"'{a.features}' has {x.shape[1]} features a row; the {a.modality} "
                                  f"encoder of '{a.checkpoint}' takes {width}")
        with torch.no_grad():
            z = encoder(torch.from_numpy(x)).numpy()
    except (CheckpointError, RuntimeError) as e:
        print(f"load_encoder_torch: {e}", file=sys.stderr)
        return 1
    if a.out:
        np.save(a.out, z)
    print(json.dumps({"checkpoint": a.checkpoint, "modality": a.modality, "items": int(z.shape[0]),
                      "embed_dim": int(z.shape[1]), "out": a.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
