"""Tables of a finished search (jobs/search.py), written by `jobs/sweep.py aggregate SPEC`.

Every number comes from the runs on disk: the final cells' eval.json (meta-test), the selection
(ROOT/selection.json, made from meta-val only) and the cells' cell-time.json. Written into ROOT:

  table2.md     k-shot accuracy per method: mean over the final seeds with the 95 % t-interval of
                the seed means; CroMA minus each baseline, paired by seed and episode, the unadjusted
                interval printed and * where the difference survives Holm's step-down correction at
                family-wise 5 % over all of the table's paired comparisons; the positive control;
                the untrained start on the same episodes; #target (labels; class-pure): the items
                read, the labels as the paper counts them and the class-pure count (runs that predate
                target_labels_class_pure get it derived from the results: class_pure_count)
  fig7.md/.png  accuracy against label noise, when the search has a label-noise axis (every
                method selected again at each noise level), with the paired CroMA − method
                differences, Holm-marked over the figure table's comparisons
  table4.md     few-shot retrieval, when the evaluation ran --retrieval
  selected.md   the selected configuration of every method, its meta-val accuracy, the
                configurations searched, and the compute spent
  gains.md      each method's own untrained start and the paired gain of training over it
  search.md     one line per method: how its configurations spread on meta-val (defaults,
                selected, median, worst, how many near chance): what tuning changed
  results.json  all of the above as numbers (the p-values and Holm marks are derived from its
                paired means, intervals and seed counts when the tables are written)

The positive control asks whether anything can be learned on the data at all: a data set passes
when some method's paired 5-shot gain over its own untrained start has a 95 % interval above zero
and a mean above 2 points; where none does, table2.md says the data set is uninformative.

`analysis/search_tables.py FOLDER...` rewrites the markdown tables of committed results folders
from their results.json and selection.json alone (`--check`: write nothing, exit 1 when stale).
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


def interval_over(pairs, level=0.95):
    """t_interval over final runs given as [(replicate, value)]. Where the search drew class
    splits (replicates "split=S,seed=N"), the runs of one split are averaged first and the interval
    is over the split means (n = the number of splits): runs on one split share its classes, so
    they are not independent draws, and the split means carry class sampling and seed noise both."""
    if not pairs or not str(pairs[0][0]).startswith("split="):
        return t_interval([v for _, v in pairs], level)
    by_split = {}
    for rep, value in pairs:
        by_split.setdefault(rep.split(",", 1)[0], []).append(value)
    return t_interval([sum(v) / len(v) for v in by_split.values()], level)


def splits_note(search):
    """A sentence for every table's intro where the final stage drew class splits, else ""."""
    splits = search.get("class_split_seeds")
    if not splits:
        return ""
    return (f" Class splits resampled: each selected configuration ran {len(search['final_seeds'])} fresh seeds on "
            f"each of {len(splits)} class splits (class split seeds {', '.join(map(str, splits))}; 0 is the data's "
            "own split); a split's runs are averaged and every interval is the 95 % t-interval of the "
            f"{len(splits)} split means, so it includes class sampling; CroMA and a row pair by split, seed and "
            "episode.")


# ---- multiplicity: Holm's step-down correction within one table ----------------------------

HOLM_ALPHA = 0.05


def paired_p_value(mean, half, n, level=0.95):
    """Two-sided p-value of the paired t-test over seeds whose `level` interval is mean ± half
    (Student t with n - 1 df, as t_interval computes it); None where no interval exists."""
    if half is None or n is None or n < 2:
        return None
    if student_t is None:
        raise RuntimeError("python3-scipy is needed for the t distribution (scripts/setup.sh installs it)")
    se = half / float(student_t.ppf(1 - (1 - level) / 2, n - 1))
    if se == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2 * student_t.sf(abs(mean) / se, n - 1))


def holm_adjusted(pvalues):
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest p is multiplied by
    (m - i + 1), capped at 1, and made non-decreasing along the order. A hypothesis is rejected at
    family-wise level alpha exactly when its adjusted p-value is <= alpha."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [None] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def holm_family(paired, comparisons, alpha=HOLM_ALPHA):
    """{(group, key): {"p", "p_holm", "survives"}} over one table's paired comparisons (a list of
    (group, key) of summary["paired_vs_croma"]); comparisons without an interval are left out."""
    tested = []
    for group, key in comparisons:
        d = paired.get(group, {}).get(key)
        p = None if d is None else paired_p_value(d["mean"], d["ci95"], d["n_seeds"])
        if p is not None:
            tested.append(((group, key), p))
    adjusted = holm_adjusted([p for _, p in tested])
    return {ck: {"p": p, "p_holm": a, "survives": a <= alpha} for (ck, p), a in zip(tested, adjusted)}


