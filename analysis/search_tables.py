"""Tables of a finished search (jobs/search.py), written by `jobs/sweep.py aggregate SPEC`.

Every number comes from the runs on disk: the final cells' eval.json (meta-test), the selection
(ROOT/selection.json, made from meta-val only) and the cells' cell-time.json. Written into ROOT:

  table2.md     k-shot accuracy per method: mean over the final seeds with the 95 % t-interval of
                the seed means; CroMA minus each baseline, paired by seed and episode (* where the
                interval excludes zero); the untrained start on the same episodes; #target (labels)
  fig7.md/.png  accuracy against label noise, when the search has a label-noise axis (every
                method selected again at each noise level)
  table4.md     few-shot retrieval, when the evaluation ran --retrieval
  selected.md   the selected configuration of every method, its meta-val accuracy, the
                configurations searched, and the compute spent
  gains.md      each method's own untrained start and the paired gain of training over it
  search.md     one line per method: how its configurations spread on meta-val (defaults,
                selected, median, worst, how many near chance): what tuning changed
  results.json  all of the above as numbers
"""
import json
import math
import os

try:
    from scipy.stats import t as student_t
except ImportError:  # pragma: no cover - scripts/setup.sh installs python3-scipy
    student_t = None

UNTRAINED = "untrained start"
REFERENCE = "croma"


