#!/usr/bin/python3
"""A sweep's aggregated metric against one grid parameter, mean +- std over seeds.

usage: plot_sweep.py SWEEP_ROOT --x shots [--metric test_acc_1shot] [--out FILE.png]

Reads SWEEP_ROOT/summary.csv (written by `jobs/sweep.py aggregate`); one line per
combination of the other grid parameters, error bars = sample std over seeds, the number of
seeds in the legend. Needs Debian's python3-matplotlib.
"""
import argparse
import csv
import os
import sys


def load(root):
    path = os.path.join(root, "summary.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise SystemExit(f"plot_sweep: cannot read '{path}': {e.strerror} (run jobs/sweep.py aggregate first)")
    if not rows:
        raise SystemExit(f"plot_sweep: '{path}' has no rows")
    return rows


def as_number(text):
    try:
        return float(text)
    except ValueError:
        return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--x", required=True, help="grid parameter on the x axis")
    p.add_argument("--metric", default=None, help="metric (default: the first test_acc_* column)")
    p.add_argument("--out", default=None, help="image file (default: ROOT/<metric>_vs_<x>.png)")
    a = p.parse_args(argv)
    rows = load(a.root)
    columns = list(rows[0].keys())
    metrics = [c[:-5] for c in columns if c.endswith("_mean")]
    params = columns[:columns.index("n")]
    metric = a.metric or next((m for m in metrics if m.startswith("test_acc")), metrics[0] if metrics else None)
    if a.x not in params:
        raise SystemExit(f"plot_sweep: --x {a.x} is not a grid parameter of this sweep ({', '.join(params)})")
    if metric not in metrics:
        raise SystemExit(f"plot_sweep: --metric {metric} is not in summary.csv ({', '.join(metrics)})")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [q for q in params if q != a.x]
    lines = {}
    for r in rows:
        if r[f"{metric}_mean"] == "":
            continue
        key = tuple((q, r[q]) for q in others)
        lines.setdefault(key, []).append((as_number(r[a.x]), float(r[f"{metric}_mean"]),
                                          float(r[f"{metric}_std"] or 0), int(r["n"])))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, points in sorted(lines.items()):
        points.sort(key=lambda t: (isinstance(t[0], str), t[0]))
        xs = [t[0] for t in points]
        label = ", ".join(f"{q}={v}" for q, v in key) or metric
        lo, hi = min(t[3] for t in points), max(t[3] for t in points)
        label += f" (n={lo})" if lo == hi else f" (n={lo}-{hi})"
        ax.errorbar([str(x) for x in xs] if any(isinstance(x, str) for x in xs) else xs,
                    [t[1] for t in points], yerr=[t[2] for t in points], marker="o", ms=4, capsize=3,
                    label=label)
    ax.set_xlabel(a.x)
    ax.set_ylabel(metric + " (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = a.out or os.path.join(a.root, f"{metric}_vs_{a.x}.png")
    fig.savefig(out, dpi=120)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