def holm_rule(m, alpha=HOLM_ALPHA):
    return (f"Marks: * marks a CroMA − method difference that survives Holm's step-down correction at "
            f"family-wise {100 * alpha:.0f} % over all {m} paired comparisons of this table (two-sided paired "
            f"t-test over seeds, n − 1 df); the intervals printed are the unadjusted 95 % t-intervals, so one "
            f"may exclude zero without a *.")


def paired_text(d, holm):
    """'mean ± half' of one paired comparison, with * where it survives Holm."""
    if d is None:
        return ""
    return pct(d["mean"], d["ci95"]) + (" *" if holm and holm["survives"] else "")


# ---- positive control: can anything be learned on these data? ------------------------------

CONTROL_SHOTS = 5
CONTROL_MIN_GAIN = 0.02  # 2 points


def gain_passes(cell, min_gain=CONTROL_MIN_GAIN):
    """A method's paired gain over its own untrained start passes the control when its 95 %
    interval excludes zero upwards and its mean exceeds min_gain."""
    if cell is None or cell.get("gain_mean") is None or cell.get("gain_ci95") is None:
        return False
    return cell["gain_mean"] - cell["gain_ci95"] > 0 and cell["gain_mean"] > min_gain


def positive_control(summary, shots=CONTROL_SHOTS, min_gain=CONTROL_MIN_GAIN):
    """The data set's positive control, read at `shots` shots and without label noise: it passes
    when some method's paired gain over its own untrained start passes gain_passes; the oracle's
    own gain is reported beside it (claims about the oracle need it to pass too)."""
    key = f"{shots}|0.0"
    methods, oracle = [], None
    for group, row in summary["rows"].items():
        if float(row["point"].get("label-noise", 0.0)) != 0.0:
            continue
        cell = row["cells"].get(key)
        if cell is None or cell.get("gain_mean") is None:
            continue
        entry = {"group": group, "method": row["method"], "gain": cell["gain_mean"],
                 "ci95": cell.get("gain_ci95"), "passes": gain_passes(cell, min_gain)}
        methods.append(entry)
        if row["method"] == "oracle":
            oracle = entry
    return {"shots": shots, "min_gain": min_gain, "computable": bool(methods),
            "passes": any(m["passes"] for m in methods), "methods": methods, "oracle": oracle}


def signed_pct(mean, half):
    text = pct(mean, half)
    return text if text.startswith("-") else "+" + text


def control_rule(shots=CONTROL_SHOTS, min_gain=CONTROL_MIN_GAIN):
    return (f"a method passes when its paired {shots}-shot gain over its own untrained start (no label noise) "
            f"has a 95 % t-interval that excludes zero and a mean above {100 * min_gain:.0f} points; the data "
            f"set passes when some method does")


def control_text(control):
    """One sentence: the positive control's result on these data."""
    if not control["computable"]:
        return (f"Positive control: not computable (no {control['shots']}-shot gains over the untrained "
                f"start in these results).")
    passing = [m for m in control["methods"] if m["passes"]]
    oracle = control["oracle"]
    oracle_text = "" if oracle is None else (
        f" The oracle's own gain: {signed_pct(oracle['gain'], oracle['ci95'])} points, "
        f"{'passes' if oracle['passes'] else 'fails: claims about the oracle are uninformative here'}.")
    if passing:
        return (f"Positive control ({control_rule(control['shots'], control['min_gain'])}): **passes**; "
                f"{len(passing)} of {len(control['methods'])} methods pass: " +
                ", ".join(f"{m['method']} {signed_pct(m['gain'], m['ci95'])}" for m in passing) + "." + oracle_text)
    best = max(control["methods"], key=lambda m: m["gain"])
    return (f"Positive control ({control_rule(control['shots'], control['min_gain'])}): **fails: this data set is "
            f"uninformative**, no method learns measurably over its own start (largest gain: {best['method']} "
            f"{signed_pct(best['gain'], best['ci95'])} points), so the comparisons below rank nothing." + oracle_text)


def episodes(result, which):
    out = []
    for seed in result[which]["seeds"]:
        out.extend(seed["task_accuracy"])
    return out


def replicate(cell):
    """What a final run replicates: its training seed, or "split=S,seed=N" where the search draws
    class splits too (jobs/search.py "class_split_seeds"). Runs of two methods with the same
    replicate saw the same classes, items and episodes, so they pair."""
    return cell.get("replicate", cell["seed"])


def load_final(root, cells):
    """{(group, replicate): eval.json} of the finished final cells."""
    runs = {}
    for c in cells:
        path = os.path.join(root, "final", "runs", c["name"], "eval.json")
        if os.path.exists(path):
            with open(path) as f:
                runs[(c["group"], replicate(c))] = json.load(f)
    return runs


