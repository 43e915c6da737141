#!/usr/bin/env python3
"""Fig. 8 of the paper from `croma study` output: target error of the cross-modal predictor
against n_align, one curve per sigma_w2 (measured mean with standard-error bars, exact theory
as lines), the supervised level (measured and exact) and the source-limited floor.

usage: plot_study.py RUN_DIR [--out RUN_DIR/fig8.png]
Needs Debian's python3-matplotlib (scripts/setup.sh installs it).
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    rows = list(csv.DictReader(open(os.path.join(a.run_dir, "study.csv"))))
    if not rows:
        raise SystemExit(f"plot_study: {a.run_dir}/study.csv has no cells")
    out = a.out or os.path.join(a.run_dir, "fig8.png")
    by_sw = {}
    for r in rows:
        by_sw.setdefault(float(r["sigma_w2"]), []).append(r)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.cm.viridis([i / max(1, len(by_sw) - 1) for i in range(len(by_sw))])
    for color, (sw, cells) in zip(colors, sorted(by_sw.items())):
        cells.sort(key=lambda r: int(r["n_align"]))
        n = [int(r["n_align"]) for r in cells]
        ax.errorbar(n, [float(r["cross_mean"]) for r in cells], yerr=[float(r["cross_sem"]) for r in cells],
                    fmt="o", ms=3, color=color, label=f"align, $\\sigma_W^2$={sw:g}")
        ax.plot(n, [float(r["cross_theory"]) for r in cells], "-", lw=1, color=color)
    first = sorted(rows, key=lambda r: int(r["n_align"]))
    n_all = sorted({int(r["n_align"]) for r in rows})
    sup = sum(float(r["supervised_mean"]) for r in rows) / len(rows)
    ax.axhline(float(first[0]["supervised_theory"]), color="red", lw=1.2, label="supervised (exact theory)")
    ax.plot([n_all[0], n_all[-1]], [sup, sup], "r:", lw=1, label="supervised (measured, mean of cells)")
    ax.axhline(float(first[0]["source_theory"]), color="gray", ls="--", lw=1, label="source-limited (theory)")
    ax.plot([], [], "k-", lw=1, label="lines: exact theory per $\\sigma_W^2$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    r0 = rows[0]
    ax.set_xlabel("alignment pairs $n_{align}$")
    ax.set_ylabel("target error $\\|w - u_2\\|^2$")
    ax.set_title(f"Supervision vs alignment: d={r0['d']}, n1={r0['n1']}, n2={r0['n2']}, "
                 f"$\\sigma^2$={float(r0['sigma2']):g}, {r0['trials']} trials/cell")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, out)
    print(out)


if __name__ == "__main__":
    main()
