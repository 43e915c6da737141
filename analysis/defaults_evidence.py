"""Which configuration of each method does well on every data set: the evidence for defaults.

    python3 analysis/defaults_evidence.py docs/results/search-builtin docs/results/search-text_to_speech ...

Each argument is a tuning search's results folder (its selection.json and spec-as-run.json, as
docs/results/search-* hold them). Every search draws the same configurations for a method on
every data set (config 0 = the defaults, 1.. = draws that depend on (draw_seed, method, index)
only: jobs/search.py) and scores each on that data set's meta-validation classes. A default
should be good everywhere, not best on one data set (docs/evaluation.md, "Defaults"). So each
configuration is scored by its shortfall on each data set: how many points of mean meta-val
accuracy it lies below the best configuration of that method there. The candidate default is
the configuration with the smallest mean shortfall over the data sets (ties: the lower index,
so the defaults first). A configuration that failed on any data set is not a candidate; a data
set that refused the method (unsup-meta-weak where every weak cluster lies inside one class) is
left out of that method's mean, and named.

Prints a markdown report on stdout. With --json FILE it also writes the chosen configuration of
every method as the options that differ from config 0 (the defaults the searches ran with):
croma's per-method defaults (src/config/method_defaults.cpp) are that file, and a unit test
holds them to it. Exits non-zero, with one line naming the folder, when a folder lacks its files
or two searches drew different configurations under one index. --cpp prints the entries of
src/config/method_defaults.cpp's table instead of the report.
"""
import argparse
import json
import os
import sys


class EvidenceError(Exception):
    pass


def load(folder):
    """(name, selection, draw_seed) of one search's results folder."""
    try:
        with open(os.path.join(folder, "selection.json")) as f:
            selection = json.load(f)
        with open(os.path.join(folder, "spec-as-run.json")) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise EvidenceError(f"{folder}: not a search's results folder ({e})")
    return spec.get("name", os.path.basename(folder.rstrip("/"))), selection, spec.get("search", {}).get("draw_seed", 0)


def evidence(searches):
    """Per method: every configuration's val accuracy and shortfall on each data set.

    searches: list of (name, selection) with selection as jobs/sweep.py writes it.
    Returns a list of dicts, one per method (in the first search's order)."""
    methods = []
    for _, selection in searches:
        for group in selection:
            if group not in methods:
                methods.append(group)
    out = []
    for group in methods:
        used, refused, hparams, val = [], [], {}, {}
        for name, selection in searches:
            entry = selection.get(group)
            if entry is None or "refused" in entry:
                refused.append(name)
                continue
            used.append(name)
            for c in entry["configurations"]:
                index = c["config"]
                if index in hparams and hparams[index] != c["hparams"]:
                    raise EvidenceError(f"{name}: configuration {index} of {group} is not the one the other searches "
                                        f"drew ({c['hparams']} against {hparams[index]}): draw_seed or the "
                                        "search distribution changed between them")
                hparams[index] = c["hparams"]
                val.setdefault(index, {})[name] = c.get("val_accuracy")
        best = {}
        for name in used:
            scores = [v[name] for v in val.values() if v.get(name) is not None]
            best[name] = max(scores) if scores else None
        rows = []
        for index in sorted(hparams):
            scores = val[index]
            complete = all(scores.get(name) is not None for name in used)
            shortfall = {name: 100 * (best[name] - scores[name]) for name in used if scores.get(name) is not None}
            rows.append({"config": index, "hparams": hparams[index], "val": scores, "complete": complete,
                         "shortfall": shortfall,
                         "mean_shortfall": sum(shortfall.values()) / len(shortfall) if complete and used else None,
                         "worst_shortfall": max(shortfall.values()) if complete and used else None})
        candidates = [r for r in rows if r["mean_shortfall"] is not None]
        chosen = min(candidates, key=lambda r: (r["mean_shortfall"], r["config"])) if candidates else None
        own_best = {}
        for name in used:
            scored = [r for r in rows if r["val"].get(name) is not None]
            if scored:
                top = max(scored, key=lambda r: (r["val"][name], -r["config"]))
                own_best[name] = (top["config"], top["val"][name])
        out.append({"group": group, "data_sets": used, "refused": refused, "rows": rows, "chosen": chosen,
                    "defaults": next((r for r in rows if r["config"] == 0), None), "own_best": own_best})
    return out


def changed(hparams, defaults):
    """The options where a configuration differs from the defaults, as --name value."""
    diff = [f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}"
            for k, v in hparams.items() if defaults is None or defaults.get(k) != v]
    return " ".join(diff) if diff else "(the defaults)"