def cells_of(results_by_key, key):
    """{(shots, label_noise): result} of one eval.json."""
    return {(r["shots"], r["label_noise"]): r for r in results_by_key[key]["results"]}


def pct(mean, half):
    return f"{100 * mean:.1f}" + ("" if half is None else f" ± {100 * half:.1f}")


def compute(root, search_cells, final_cells):
    """CPU-hours as the cells' cell-time.json recorded them (train × ranks + eval, × threads), per
    stage and per method (search + final): what each method's selection cost."""
    total = {"search": 0.0, "final": 0.0}
    counted = {"search": 0, "final": 0}
    by_method = {}
    for stage, cells in (("search", search_cells), ("final", final_cells)):
        for c in cells:
            path = os.path.join(root, c.get("stage", stage), "runs", c["name"], "cell-time.json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                t = json.load(f)
            seconds = (t.get("train_s", 0) * t.get("ranks", 1) + t.get("eval_s", 0)) * t.get("threads", 1)
            total[stage] += seconds
            counted[stage] += 1
            by_method[c["method"]] = by_method.get(c["method"], 0.0) + seconds
    out = {f"{stage}_cpu_hours": round(total[stage] / 3600, 3) for stage in total} | \
        {f"{stage}_cells_timed": counted[stage] for stage in counted}
    if by_method:
        out["cpu_hours_by_method"] = {m: round(v / 3600, 3) for m, v in by_method.items()}
    return out


def summarise(spec, selection, search_cells, final_cells, runs=None):
    """results.json of a search: from `runs` ({(group, replicate): eval.json}, read once by the caller,
    or from a committed episodes.json.gz), else from the final cells' eval.json under ROOT. Compute
    is what the cells' cell-time.json under ROOT record (nothing, away from the runs)."""
    root = spec["root"]
    s = spec["search"]
    if runs is None:
        runs = load_final(root, final_cells)
    groups = {}
    for c in final_cells:
        groups.setdefault(c["group"], {"method": c["method"], "point": c["point"], "seeds": []})["seeds"].append(replicate(c))
    rows = {}
    missing = [c["name"] for c in final_cells if (c["group"], replicate(c)) not in runs]
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
        if "target_labels_class_pure" in first:  # runs before the count lack it: see class_pure_count
            row["target_labels_class_pure"] = first["target_labels_class_pure"]
        row["episodes"] = first.get("episodes")
        row["ways"] = first.get("ways")
        for (k, noise), members in per_cell.items():
            trained = interval_over([(sd, r["accuracy_mean"]) for sd, r in members])
            initial = interval_over([(sd, r["initial_accuracy_mean"]) for sd, r in members])
            cell = {"shots": k, "label_noise": noise, "mean": trained[0], "ci95": trained[1],
                    "n_seeds": trained[2], "initial_mean": initial[0], "initial_ci95": initial[1],
                    "per_seed": {str(seed): r["accuracy_mean"] for seed, r in members}}
            # What meta-training added to this method's own start (its model, its initial
            # parameters), paired episode by episode inside each run, then over seeds.
            if all("gain_mean" in r for _, r in members):
                gain = interval_over([(sd, r["gain_mean"]) for sd, r in members])
                cell["gain_mean"], cell["gain_ci95"] = gain[0], gain[1]
            row["cells"][f"{k}|{noise}"] = cell
        heads = frozen_heads(runs, group, done)
        if heads:
            row["heads"] = heads
        if "retrieval" in first:
            row["retrieval"] = {}
            for r0 in first["retrieval"]:
                k = r0["shots"]
                vals = {d: [] for d in ("source_to_target", "target_to_source")}
                for seed in done:
                    for r in runs[(group, seed)].get("retrieval", []):
                        if r["shots"] == k:
                            for d in vals:
                                vals[d].append((seed, r[d]["recall_at_1"]))
                row["retrieval"][str(k)] = {d: dict(zip(("mean", "ci95", "n"), interval_over(v))) for d, v in vals.items() if v}
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
                diffs.append((seed, sum(x - y for x, y in zip(ea, eb)) / len(ea)))
            if diffs:
                mean, half, n = interval_over(diffs)
                paired.setdefault(group, {})[key] = {"mean": mean, "ci95": half, "n_seeds": n,
                                                     "excludes_zero": half is not None and abs(mean) > half}
    summary = {"name": spec["name"], "train": spec.get("train", {}), "eval": spec.get("eval", {}), "search": s,
               "selection_rule": "best mean meta-val accuracy (over the evaluated shot counts) over the trial seeds",
               "rows": rows, "paired_vs_croma": paired, "missing": missing,
               "selected": {g: {k: v for k, v in sel.items() if k != "configurations"} for g, sel in selection.items()},
               "compute": compute(root, search_cells, final_cells)}
    raw = raw_heads(runs)
    if raw:
        summary["raw_heads"] = raw
    return summary


# ---- the sanity rows: frozen heads (croma eval --head) -------------------------------------

FROZEN_HEADS = ("prototype", "logistic")


def frozen_heads(runs, group, seeds):
    """{"head|k|noise": {"trained": cell, "initial": cell, "gain": cell}} of one row's runs, each
    cell the mean over seeds with the 95 % t-interval of the seed means; gain is trained minus
    the untrained start's embedding, paired by episode within each run. Empty where the runs
    evaluated no frozen head."""
    per_key = {}
    for seed in seeds:
        for cell in runs[(group, seed)].get("frozen_heads", []):
            key = f"{cell['head']}|{cell['shots']}|{float(cell['label_noise'])}"
            entry = per_key.setdefault(key, {"trained": [], "initial": [], "gain": []})
            if "trained" in cell:
                entry["trained"].append((seed, cell["trained"]["accuracy_mean"]))
            if "initial" in cell:
                entry["initial"].append((seed, cell["initial"]["accuracy_mean"]))
                if "trained_minus_this_mean" in cell["initial"]:
                    entry["gain"].append((seed, cell["initial"]["trained_minus_this_mean"]))
    out = {}
    for key, entry in per_key.items():
        out[key] = {}
        for name, values in entry.items():
            if len(values) == len(seeds):
                mean, half, n = interval_over(values)
                out[key][name] = {"mean": mean, "ci95": half, "n_seeds": n}
    return out


def raw_heads(runs):
    """{"head|k|noise": cell} of the frozen heads on the raw standardised target features: they
    do not depend on the method, only on the episodes (the seed), so each seed counts once; runs
    of one seed that both computed it must agree."""
    per_key = {}
    for (group, seed), ev in runs.items():
        for cell in ev.get("frozen_heads", []):
            if "raw" not in cell:
                continue
            key = f"{cell['head']}|{cell['shots']}|{float(cell['label_noise'])}"
            value = cell["raw"]["accuracy_mean"]
            seen = per_key.setdefault(key, {})
            if seed in seen and abs(seen[seed] - value) > 1e-12:
                raise ValueError(f"raw-feature {key} of seed {seed} differs between runs ({seen[seed]} and {value})")
            seen[seed] = value
    out = {}
    for key, by_seed in per_key.items():
        mean, half, n = interval_over([(sd, by_seed[sd]) for sd in sorted(by_seed)])
        out[key] = {"mean": mean, "ci95": half, "n_seeds": n, "per_seed": {str(sd): by_seed[sd] for sd in sorted(by_seed)}}
    return out


def heads_table(summary):
    """The sanity rows: each method's fine-tuned accuracy (the paper's protocol) beside a nearest-
    centroid and a logistic head on its frozen embedding, trained and untrained, and both heads
    on the raw features. None where no run evaluated a frozen head."""
    rows = summary["rows"]
    if not any(r.get("heads") for r in rows.values()) and not summary.get("raw_heads"):
        return None
    keys = sorted({tuple_key(k.split("|", 1)[1]) for r in rows.values() for k in r.get("heads", {})}
                  | {tuple_key(k.split("|", 1)[1]) for k in summary.get("raw_heads", {})})
    cols = [f"{k}|{noise}" for k, noise in keys]
    out = [f"# {summary['name']}: frozen heads beside fine-tuning (sanity rows)", "",
           f"{next(iter(rows.values())).get('ways')}-way accuracy (%) on the same meta-test episodes as Table 2, mean "
           "over the fresh seeds ± the 95 % t-interval of the seed means. finetune: the paper's protocol "
           "(fine-tune e_t and φ on the support set); prototype: nearest support-class mean, squared Euclidean "
           "distance, on the frozen embedding; logistic: multinomial logistic regression with C = 1 fitted on the "
           "support set, on the frozen embedding. 'trained' reads the method's meta-trained embedding, 'untrained' "
           "its own initial parameters' embedding, 'gain' is trained minus untrained paired by episode within each "
           "run. The raw rows read the standardised target features with no network (the same for every method: "
           "one value per seed)." + splits_note(summary["search"]), "",
           "| method | head | " + " | ".join(f"{key_text(c)} trained | untrained | gain" for c in cols) + " |",
           "|---|---|" + "---|---|---|" * len(cols)]
    for group, r in rows.items():
        line = [group, "finetune"]
        for c in cols:
            cell = r["cells"].get(c)
            if cell is None:
                line += ["", "", ""]
                continue
            line += [pct(cell["mean"], cell["ci95"]), pct(cell["initial_mean"], cell["initial_ci95"]),
                     signed_pct(cell["gain_mean"], cell["gain_ci95"]) if cell.get("gain_mean") is not None else ""]
        out.append("| " + " | ".join(line) + " |")
        for head in FROZEN_HEADS:
            line = [group, head]
            for c in cols:
                cell = r.get("heads", {}).get(f"{head}|{c}", {})
                line += [pct(cell[n]["mean"], cell[n]["ci95"]) if n in cell else "" for n in ("trained", "initial")]
                line.append(signed_pct(cell["gain"]["mean"], cell["gain"]["ci95"]) if "gain" in cell else "")
            if any(line[2:]):
                out.append("| " + " | ".join(line) + " |")
    for head in FROZEN_HEADS:
        line = ["raw standardised features (no network)", head]
        for c in cols:
            cell = summary.get("raw_heads", {}).get(f"{head}|{c}")
            line += [pct(cell["mean"], cell["ci95"]) if cell else "", "", ""]
        if any(line[2:]):
            out.append("| " + " | ".join(line) + " |")
    return "\n".join(out) + "\n"


# ---- the episodes behind the tables ----------------------------------------------------------

EPISODES_FILE = "episodes.json.gz"
EPISODES_FORMAT = "croma search final runs 1"
# Where a run was evaluated: not evidence, and different on every machine.
MACHINE_KEYS = ("run_dir", "checkpoint", "output")


def episodes_document(final_cells, runs):
    """What episodes.json.gz holds: every final cell (finished or not) and each finished run's
    eval.json, per-episode accuracies included, less its machine paths."""
    keys = ("name", "group", "method", "point", "seed", "split", "replicate")
    cells = [{k: c[k] for k in keys if k in c} for c in final_cells]
    done = [{**{k: c[k] for k in ("group", "seed", "replicate") if k in c},
             "eval": {k: v for k, v in runs[(c["group"], replicate(c))].items() if k not in MACHINE_KEYS}}
            for c in final_cells if (c["group"], replicate(c)) in runs]
    return {"format": EPISODES_FORMAT, "cells": cells, "runs": done}


def write_episodes(path, document):
    """Gzip without a time stamp or a file name in its header: the same runs, the same bytes."""
    import gzip
    data = json.dumps(document, separators=(",", ":")).encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw_file:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw_file, mtime=0, compresslevel=9) as f:
            f.write(data)
    os.replace(tmp, path)


