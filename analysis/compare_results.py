#!/usr/bin/python3
"""Compare two results.json of the same search: a committed one and a rerun of its final stage.

    analysis/compare_results.py OLD/results.json NEW/results.json [--markdown]

For every method (row) and (k, label noise) cell both hold: the seed-mean accuracy of each, the
difference, and whether the new mean lies inside the old 95 % interval of the seed means; the
same for the paired CroMA − method differences. A rerun from the same selection.json on the same
build and CPU reproduces every number exactly; on another CPU (other BLAS kernels, other
rounding) training diverges within its own noise, so the question becomes whether the rerun
lands inside the committed intervals. Exit 0 always unless the files are not comparable (2).
"""
import argparse
import json
import sys


def rows(old, new):
    """[(group, key, old cell, new cell)] of the accuracy cells both results hold."""
    out = []
    for group, row in old["rows"].items():
        other = new["rows"].get(group)
        if other is None:
            continue
        for key, cell in row["cells"].items():
            if key in other["cells"]:
                out.append((group, key, cell, other["cells"][key]))
    return out


def paired(old, new):
    out = []
    for group, cells in old.get("paired_vs_croma", {}).items():
        for key, cell in cells.items():
            other = new.get("paired_vs_croma", {}).get(group, {}).get(key)
            if other is not None:
                out.append((group, key, cell, other))
    return out


def inside(value, cell_mean, half):
    return half is not None and abs(value - cell_mean) <= half


def compare(old, new):
    """{"accuracy": [...], "paired": [...], "summary": {...}} of two results."""
    if old.get("name") != new.get("name"):
        raise ValueError(f"not the same search: '{old.get('name')}' and '{new.get('name')}'")
    acc = []
    for group, key, a, b in rows(old, new):
        acc.append({"group": group, "key": key, "old": a["mean"], "old_ci95": a["ci95"], "new": b["mean"],
                    "new_ci95": b["ci95"], "difference": b["mean"] - a["mean"],
                    "inside_old_interval": inside(b["mean"], a["mean"], a["ci95"]), "identical": a["mean"] == b["mean"]})
    pairs = []
    for group, key, a, b in paired(old, new):
        pairs.append({"group": group, "key": key, "old": a["mean"], "old_ci95": a["ci95"], "new": b["mean"],
                      "new_ci95": b["ci95"], "inside_old_interval": inside(b["mean"], a["mean"], a["ci95"]),
                      "old_excludes_zero": a["excludes_zero"], "new_excludes_zero": b["excludes_zero"]})
    diffs = [abs(x["difference"]) for x in acc]
    summary = {"cells": len(acc), "identical": sum(x["identical"] for x in acc),
               "inside_old_interval": sum(x["inside_old_interval"] for x in acc),
               "largest_abs_difference": max(diffs) if diffs else None,
               "mean_abs_difference": sum(diffs) / len(diffs) if diffs else None,
               "paired": len(pairs), "paired_inside_old_interval": sum(x["inside_old_interval"] for x in pairs),
               "paired_same_verdict": sum(x["old_excludes_zero"] == x["new_excludes_zero"] for x in pairs)}
    return {"accuracy": acc, "paired": pairs, "summary": summary}


def markdown(result):
    p = lambda v: f"{100 * v:.1f}"
    out = ["| method | cell | committed | rerun | rerun − committed | inside committed interval |", "|---|---|---|---|---|---|"]
    for x in result["accuracy"]:
        out.append(f"| {x['group']} | {x['key']} | {p(x['old'])} ± {p(x['old_ci95'])} | {p(x['new'])} ± {p(x['new_ci95'])} | "
                   f"{100 * x['difference']:+.1f} | {'yes' if x['inside_old_interval'] else 'no'} |")
    s = result["summary"]
    out += ["", f"{s['cells']} cells: {s['identical']} identical, {s['inside_old_interval']} inside the committed "
            f"interval; mean |difference| {100 * s['mean_abs_difference']:.2f} points, largest "
            f"{100 * s['largest_abs_difference']:.2f}. Paired CroMA − method: {s['paired_inside_old_interval']} of "
            f"{s['paired']} inside the committed interval, {s['paired_same_verdict']} of {s['paired']} with the same "
            f"verdict (interval excludes zero or not)."]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--markdown", action="store_true", help="a markdown table instead of JSON")
    args = parser.parse_args(argv)
    try:
        with open(args.old) as f:
            old = json.load(f)
        with open(args.new) as f:
            new = json.load(f)
        result = compare(old, new)
    except (OSError, ValueError, KeyError) as e:
        print(f"compare_results.py: error: {e}", file=sys.stderr)
        return 2
    print(markdown(result) if args.markdown else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