def t_interval(values, level=0.95):
    """(mean, half-width of the Student-t interval, n); half-width None for n < 2."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None, n
    if student_t is None:
        raise RuntimeError("python3-scipy is needed for the t quantile (scripts/setup.sh installs it)")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(student_t.ppf(1 - (1 - level) / 2, n - 1)) * sd / math.sqrt(n), n


def episodes(result, which):
    out = []
    for seed in result[which]["seeds"]:
        out.extend(seed["task_accuracy"])
    return out


def load_final(root, cells):
    """{(group, seed): eval.json} of the finished final cells."""
    runs = {}
    for c in cells:
        path = os.path.join(root, "final", "runs", c["name"], "eval.json")
        if os.path.exists(path):
            with open(path) as f:
                runs[(c["group"], c["seed"])] = json.load(f)
    return runs


def cells_of(results_by_key, key):
    """{(shots, label_noise): result} of one eval.json."""
    return {(r["shots"], r["label_noise"]): r for r in results_by_key[key]["results"]}


def pct(mean, half):
    return f"{100 * mean:.1f}" + ("" if half is None else f" ± {100 * half:.1f}")


def compute(root, search_cells, final_cells):
    total = {"search": 0.0, "final": 0.0}
    counted = {"search": 0, "final": 0}
    for stage, cells in (("search", search_cells), ("final", final_cells)):
        for c in cells:
            path = os.path.join(root, stage, "runs", c["name"], "cell-time.json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                t = json.load(f)
            total[stage] += (t.get("train_s", 0) * t.get("ranks", 1) + t.get("eval_s", 0)) * t.get("threads", 1)
            counted[stage] += 1
    return {f"{stage}_cpu_hours": round(total[stage] / 3600, 3) for stage in total} | \
        {f"{stage}_cells_timed": counted[stage] for stage in counted}


def summarise(spec, selection, search_cells, final_cells):
    root = spec["root"]
    s = spec["search"]
    runs = load_final(root, final_cells)
    groups = {}
    for c in final_cells:
        groups.setdefault(c["group"], {"method": c["method"], "point": c["point"], "seeds": []})["seeds"].append(c["seed"])
    rows = {}
    missing = [c["name"] for c in final_cells if (c["group"], c["seed"]) not in runs]
    for group, g in groups.items():
        done = [seed for seed in g["seeds"] if (group, seed) in runs]
        if not done:
            continue
        per_cell = {}
        for seed in done:
            for key, r in cells_of(runs, (group, seed)).items():
                per_cell.setdefault(key, []).append((seed, r))
        row = {"method": g["method"], "point": g["point"], "seeds": done, "cells": {}}
        first = runs[(group, done[0])]
        row["target_samples_used"] = first.get("target_samples_used")
        row["target_labels_used"] = first.get("target_labels_used")
        row["episodes"] = first.get("episodes")
        row["ways"] = first.get("ways")
        for (k, noise), members in per_cell.items():
            trained = t_interval([r["accuracy_mean"] for _, r in members])
            initial = t_interval([r["initial_accuracy_mean"] for _, r in members])
            cell = {"shots": k, "label_noise": noise, "mean": trained[0], "ci95": trained[1],
                    "n_seeds": trained[2], "initial_mean": initial[0], "initial_ci95": initial[1],
                    "per_seed": {str(seed): r["accuracy_mean"] for seed, r in members}}
            # What meta-training added to this method's own start (its model, its initial
            # parameters), paired episode by episode inside each run, then over seeds.
            if all("gain_mean" in r for _, r in members):
                gain = t_interval([r["gain_mean"] for _, r in members])
                cell["gain_mean"], cell["gain_ci95"] = gain[0], gain[1]
            row["cells"][f"{k}|{noise}"] = cell
        if "retrieval" in first:
            row["retrieval"] = {}
            for r0 in first["retrieval"]:
                k = r0["shots"]
                vals = {d: [] for d in ("source_to_target", "target_to_source")}
                for seed in done:
                    for r in runs[(group, seed)].get("retrieval", []):
                        if r["shots"] == k:
                            for d in vals:
                                vals[d].append(r[d]["recall_at_1"])
                row["retrieval"][str(k)] = {d: dict(zip(("mean", "ci95", "n"), t_interval(v))) for d, v in vals.items() if v}
        rows[group] = row
    # CroMA minus each baseline, paired: the same seed gives the same world, the same episodes
    # (croma eval's tasks depend on the seed and the split only) and the same support labels.
    paired = {}
    for group, row in rows.items():
        ref_group = group.replace(f"method={row['method']}", f"method={REFERENCE}", 1)
        if row["method"] == REFERENCE or ref_group not in rows:
            continue
        for key in row["cells"]:
            diffs = []
            for seed in row["seeds"]:
                if seed not in rows[ref_group]["seeds"]:
                    continue
                a = cells_of(runs, (ref_group, seed)).get(tuple_key(key))
                b = cells_of(runs, (group, seed)).get(tuple_key(key))
                if a is None or b is None:
                    continue
                ea, eb = episodes(a, "trained"), episodes(b, "trained")
                if len(ea) != len(eb) or runs[(ref_group, seed)].get("eval_seed") != runs[(group, seed)].get("eval_seed"):
                    raise ValueError(f"{group} seed {seed}: its episodes do not pair with {REFERENCE}'s "
                                     f"({len(ea)} against {len(eb)} episodes, or another --eval-seed)")
                diffs.append(sum(x - y for x, y in zip(ea, eb)) / len(ea))
            if diffs:
                mean, half, n = t_interval(diffs)
                paired.setdefault(group, {})[key] = {"mean": mean, "ci95": half, "n_seeds": n,
                                                     "excludes_zero": half is not None and abs(mean) > half}
    return {"name": spec["name"], "train": spec.get("train", {}), "eval": spec.get("eval", {}), "search": s,
            "selection_rule": "best mean meta-val accuracy (over the evaluated shot counts) over the trial seeds",
            "rows": rows, "paired_vs_croma": paired, "missing": missing,
            "selected": {g: {k: v for k, v in sel.items() if k != "configurations"} for g, sel in selection.items()},
            "compute": compute(root, search_cells, final_cells)}


def tuple_key(key):
    k, noise = key.split("|")
    return int(k), float(noise)


def point_text(point):
    return ", ".join(f"{k} {v}" for k, v in point.items())


def table2(summary):
    rows = summary["rows"]
    if not rows:
        return "No final run has finished.\n"
    shots = sorted({c["shots"] for r in rows.values() for c in r["cells"].values()})
    s = summary["search"]
    points = []
    for r in rows.values():
        if r["point"] not in points:
            points.append(r["point"])
    ways = next(iter(rows.values())).get("ways")
    out = [f"# {summary['name']}: k-shot accuracy on meta-test", "",
           f"{ways}-way few-shot accuracy (%), mean over {len(s['final_seeds'])} fresh training seeds with the 95 % "
           f"t-interval of the seed means; each run's mean is over {next(iter(rows.values())).get('episodes')} "
           f"meta-test episodes per k. Each method ran its own selected configuration: {s['configurations']} "
           f"configurations (the defaults and random draws from croma's registry) x {len(s['trial_seeds'])} "
           f"trial seed(s), selected by {summary['selection_rule']}; no meta-test number was read to select. "
           f"Every method had the same budget ({json.dumps(summary['train'])}). "
           f"'CroMA −' columns: CroMA minus the row, paired by seed and episode, 95 % t-interval over seeds; "
           f"* marks an interval that excludes zero. #target (labels): meta-train target items read (of them with "
           f"labels).", ""]
    for point in points:
        noise = float(point.get("label-noise", 0.0))
        if point:
            out += [f"## {point_text(point)}", ""]
        header = ["method"] + [f"{k}-shot" for k in shots] + [f"CroMA − ({k}-shot)" for k in shots] + ["#target (labels)"]
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        untrained = None
        for group, r in rows.items():
            if r["point"] != point:
                continue
            line = [r["method"]]
            for k in shots:
                c = r["cells"].get(f"{k}|{noise}")
                line.append(pct(c["mean"], c["ci95"]) if c else "")
            for k in shots:
                d = summary["paired_vs_croma"].get(group, {}).get(f"{k}|{noise}")
                line.append("" if d is None else pct(d["mean"], d["ci95"]) + (" *" if d["excludes_zero"] else ""))
            line.append(f"{r.get('target_samples_used')} ({r.get('target_labels_used')})")
            out.append("| " + " | ".join(line) + " |")
            if r["method"] == REFERENCE:
                untrained = r
        for group, sel in summary["selected"].items():
            if "refused" in sel and sel["point"] == point:
                out.append(f"| {sel['method']} | refused: {sel['refused']} |" + " |" * (2 * len(shots)))
        if untrained:
            line = [f"{UNTRAINED} (CroMA's initial parameters, same episodes)"]
            for k in shots:
                c = untrained["cells"].get(f"{k}|{noise}")
                line.append(pct(c["initial_mean"], c["initial_ci95"]) if c else "")
            line += [""] * len(shots) + ["0 (0)"]
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    if summary["missing"]:
        out += [f"Not finished: {', '.join(summary['missing'])}", ""]
    return "\n".join(out)


def noise_figure(summary, root):
    rows = summary["rows"]
    noises = sorted({float(r["point"]["label-noise"]) for r in rows.values() if "label-noise" in r["point"]})
    if len(noises) < 2:
        return None
    shots = sorted({c["shots"] for r in rows.values() for c in r["cells"].values()})
    methods = []
    for r in rows.values():
        if r["method"] not in methods:
            methods.append(r["method"])
    out = ["# Accuracy against label noise (Fig. 7)", "",
           "Symmetric noise on the meta-train target labels a method reads and on the support labels at "
           "meta-test; every method selected again at each noise level on meta-val. Mean ± 95 % t-interval "
           "over the final seeds.", ""]
    series = {}
    for k in shots:
        out += [f"## {k}-shot", "", "| method | " + " | ".join(f"p = {p}" for p in noises) + " |",
                "|" + "---|" * (len(noises) + 1)]
        for m in methods:
            line = [m]
            for p in noises:
                cell = None
                for r in rows.values():
                    if r["method"] == m and float(r["point"].get("label-noise", 0)) == p:
                        cell = r["cells"].get(f"{k}|{p}")
                line.append(pct(cell["mean"], cell["ci95"]) if cell else "")
                series.setdefault((m, k), []).append(cell)
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "\n".join(out)
    fig, axes = plt.subplots(1, len(shots), figsize=(4.5 * len(shots), 3.6), squeeze=False)
    for ax, k in zip(axes[0], shots):
        for m in methods:
            cells = series[(m, k)]
            xs = [p for p, c in zip(noises, cells) if c]
            ys = [100 * c["mean"] for c in cells if c]
            es = [100 * (c["ci95"] or 0) for c in cells if c]
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=m)
        ax.set_title(f"{k}-shot")
        ax.set_xlabel("label noise p")
        ax.set_ylabel("accuracy (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(root, "fig7_label_noise.png"), dpi=120)
    plt.close(fig)
    return "\n".join(out)


def table4(summary):
    rows = [r for r in summary["rows"].values() if "retrieval" in r]
    if not rows:
        return None
    out = ["# Few-shot retrieval (Table 4)", "", "Recall@1 (%), mean ± 95 % t-interval over the final seeds.", "",
           "| method | k | source → target | target → source |", "|---|---|---|---|"]
    for r in rows:
        for k, v in r["retrieval"].items():
            st, ts = v.get("source_to_target"), v.get("target_to_source")
            out.append(f"| {r['method']} {point_text(r['point'])} | {k} | "
                       f"{pct(st['mean'], st['ci95']) if st else ''} | {pct(ts['mean'], ts['ci95']) if ts else ''} |")
    return "\n".join(out) + "\n"


def selected(summary, selection):
    out = ["# Selected configurations", "", f"Selection rule: {summary['selection_rule']}. "
           f"Compute spent: {json.dumps(summary['compute'])}.", ""]
    for group, sel in selection.items():
        if "refused" in sel:
            out += [f"## {group}", "", f"Refused by croma on this data: {sel['refused']}", ""]
            continue
        ranked = sorted((c for c in sel["configurations"] if c["val_accuracy"] is not None),
                        key=lambda c: -c["val_accuracy"])
        failed = [c["config"] for c in sel["configurations"] if c["val_accuracy"] is None]
        out += [f"## {group}", "", f"config {sel['config']}, meta-val {100 * sel['val_accuracy']:.1f} %: "
                f"`{json.dumps(sel['hparams'])}`", "",
                "| config | meta-val % | " + " | ".join(sel["hparams"]) + " |", "|" + "---|" * (len(sel["hparams"]) + 2)]
        for c in ranked:
            out.append(f"| {c['config']} | {100 * c['val_accuracy']:.1f} | " +
                       " | ".join(str(c["hparams"][k]) for k in sel["hparams"]) + " |")
        if failed:
            out.append(f"\nFailed (excluded): configs {failed}")
        out.append("")
    return "\n".join(out)


def key_text(key):
    k, noise = key.split("|")
    return f"{k}-shot" + ("" if float(noise) == 0 else f", noise {noise}")


def gains_table(summary):
    """Each method against its own untrained start (its own model and initial parameters)."""
    keys = sorted({key for row in summary["rows"].values() for key in row["cells"]}, key=tuple_key)
    out = [f"# {summary['name']}: what training added to each method's own start", "",
           "Accuracy (%) of each method's untrained start (its own model and initial parameters, the same "
           "meta-test episodes) and the gain of the trained model over it, paired episode by episode within "
           "each run; mean over the fresh seeds ± the 95 % t-interval of the seed means.", "",
           "| method | " + " | ".join(f"untrained {key_text(k)} | gain {key_text(k)}" for k in keys) + " |",
           "|---|" + "---|---|" * len(keys)]
    for group, row in summary["rows"].items():
        cells = []
        for key in keys:
            c = row["cells"].get(key)
            if c is None or "gain_mean" not in c:
                cells += ["", ""]
                continue
            cells += [pct(c["initial_mean"], c["initial_ci95"]), pct(c["gain_mean"], c["gain_ci95"])]
        out.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def search_spread(selection, chance, near=0.05):
    """Per method: meta-val accuracy of the defaults (config 0), of the selection, the median and
    worst configuration, and how many configurations ended within `near` of chance."""
    rows = []
    for group, sel in selection.items():
        if "refused" in sel:
            rows.append({"group": group, "refused": sel["refused"]})
            continue
        vals = sorted(c["val_accuracy"] for c in sel["configurations"] if c["val_accuracy"] is not None)
        default = next((c["val_accuracy"] for c in sel["configurations"] if c["config"] == 0), None)
        n = len(vals)
        median = (vals[(n - 1) // 2] + vals[n // 2]) / 2 if n else None
        rows.append({"group": group, "configurations": len(sel["configurations"]), "failed": len(sel["configurations"]) - n,
                     "default": default, "selected_config": sel["config"], "selected": sel["val_accuracy"],
                     "median": median, "worst": vals[0] if n else None,
                     "near_chance": sum(1 for v in vals if v < chance + near)})
    return rows


def search_table(rows, chance, near=0.05):
    def p(v):
        return "failed" if v is None else f"{100 * v:.1f}"
    out = ["# Meta-val accuracy across each method's configurations", "",
           "Mean meta-val accuracy (%) over the evaluated shot counts and trial seeds, per configuration "
           f"(config 0 = croma's defaults). 'near chance': configurations below {100 * (chance + near):.0f} % "
           f"(chance {100 * chance:.0f} %).", "",
           "| method | defaults | selected (config) | median | worst | near chance | failed |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "refused" in r:
            out.append(f"| {r['group']} | refused: {r['refused']} |  |  |  |  |  |")
            continue
        out.append(f"| {r['group']} | {p(r['default'])} | {p(r['selected'])} ({r['selected_config']}) | {p(r['median'])} | "
                   f"{p(r['worst'])} | {r['near_chance']} of {r['configurations'] - r['failed']} | {r['failed']} |")
    return "\n".join(out) + "\n"


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_tables(spec, selection, search_cells, final_cells):
    root = spec["root"]
    summary = summarise(spec, selection, search_cells, final_cells)
    written = {}
    write(os.path.join(root, "results.json"), json.dumps(summary, indent=1) + "\n")
    written["results"] = os.path.join(root, "results.json")
    write(os.path.join(root, "table2.md"), table2(summary))
    written["table2"] = os.path.join(root, "table2.md")
    write(os.path.join(root, "selected.md"), selected(summary, selection))
    written["selected"] = os.path.join(root, "selected.md")
    write(os.path.join(root, "gains.md"), gains_table(summary))
    written["gains"] = os.path.join(root, "gains.md")
    chance = 1.0 / int(spec.get("eval", {}).get("eval-ways", spec.get("train", {}).get("eval-ways", 5)))
    write(os.path.join(root, "search.md"), search_table(search_spread(selection, chance), chance))
    written["search"] = os.path.join(root, "search.md")
    fig = noise_figure(summary, root)
    if fig:
        write(os.path.join(root, "fig7.md"), fig)
        written["fig7"] = os.path.join(root, "fig7.md")
    t4 = table4(summary)
    if t4:
        write(os.path.join(root, "table4.md"), t4)
        written["table4"] = os.path.join(root, "table4.md")
    return summary, written