def read_episodes(path):
    """(final cells, {(group, replicate): eval.json}) of an episodes.json.gz."""
    import gzip
    with gzip.open(path, "rt") as f:
        document = json.load(f)
    if document.get("format") != EPISODES_FORMAT:
        raise ValueError(f"{path}: not a croma episodes file (format {document.get('format')!r})")
    runs = {(r["group"], replicate(r)): r["eval"] for r in document["runs"]}
    return document["cells"], runs


def tuple_key(key):
    k, noise = key.split("|")
    return int(k), float(noise)


def point_text(point):
    return ", ".join(f"{k} {v}" for k, v in point.items())


# ---- label accounting: the paper's count and the class-pure count --------------------------

# The methods with an alignment task (croma's aligns(), meta/method.cpp): with --pairs weak they
# read the weak cluster id of every target item they align.
ALIGNING_METHODS = ("croma", "align-classify", "align-meta-classify", "shared-align")
DEFAULT_PAIRS = "strong"  # croma train's --pairs default
# The built-in world's default weak clusters are its sub-concepts (concept c's items fall in
# clusters c * clusters-per-concept + r), so each lies inside one class.
DEFAULT_CLASSES_PER_CLUSTER = 1
# What croma train says when it refuses unsup-meta-weak because every weak cluster of the
# meta-train target items lies inside one class.
PURE_REFUSAL = "lies inside one class"


