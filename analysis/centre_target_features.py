#!/usr/bin/python3
# usage: analysis/centre_target_features.py SHARD_DIR   (rewrites the shards of SHARD_DIR in place;
# run it on a copy)
# Investigation only: subtract the per-pixel mean of the meta-train pictures from every
# picture's features (the raw pixels are mostly white, mean 0.77, all positive).
import h5py, numpy as np, glob, sys
paths = sorted(glob.glob(sys.argv[1] + '/*.h5'))
X, Y = [], []
for p in paths:
    with h5py.File(p, 'r') as f:
        X.append(f['target/features'][()]); Y.append(f['target/labels'][()]); train = f['classes/meta_train'][()]
X, Y = np.concatenate(X), np.concatenate(Y)
mu = X[np.isin(Y, train)].mean(0)
for p in paths:
    with h5py.File(p, 'r+') as f:
        f['target/features'][...] = (f['target/features'][()] - mu).astype(np.float32)
print('centred', len(paths), 'shards; mean pixel', float(mu.mean()))
