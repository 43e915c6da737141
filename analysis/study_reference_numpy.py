#!/usr/bin/env python3
"""Straightforward NumPy reference for `croma study` (paper §5.5): one numpy.linalg.lstsq per
fit, one trial at a time, on explicitly drawn data. Kept for the speed comparison in
docs/study.md and as an independent check of the means. Uses Debian's python3-numpy only.

usage: study_reference_numpy.py [--trials 20] [--d 20 --n1 250 --n2 40 --sigma2 1]
                                [--n-align LIST] [--sigma-w2 LIST] [--seed 1]
Prints one line per cell and, last, one JSON line with fits per second.
"""
import argparse
import json
import time

import numpy as np

DEFAULT_N_ALIGN = "25,30,40,50,70,100,150,200,300,500,1000,2000,5000,10000,30000,100000"
DEFAULT_SIGMA_W2 = "0,0.05,0.1,0.25,0.5,1,2"


def trial(rng, d, n1, n2, n_align, sigma2, sigma_w2):
    sigma = np.sqrt(sigma2)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    w = q * np.sign(np.diag(r))  # random orthogonal W
    u1 = rng.standard_normal(d)
    u2 = u1 @ w
    x2 = rng.standard_normal((n2, d))
    y2 = x2 @ u2 + sigma * rng.standard_normal(n2)
    w2 = np.linalg.lstsq(x2, y2, rcond=None)[0]
    x1 = rng.standard_normal((n1, d)) @ w.T
    y1 = x1 @ u1 + sigma * rng.standard_normal(n1)
    w1 = np.linalg.lstsq(x1, y1, rcond=None)[0]
    xa = rng.standard_normal((n_align, d))
    x1a = xa @ w.T + np.sqrt(sigma_w2) * rng.standard_normal((n_align, d))
    w_hat = np.linalg.lstsq(xa, x1a, rcond=None)[0].T
    return (np.sum((w2 - u2) ** 2), np.sum(((w1 - u1) @ w) ** 2), np.sum((w1 @ w_hat - u2) ** 2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--n1", type=int, default=250)
    p.add_argument("--n2", type=int, default=40)
    p.add_argument("--sigma2", type=float, default=1.0)
    p.add_argument("--n-align", default=DEFAULT_N_ALIGN)
    p.add_argument("--sigma-w2", default=DEFAULT_SIGMA_W2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    n_align = [int(v) for v in a.n_align.split(",")]
    sigma_w2 = [float(v) for v in a.sigma_w2.split(",")]
    fits = 0
    start = time.perf_counter()
    for sw in sigma_w2:
        for na in n_align:
            errs = np.array([trial(rng, a.d, a.n1, a.n2, na, a.sigma2, sw) for _ in range(a.trials)])
            fits += 3 * a.trials
            m = errs.mean(axis=0)
            print(f"sigma_w2={sw:g} n_align={na}: supervised {m[0]:.4f} source {m[1]:.4f} cross {m[2]:.4f}")
    seconds = time.perf_counter() - start
    print(json.dumps({"reference": "numpy-lstsq", "numpy": np.__version__, "cells": len(n_align) * len(sigma_w2),
                      "trials_per_cell": a.trials, "fits": fits, "seconds": seconds,
                      "fits_per_second": fits / seconds}))


if __name__ == "__main__":
    main()