def run_options(summary, group):
    """The options a group's runs trained with: the search's train options, its axes point and
    the configuration selected for it."""
    row = summary["rows"].get(group) or summary.get("selected", {}).get(group, {})
    hparams = summary.get("selected", {}).get(group, {}).get("hparams", {})
    return {**summary.get("train", {}), **row.get("point", {}), **hparams}


def weak_clusters_class_pure(summary, options):
    """Whether every weak cluster of the meta-train target items lies inside one class, on the
    data these options select, as far as the results tell: (True | False | None, the evidence)."""
    if "data" not in options:
        k = int(options.get("classes-per-cluster", DEFAULT_CLASSES_PER_CLUSTER))
        if k == 1:
            return True, "the built-in world's weak clusters are its sub-concepts, --classes-per-cluster 1"
        return False, f"the built-in world's weak clusters group {k} classes (--classes-per-cluster {k})"
    for group, sel in summary.get("selected", {}).items():
        if (sel.get("method") == "unsup-meta-weak" and PURE_REFUSAL in sel.get("refused", "")
                and run_options(summary, group).get("data") == options["data"]):
            return True, "croma refused unsup-meta-weak on these data for that reason"
    return None, "these results do not record whether every weak cluster lies inside one class"


def class_pure_count(summary, group):
    """(count, how): the row's target_labels_class_pure as its runs recorded it (how None), or,
    for runs that predate the count, derived from what the results record. Derived, it is the
    labels read (how "labels") unless the method aligns with weak pairs; then every item read
    where every weak cluster lies inside one class (how: the evidence for that), else None."""
    row = summary["rows"][group]
    if row.get("target_labels_class_pure") is not None:
        return row["target_labels_class_pure"], None
    options = run_options(summary, group)
    if row["method"] not in ALIGNING_METHODS or options.get("pairs", DEFAULT_PAIRS) != "weak":
        return row.get("target_labels_used"), "labels"
    pure, why = weak_clusters_class_pure(summary, options)
    return (row.get("target_samples_used") if pure else None), why


