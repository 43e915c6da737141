#!/usr/bin/python3
"""Recompute a committed search's tables from its committed episodes, and say what differs.

    analysis/check_episodes.py docs/results/search-builtin [FOLDER...]

A results folder written by `jobs/sweep.py aggregate` holds episodes.json.gz: every final run's
eval.json (the per-episode accuracies of the trained model, its untrained start and each frozen
head) less its machine paths. This script rebuilds results.json from those runs alone, with the
folder's selection.json and the search's settings as results.json records them, exactly as aggregate does from the run directories
(analysis/search_tables.py: the seed intervals, the pairing by seed and episode, the gains, the
frozen-head rows), then writes every markdown table from it and compares each with the
committed file, byte for byte. Compute (CPU-hours) is not in the episodes; it is taken from the
committed results.json.

Exit 0 when everything reproduces, 1 when a file differs (named, with its first differing line),
2 on a folder that lacks what the check needs.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import search_tables  # noqa: E402


def first_difference(a, b):
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), start=1):
        if x != y:
            return f"line {number}: committed {x!r}, recomputed {y!r}"
    return f"lengths differ ({len(a.splitlines())} and {len(b.splitlines())} lines)"


def check(folder):
    """[(file, what differs)] between the committed folder and its recomputation."""
    needed = ("selection.json", "results.json", search_tables.EPISODES_FILE)
    missing = [name for name in needed if not os.path.exists(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(f"{folder}: cannot check, no {', '.join(missing)}")
    with open(os.path.join(folder, "selection.json")) as f:
        selection = json.load(f)
    with open(os.path.join(folder, "results.json")) as f:
        committed_text = f.read()
    committed = json.loads(committed_text)
    # The search's settings (name, fixed options, protocol) are copied into results.json as they
    # were; the numbers are what is checked.
    spec = {key: committed[key] for key in ("name", "train", "eval", "search")}
    cells, runs = search_tables.read_episodes(os.path.join(folder, search_tables.EPISODES_FILE))
    summary = search_tables.summarise(dict(spec, root=folder), selection, [], cells, runs=runs)
    summary["compute"] = committed.get("compute", {})
    differences = []
    text = json.dumps(summary, indent=1) + "\n"
    if text != committed_text:
        differences.append(("results.json", first_difference(committed_text, text)))
    for name, table in search_tables.markdown_tables(summary, selection, folder, draw=False).items():
        path = os.path.join(folder, name)
        old = ""
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
        if old != table:
            differences.append((name, first_difference(old, table) if old else "not committed"))
    return differences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="results folders holding episodes.json.gz")
    args = parser.parse_args(argv)
    failed = False
    for folder in args.folders:
        try:
            differences = check(folder)
        except (OSError, ValueError, KeyError) as e:
            print(f"check_episodes.py: error: {e}", file=sys.stderr)
            return 2
        if differences:
            failed = True
            for name, what in differences:
                print(f"{folder}/{name}: does not reproduce from the episodes: {what}", file=sys.stderr)
        else:
            print(f"{folder}: results.json and every table reproduce from {search_tables.EPISODES_FILE}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