def report(results, names):
    def points(r):
        if r is None or r["mean_shortfall"] is None:
            return "failed somewhere"
        return f"{r['mean_shortfall']:.1f} / {r['worst_shortfall']:.1f}"

    lines = [f"Data sets: {', '.join(names)}. Shortfall: points of mean meta-val accuracy below the best "
             "configuration of the method on that data set, mean / worst over the data sets. Each val accuracy "
             "is one trial seed on 100 meta-val episodes (about ±2.5 points), so differences of a few points "
             "between configurations are not resolved.", "",
             "| method | data sets | defaults (config 0): shortfall | smallest mean shortfall: config, shortfall | "
             "its options against the defaults | each data set's own best: config (val %) |",
             "|---|---|---|---|---|---|"]
    for m in results:
        if not m["data_sets"]:
            lines.append(f"| {m['group']} | refused on every data set | | | | |")
            continue
        sets = ", ".join(m["data_sets"]) + (f" (refused: {', '.join(m['refused'])})" if m["refused"] else "")
        c = m["chosen"]
        defaults = m["defaults"]["hparams"] if m["defaults"] else None
        own = ", ".join(f"{n}: {cfg} ({100 * v:.1f})" for n, (cfg, v) in m["own_best"].items())
        lines.append(f"| {m['group']} | {sets} | {points(m['defaults'])} | "
                     f"{c['config'] if c else '-'}, {points(c)} | {changed(c['hparams'], defaults) if c else '-'} | "
                     f"{own} |")
    return "\n".join(lines) + "\n"


# A method's defaults move only on evidence from at least this many data sets.
MIN_DATA_SETS = 2


def chosen_defaults(results, names, folders=()):
    """{"data_sets": [...], "methods": {method: {"config", "mean_shortfall", "worst_shortfall",
    "options": {option: value}}}}: per method, the chosen configuration's options that differ
    from config 0. A method without a candidate (refused or failed everywhere) is left out; one
    scored on fewer than MIN_DATA_SETS data sets keeps croma's defaults ("kept_struct_defaults")."""
    methods, kept = {}, {}
    for m in results:
        c = m["chosen"]
        if c is None:
            continue
        if len(m["data_sets"]) < MIN_DATA_SETS:
            # No default is chosen on one data set alone: the method keeps croma's defaults.
            kept[m["group"].split("=", 1)[-1]] = (f"scored on {len(m['data_sets'])} data set(s) only "
                                                  f"({', '.join(m['data_sets'])}; refused: {', '.join(m['refused'])})")
            continue
        defaults = m["defaults"]["hparams"] if m["defaults"] else {}
        methods[m["group"].split("=", 1)[-1]] = {
            "config": c["config"], "mean_shortfall": round(c["mean_shortfall"], 3),
            "worst_shortfall": round(c["worst_shortfall"], 3), "data_sets": m["data_sets"],
            "options": {k: v for k, v in c["hparams"].items() if defaults.get(k) != v}}
    return {"data_sets": names, "folders": list(folders), "kept_struct_defaults": kept, "methods": methods,
            "rule": "smallest mean shortfall from the method's best meta-val accuracy over the data sets "
                    "(ties: lower index)"}


def cpp_table(chosen):
    """The entries of src/config/method_defaults.cpp's table for `chosen` (chosen_defaults())."""
    def text(v):
        return repr(v) if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)
    rows = []
    for method in sorted(chosen["methods"]):
        options = chosen["methods"][method]["options"]
        if method == "croma" or not options:
            continue  # croma's defaults are the structs' own
        body = ", ".join(f'{{"{k}", "{text(v)}"}}' for k, v in sorted(options.items()))
        rows.append(f'      {{"{method}", {{{body}}}}},')
    return "\n".join(rows) + "\n"


class _Arguments(argparse.ArgumentParser):
    def error(self, message):  # one line, like every other refusal of this script
        raise EvidenceError(f"{message} (usage: defaults_evidence.py [--json FILE] [--cpp] FOLDER [...])")


def main(args):
    parser = _Arguments(prog="defaults_evidence.py", add_help=False)
    parser.add_argument("--json", dest="json_out", metavar="FILE")
    parser.add_argument("--cpp", action="store_true")
    parser.add_argument("folders", nargs="+")
    a = parser.parse_args(args)
    loaded = [load(f) for f in a.folders]
    seeds = {seed for _, _, seed in loaded}
    if len(seeds) > 1:
        raise EvidenceError(f"{', '.join(a.folders)}: the searches used different draw_seed values {sorted(seeds)}")
    searches = [(name, selection) for name, selection, _ in loaded]
    results = evidence(searches)
    names = [n for n, _ in searches]
    chosen = chosen_defaults(results, names, a.folders)
    if a.json_out:
        tmp = a.json_out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(chosen, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, a.json_out)
    sys.stdout.write(cpp_table(chosen) if a.cpp else report(results, names))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except EvidenceError as e:
        sys.exit(f"defaults_evidence.py: {e}")