def target_cell(samples, labels, class_pure):
    """Table 2's last column: 'items read (labels as the paper counts them; class-pure)'."""
    return f"{samples} ({labels}; {'?' if class_pure is None else class_pure})"


def label_counts_note(summary):
    """The footnote of Table 2's last column, saying how its class-pure counts were derived where
    the runs predate them."""
    text = ("#target (labels; class-pure): meta-train target items read; in brackets the labels read as the paper "
            "counts them (a weak pair reads none), then the class-pure count: the items whose class training "
            "could read, i.e. the labelled ones plus, for a method that aligns with weak pairs (--pairs weak), "
            "every item it saw whose weak cluster lies inside one class, since that cluster id is the class label.")
    derived = {group: class_pure_count(summary, group) for group in summary["rows"]}
    derived = {g: d for g, d in derived.items() if d[1] is not None}
    if not derived:
        return text
    weak = {g: d for g, d in derived.items() if d[1] != "labels"}
    text += (" These runs predate the class-pure count, so it is derived here from what the results record "
             "(the pairs of each method's training options and selected configuration, and the data's weak clusters): ")
    if not weak:
        return text + ("no method here aligns with weak pairs (the aligning methods' pairs are strong: an "
                       "item's only partner is its own pair), so each class-pure count is the labels read.")
    methods = []
    for g in weak:
        if summary["rows"][g]["method"] not in methods:
            methods.append(summary["rows"][g]["method"])
    known = sorted({why for count, why in weak.values() if count is not None})
    unknown = sorted({why for count, why in weak.values() if count is None})
    named = ", ".join(methods[:-1]) + (" and " if len(methods) > 1 else "") + methods[-1]
    if known:
        one = len(methods) == 1
        text += (f"{named} {'aligns' if one else 'align'} with weak pairs, and every weak cluster of the meta-train "
                 f"target items lies inside one class ({'; '.join(known)}), so {'it' if one else 'each of them'} "
                 f"read as many class labels as target items; every other method's class-pure count is its "
                 f"labels read.")
    if unknown:
        text += (f"{' ' if known else ''}'?': the count of a method that aligns with weak pairs cannot be derived "
                 f"where not every weak cluster is known to lie inside one class ({'; '.join(unknown)}).")
    return text


def table2_comparisons(summary):
    """The (group, key) of every paired comparison table2 shows: each row's shot counts at its own
    label-noise level."""
    shots = sorted({c["shots"] for r in summary["rows"].values() for c in r["cells"].values()})
    out = []
    for group, r in summary["rows"].items():
        noise = float(r["point"].get("label-noise", 0.0))
        for k in shots:
            if f"{k}|{noise}" in summary["paired_vs_croma"].get(group, {}):
                out.append((group, f"{k}|{noise}"))
    return out


