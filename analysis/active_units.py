#!/usr/bin/python3
"""How many first-layer ReLU units of the target encoder e_t still fire on meta-test items.

  analysis/active_units.py SHARDS_TXT RUN_DIR...

For each run, from checkpoints/initial.h5 and checkpoints/final.h5: the units of e_t's first
layer that are positive for at least one meta-test target item (a unit that never fires gets
no gradient in few-shot fine-tuning, so it stays dead), and the mean fraction of units firing
per item. Assumes the MLP encoder (e_t/layer0/weight, e_t/layer0/bias). Needs h5py, numpy.
"""
import os
import sys

import h5py
import numpy as np


def meta_test_targets(shards_txt):
    folder = os.path.dirname(shards_txt)
    with open(shards_txt) as f:
        names = [line.strip() for line in f if line.strip()]
    xs, ys, test = [], [], None
    for name in names:
        with h5py.File(os.path.join(folder, name), "r") as f:
            xs.append(f["target/features"][()])
            ys.append(f["target/labels"][()])
            test = f["classes/meta_test"][()]
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x[np.isin(y, test)]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    x = meta_test_targets(argv[0])
    print("| run | checkpoint | e_t layer-0 units firing on any meta-test item | mean fraction firing per item |")
    print("|---|---|---|---|")
    for run in argv[1:]:
        if not os.path.isfile(os.path.join(run, "checkpoints", "final.h5")):
            print(f"active_units: error: {run}: no checkpoints/final.h5 (not a finished run directory)", file=sys.stderr)
            return 1
        for ck in ("initial", "final"):
            with h5py.File(os.path.join(run, "checkpoints", ck + ".h5"), "r") as c:
                w, b = c["e_t/layer0/weight"][()], c["e_t/layer0/bias"][()]
            fire = (x @ w.T + b) > 0
            print(f"| {os.path.basename(run.rstrip('/'))} | {ck} | {int(fire.any(0).sum())} / {w.shape[0]} | {fire.mean():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