def search_budget_text(s):
    """What each method's search ran: random search or the rungs of successive halving."""
    drawn = f"{s['configurations']} configurations (the defaults and random draws from croma's registry)"
    if "halving" not in s:
        return f"{drawn} x {len(s['trial_seeds'])} trial seed(s)"
    h = s["halving"]
    rungs = "; ".join(f"{len(r['seeds'])} seed(s)" + (f", {json.dumps(r['val_eval'])}" if r.get("val_eval") else "")
                      + (f", train {json.dumps(r['train'])}" if r.get("train") else "") for r in h["rungs"])
    return (f"{drawn} by successive halving over {len(h['rungs'])} rungs, each keeping the best 1/{h['keep']} "
            f"({rungs}), in the last rung's scores")


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
    holm = holm_family(summary["paired_vs_croma"], table2_comparisons(summary))
    control = positive_control(summary)
    out = [f"# {summary['name']}: k-shot accuracy on meta-test", "", holm_rule(len(holm)), "",
           f"{ways}-way few-shot accuracy (%), mean over {len(s['final_seeds'])} fresh training seeds with the 95 % "
           f"t-interval of the seed means; each run's mean is over {next(iter(rows.values())).get('episodes')} "
           f"meta-test episodes per k. Each method ran its own selected configuration: {search_budget_text(s)}, "
           f"selected by {summary['selection_rule']}; no meta-test number was read to select. "
           f"Every method had the same budget ({json.dumps(summary['train'])}). "
           f"'CroMA −' columns: CroMA minus the row, paired by seed and episode, 95 % t-interval over seeds; "
           f"* as stated above." + splits_note(s) + " " + label_counts_note(summary), "",
           control_text(control), ""]
    for point in points:
        noise = float(point.get("label-noise", 0.0))
        if point:
            out += [f"## {point_text(point)}", ""]
        header = ["method"] + [f"{k}-shot" for k in shots] + [f"CroMA − ({k}-shot)" for k in shots] + ["#target (labels; class-pure)"]
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
                line.append(paired_text(d, holm.get((group, f"{k}|{noise}"))))
            line.append(target_cell(r.get("target_samples_used"), r.get("target_labels_used"),
                                    class_pure_count(summary, group)[0]))
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
            line += [""] * len(shots) + [target_cell(0, 0, 0)]
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    if summary["missing"]:
        out += [f"Not finished: {', '.join(summary['missing'])}", ""]
    return "\n".join(out)


def noise_figure(summary, root, draw=True):
    rows = summary["rows"]
    noises = sorted({float(r["point"]["label-noise"]) for r in rows.values() if "label-noise" in r["point"]})
    if len(noises) < 2:
        return None
    shots = sorted({c["shots"] for r in rows.values() for c in r["cells"].values()})
    methods = []
    for r in rows.values():
        if r["method"] not in methods:
            methods.append(r["method"])
    def group_of(m, p):
        for group, r in rows.items():
            if r["method"] == m and float(r["point"].get("label-noise", 0)) == p:
                return group
        return None

    paired = summary["paired_vs_croma"]
    comparisons = [(group_of(m, p), f"{k}|{p}") for k in shots for m in methods for p in noises
                   if f"{k}|{p}" in paired.get(group_of(m, p), {})]
    holm = holm_family(paired, comparisons)
    out = ["# Accuracy against label noise (Fig. 7)", "", holm_rule(len(holm)), "",
           "Symmetric noise on the meta-train target labels a method reads and on the support labels at "
           "meta-test; every method selected again at each noise level on meta-val. Mean ± 95 % t-interval "
           "over the final seeds; in brackets CroMA minus the row, paired by seed and episode, 95 % t-interval "
           "over seeds." + splits_note(summary["search"]), ""]
    series = {}
    for k in shots:
        out += [f"## {k}-shot", "", "| method | " + " | ".join(f"p = {p}" for p in noises) + " |",
                "|" + "---|" * (len(noises) + 1)]
        for m in methods:
            line = [m]
            for p in noises:
                group = group_of(m, p)
                cell = rows[group]["cells"].get(f"{k}|{p}") if group else None
                text = pct(cell["mean"], cell["ci95"]) if cell else ""
                d = paired.get(group, {}).get(f"{k}|{p}")
                if d is not None:
                    text += f" ({paired_text(d, holm.get((group, f'{k}|{p}')))})"
                line.append(text)
                series.setdefault((m, k), []).append(cell)
            out.append("| " + " | ".join(line) + " |")
        out.append("")
    if not draw:
        return "\n".join(out)
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
    out = ["# Few-shot retrieval (Table 4)", "", "Recall@1 (%), mean ± 95 % t-interval over the final seeds." + splits_note(summary["search"]), "",
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
        # Successive halving: the configurations that reached a higher rung first (their scores
        # are over more seeds and episodes), each with its score at every rung it ran.
        halving = "rung" in sel
        ranked = sorted((c for c in sel["configurations"] if c["val_accuracy"] is not None),
                        key=lambda c: (-c.get("rung", 0), -c["val_accuracy"]))
        failed = [c["config"] for c in sel["configurations"] if c["val_accuracy"] is None]
        rung_head = "rung reached | meta-val % per rung | " if halving else ""
        out += [f"## {group}", "", f"config {sel['config']}, meta-val {100 * sel['val_accuracy']:.1f} %: "
                f"`{json.dumps(sel['hparams'])}`", "",
                f"| config | meta-val % | {rung_head}" + " | ".join(sel["hparams"]) + " |",
                "|" + "---|" * (len(sel["hparams"]) + 2 + 2 * halving)]
        for c in ranked:
            rung_cells = ""
            if halving:
                per_rung = " / ".join("–" if v is None else f"{100 * v:.1f}" for v in c["rung_val_accuracy"])
                rung_cells = f"{c['rung']} | {per_rung} | "
            out.append(f"| {c['config']} | {100 * c['val_accuracy']:.1f} | {rung_cells}" +
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
           "each run; mean over the fresh seeds ± the 95 % t-interval of the seed means." + splits_note(summary["search"]), "",
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
        # Successive halving: the spread of rung 0, where every configuration ran alike.
        def first(c):
            return c["rung_val_accuracy"][0] if "rung_val_accuracy" in c else c["val_accuracy"]
        vals = sorted(first(c) for c in sel["configurations"] if first(c) is not None)
        default = next((first(c) for c in sel["configurations"] if c["config"] == 0), None)
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


def chance_of(summary):
    ways = summary.get("eval", {}).get("eval-ways", summary.get("train", {}).get("eval-ways", 5))
    return 1.0 / int(ways)


def markdown_tables(summary, selection, root, draw=True):
    """{file name: text} of every markdown table the summary and the selection give (fig7.md and
    table4.md only where the search has a noise axis or retrieval results)."""
    chance = chance_of(summary)
    tables = {"table2.md": table2(summary), "selected.md": selected(summary, selection),
              "gains.md": gains_table(summary), "search.md": search_table(search_spread(selection, chance), chance)}
    fig = noise_figure(summary, root, draw)
    if fig:
        tables["fig7.md"] = fig
    t4 = table4(summary)
    if t4:
        tables["table4.md"] = t4
    heads = heads_table(summary)
    if heads:
        tables["heads.md"] = heads
    return tables


def write_tables(spec, selection, search_cells, final_cells):
    root = spec["root"]
    runs = load_final(root, final_cells)  # read once: for the tables and for episodes.json.gz
    summary = summarise(spec, selection, search_cells, final_cells, runs=runs)
    write(os.path.join(root, "results.json"), json.dumps(summary, indent=1) + "\n")
    write_episodes(os.path.join(root, EPISODES_FILE), episodes_document(final_cells, runs))
    written = {"results": os.path.join(root, "results.json"), "episodes": os.path.join(root, EPISODES_FILE)}
    for name, text in markdown_tables(summary, selection, root).items():
        write(os.path.join(root, name), text)
        written[name[:-3]] = os.path.join(root, name)
    return summary, written


def retabulate(folder, check=False):
    """The markdown tables of a search's results folder, from its committed results.json and
    selection.json alone (no run directory needed; the figure is not redrawn). Returns the names
    of the files that differ from what is on disk; writes them unless check."""
    paths = {name: os.path.join(folder, name) for name in ("results.json", "selection.json")}
    for path in paths.values():
        if not os.path.exists(path):
            raise FileNotFoundError(f"{folder}: not a search's results folder (no {os.path.basename(path)})")
    with open(paths["results.json"]) as f:
        summary = json.load(f)
    with open(paths["selection.json"]) as f:
        selection = json.load(f)
    stale = []
    for name, text in markdown_tables(summary, selection, folder, draw=False).items():
        path = os.path.join(folder, name)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(name)
            if not check:
                write(path, text)
    return stale


def main(argv=None):
    import argparse
    import sys
    parser = argparse.ArgumentParser(
        description="Rewrite the markdown tables of finished searches' results folders from their "
                    "results.json and selection.json (what `jobs/sweep.py aggregate` writes, without the runs).")
    parser.add_argument("folders", nargs="+", help="results folders, e.g. docs/results/search-builtin")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a table is stale")
    args = parser.parse_args(argv)
    stale_any = False
    for folder in args.folders:
        try:
            stale = retabulate(folder, check=args.check)
        except (OSError, ValueError, KeyError) as e:
            print(f"search_tables.py: error: {e}", file=sys.stderr)
            return 2
        with open(os.path.join(folder, "results.json")) as f:
            control = positive_control(json.load(f))
        print(f"{folder}: {control_text(control)}")
        if stale:
            stale_any = True
            print(f"{folder}: {'stale' if args.check else 'rewrote'}: {', '.join(stale)}",
                  file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and stale_any else 0


if __name__ == "__main__":
    raise SystemExit(main())
