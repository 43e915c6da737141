#!/usr/bin/python3
"""Turn croma run directories into the paper's tables and figures.

  analysis/croma_results.py table2    RUN_DIR...   Table 2: few-shot accuracy, methods x k
  analysis/croma_results.py table4    RUN_DIR...   Table 4: few-shot cross-modal retrieval
  analysis/croma_results.py noise-fig RUN_DIR... --png OUT.png   Fig. 7: accuracy vs label noise
  analysis/croma_results.py benchmark OUT_DIR  a benchmark's table (analysis/benchmark_comparison.sh):
      every method beside its own untrained start, train time, and the methods refused there

A run directory is one `croma train` + `croma eval` (config.json, summary.json, eval.json).
Several runs of one method (different training seeds) are aggregated as mean +- std over
runs of each run's mean accuracy; a method with a single run shows the std over its
evaluation seeds instead, and the table says which. Markdown goes to stdout (or --out).
Only the standard library and, for figures, matplotlib.

The paper's "Unimodal pre-training" row fine-tunes a pre-trained model with no meta-training
and reads no target item. croma's input features are the pre-trained part, so that row is the
untrained start: fine-tuning from the seeded initial parameters, evaluated by `croma eval` on
the very tasks of every run. Tables take it from the CroMA runs (same architecture, same
seeds, same tasks); `target-autoencoder` (an autoencoder on meta-train target items) is a
different method and has its own row.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

# The pseudo-method of the untrained start (see above).
PRETRAIN = "unimodal-pretraining"
PRETRAIN_SOURCE = "croma"

METHOD_ORDER = [PRETRAIN, "target-autoencoder", "unsup-meta-recon", "unsup-meta-weak", "shared", "shared-align",
                "shared-confusion", "shared-target-labels", "align-classify", "align-meta-classify",
                "croma", "oracle"]
METHOD_LABEL = {
    PRETRAIN: "Unimodal pre-training (untrained start)",
    "target-autoencoder": "Target autoencoder (no meta-learning)",
    "unsup-meta-recon": "Unsup. meta-learning (reconstruct)",
    "unsup-meta-weak": "Unsup. meta-learning (weak labels)",
    "shared": "Domain adaptation: Shared",
    "shared-align": "Shared + Align",
    "shared-confusion": "Shared + Domain confusion",
    "shared-target-labels": "Shared + Target labels",
    "align-classify": "Cross-modal Align + Classify",
    "align-meta-classify": "Align + Meta Classify",
    "croma": "CroMA",
    "oracle": "Oracle (within target modality)",
}


class RunError(Exception):
    pass


def load_run(path):
    def read(name):
        full = os.path.join(path, name)
        try:
            with open(full) as f:
                return json.load(f)
        except FileNotFoundError:
            raise RunError(f"{path}: no {name} (run `croma eval --run-dir {path}` first)")
        except json.JSONDecodeError as e:
            raise RunError(f"{full}: not valid JSON ({e})")
    return {"path": path, "config": read("config.json"), "eval": read("eval.json")}


def mean_std(values):
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def method_of(run):
    method = run["config"]["meta"]["method"]
    return "target-autoencoder" if method == "unimodal-pretrain" else method  # runs before the rename


def ordered(methods):
    known = [m for m in METHOD_ORDER if m in methods]
    return known + sorted(m for m in methods if m not in METHOD_ORDER)


def accuracy_cells(runs, noise=0.0):
    """{method: {k: (mean, std, n_runs, std_kind)}} at one support-label noise rate."""
    per = defaultdict(lambda: defaultdict(list))
    eval_std = defaultdict(dict)
    for run in runs:
        for r in run["eval"]["results"]:
            if abs(r["label_noise"] - noise) > 1e-12:
                continue
            per[method_of(run)][r["shots"]].append(r["accuracy_mean"])
            eval_std[method_of(run)][r["shots"]] = r["accuracy_std"]
            if method_of(run) == PRETRAIN_SOURCE and "initial_accuracy_mean" in r:
                per[PRETRAIN][r["shots"]].append(r["initial_accuracy_mean"])
                eval_std[PRETRAIN][r["shots"]] = r["initial_accuracy_std"]
    cells = {}
    for method, by_k in per.items():
        cells[method] = {}
        for k, values in by_k.items():
            m, s = mean_std(values)
            kind = "runs"
            if len(values) == 1:
                s, kind = eval_std[method][k], "eval seeds"
            cells[method][k] = (m, s, len(values), kind)
    return cells


def usage(runs):
    out = {PRETRAIN: (0, 0)}
    for run in runs:
        e = run["eval"]
        if "target_samples_used" in e:
            out[method_of(run)] = (e["target_samples_used"], e["target_labels_used"])
    return out


def table2(runs, noise):
    cells = accuracy_cells(runs, noise)
    if not cells:
        raise RunError(f"no results at label noise {noise}")
    ks = sorted({k for by_k in cells.values() for k in by_k})
    used = usage(runs)
    lines = ["| method | " + " | ".join(f"{k}-shot" for k in ks) + " | runs | #target (labels) |",
             "|---|" + "---|" * len(ks) + "---|---|"]
    for method in ordered(cells):
        row = [METHOD_LABEL.get(method, method)]
        n_runs, kinds = 0, set()
        for k in ks:
            if k in cells[method]:
                m, s, n, kind = cells[method][k]
                row.append(f"{100 * m:.1f} ± {100 * s:.1f}")
                n_runs, kinds = n, kinds | {kind}
            else:
                row.append("–")
        row.append(f"{n_runs} ({'/'.join(sorted(kinds))} std)")
        samples, labels = used.get(method, ("?", "?"))
        row.append(f"{samples} ({labels})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def table4(runs, shots):
    per = defaultdict(lambda: defaultdict(list))
    for run in runs:
        for r in run["eval"].get("retrieval", []):
            if shots is not None and r["shots"] != shots:
                continue
            for direction in ("source_to_target", "target_to_source"):
                d = r[direction]
                for key in ("recall_at_1", "recall_at_5", "recall_at_10", "median_rank", "mean_cosine_loss"):
                    per[(method_of(run), r["shots"], direction)][key].append(d[key])
    if not per:
        raise RunError("no retrieval results (evaluate with `croma eval --retrieval`)")
    lines = ["| method | k | direction | R@1 | R@5 | R@10 | median rank | cosine loss | runs |",
             "|---|---|---|---|---|---|---|---|---|"]
    methods = ordered({m for m, _, _ in per})
    for method in methods:
        for (m, k, direction), values in sorted(per.items(), key=lambda kv: (kv[0][1], kv[0][2])):
            if m != method:
                continue
            def fmt(key, scale=100, digits=1):
                mu, sd = mean_std(values[key])
                return f"{scale * mu:.{digits}f} ± {scale * sd:.{digits}f}"
            lines.append("| " + " | ".join([
                METHOD_LABEL.get(m, m), str(k), direction.replace("_", " "), fmt("recall_at_1"),
                fmt("recall_at_5"), fmt("recall_at_10"), fmt("median_rank", 1, 1),
                fmt("mean_cosine_loss", 1, 3), str(len(values["recall_at_1"]))]) + " |")
    return "\n".join(lines)


def noise_points(runs, shots):
    """{method: {noise: [accuracy per run]}}, each run at the noise rate it was trained with
    (for methods that read target labels in meta-training) or every evaluated rate (others)."""
    points = defaultdict(lambda: defaultdict(list))
    for run in runs:
        trained_noise = run["config"]["meta"]["label_noise"]
        reads_labels = run["eval"].get("target_labels_used", 0) > 0
        for r in run["eval"]["results"]:
            if r["shots"] != shots:
                continue
            if reads_labels and abs(r["label_noise"] - trained_noise) > 1e-12:
                continue
            points[method_of(run)][r["label_noise"]].append(r["accuracy_mean"])
            if method_of(run) == PRETRAIN_SOURCE and "initial_accuracy_mean" in r:
                points[PRETRAIN][r["label_noise"]].append(r["initial_accuracy_mean"])
    return points


def noise_figure(runs, shots, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    points = noise_points(runs, shots)
    if not points:
        raise RunError(f"no {shots}-shot results")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    markers = "osD^vP*Xh<>p"
    for i, method in enumerate(ordered(points)):
        xs = sorted(points[method])
        stats = [mean_std(points[method][x]) for x in xs]
        # 12 methods: tab20's colours and a marker each, so no two series look alike.
        ax.errorbar(xs, [100 * m for m, _ in stats], yerr=[100 * s for _, s in stats],
                    marker=markers[i % len(markers)], color=plt.cm.tab20(i % 20), capsize=3,
                    label=METHOD_LABEL.get(method, method))
    ax.set_xlabel("symmetric label noise rate p on target labels")
    ax.set_ylabel(f"{shots}-shot target accuracy (%)")
    ax.set_title("Accuracy under noisy target labels (cf. paper Fig. 7)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, png)
    lines = ["| method | " + " | ".join(f"p = {x:g}" for x in sorted({x for p in points.values() for x in p})) + " |"]
    xs_all = sorted({x for p in points.values() for x in p})
    lines.append("|---|" + "---|" * len(xs_all))
    for method in ordered(points):
        row = [METHOD_LABEL.get(method, method)]
        for x in xs_all:
            if x in points[method]:
                m, s = mean_std(points[method][x])
                row.append(f"{100 * m:.1f} ± {100 * s:.1f}")
            else:
                row.append("–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def refused_methods(out_dir):
    """{method: [reason per seed]} from OUT_DIR/refused/METHOD-seedS.txt (one error line each)."""
    refused = defaultdict(list)
    folder = os.path.join(out_dir, "refused")
    if not os.path.isdir(folder):
        return refused
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt") or "-seed" not in name:
            continue
        method = name[:-len(".txt")].rsplit("-seed", 1)[0]
        with open(os.path.join(folder, name)) as f:
            refused[method].append(f.read().strip() or "(no message)")
    return refused


def benchmark_table(out_dir):
    """One benchmark's comparison: each method's k-shot accuracy beside the untrained start on
    the same tasks (reported by the same `croma eval`), what it read of the target modality,
    its training time, and a row per method that could not run, with the reason."""
    runs_dir = os.path.join(out_dir, "runs")
    paths = sorted(os.path.join(runs_dir, d) for d in os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []
    runs, unfinished = [], []
    for path in paths:
        if os.path.exists(os.path.join(path, "eval.json")):
            run = load_run(path)
            try:
                with open(os.path.join(path, "summary.json")) as f:
                    run["summary"] = json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                run["summary"] = {}
            runs.append(run)
        elif os.path.isdir(path):
            unfinished.append(os.path.basename(path))
    refused = refused_methods(out_dir)
    if not runs and not refused:
        raise RunError(f"{out_dir}: no finished runs (runs/*/eval.json) and no refused/*.txt")
    trained = defaultdict(lambda: defaultdict(list))
    initial = defaultdict(lambda: defaultdict(list))
    eval_std = defaultdict(dict)
    wall = defaultdict(list)
    for run in runs:
        m = method_of(run)
        for r in run["eval"]["results"]:
            if abs(r["label_noise"]) > 1e-12:
                continue
            trained[m][r["shots"]].append(r["accuracy_mean"])
            initial[m][r["shots"]].append(r["initial_accuracy_mean"])
            eval_std[m][(r["shots"], "trained")] = r["accuracy_std"]
            eval_std[m][(r["shots"], "initial")] = r["initial_accuracy_std"]
            if m == PRETRAIN_SOURCE:
                trained[PRETRAIN][r["shots"]].append(r["initial_accuracy_mean"])
                initial[PRETRAIN][r["shots"]].append(r["initial_accuracy_mean"])
                eval_std[PRETRAIN][(r["shots"], "trained")] = r["initial_accuracy_std"]
                eval_std[PRETRAIN][(r["shots"], "initial")] = r["initial_accuracy_std"]
        if "wall_s" in run["summary"]:
            wall[m].append(run["summary"]["wall_s"])
    used = usage(runs)
    ks = sorted({k for by_k in trained.values() for k in by_k})

    def cell(values, m, k, which):
        mu, sd = mean_std(values)
        if len(values) == 1:
            sd = eval_std[m][(k, which)]
        return f"{100 * mu:.1f} ± {100 * sd:.1f}"

    head = ["method", "#target read (labels)"]
    head += [f"{k}-shot" for k in ks] + [f"untrained {k}-shot" for k in ks]
    head += [f"Δ {k}-shot" for k in ks] + ["train time (s)", "runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in ordered(set(trained) | set(refused)):
        label = METHOD_LABEL.get(m, m)
        if m not in trained:
            reasons = sorted(set(refused[m]))
            row = [label, "refused: " + "; ".join(r.replace("|", "\\|") for r in reasons)]
            row += [""] * (3 * len(ks) + 2)
            lines.append("| " + " | ".join(row) + " |")
            continue
        samples, labels = used.get(m, ("?", "?"))
        row = [label, f"{samples} ({labels})"]
        row += [cell(trained[m][k], m, k, "trained") if k in trained[m] else "–" for k in ks]
        row += [cell(initial[m][k], m, k, "initial") if k in initial[m] else "–" for k in ks]
        for k in ks:
            if k in trained[m] and k in initial[m]:
                delta = mean_std(trained[m][k])[0] - mean_std(initial[m][k])[0]
                row.append(f"{100 * delta:+.1f}")
            else:
                row.append("–")
        row.append("0" if m == PRETRAIN else f"{mean_std(wall[m])[0]:.0f}" if wall[m] else "?")
        n = max(len(v) for v in trained[m].values())
        row.append(f"{n}" + (f" (+{len(refused[m])} refused)" if m in refused else ""))
        lines.append("| " + " | ".join(row) + " |")
    n_runs = {max(len(v) for v in by_k.values()) for by_k in trained.values()}
    if n_runs == {1}:
        lines.append("")
        lines.append("One training run per method: ± is the std over the evaluation seeds (task sets), "
                     "not over training seeds.")
    elif n_runs:
        lines.append("")
        lines.append("± is the std over training runs (over evaluation seeds where a method has one run).")
    if unfinished:
        lines.append("")
        lines.append("Unfinished (no eval.json): " + ", ".join(unfinished))
    return "\n".join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["table2", "table4", "noise-fig", "benchmark"])
    parser.add_argument("runs", nargs="+", help="run directories (benchmark: one OUT_DIR)")
    parser.add_argument("--noise", type=float, default=0.0, help="table2: support-label noise rate")
    parser.add_argument("--shots", type=int, default=None, help="table4 / noise-fig: k (noise-fig default 5)")
    parser.add_argument("--png", help="noise-fig: output PNG")
    parser.add_argument("--out", help="write the markdown here instead of stdout")
    args = parser.parse_args(argv)
    try:
        if args.what == "benchmark":
            if len(args.runs) != 1:
                raise RunError("benchmark takes one OUT_DIR (of analysis/benchmark_comparison.sh)")
            text = benchmark_table(args.runs[0])
        else:
            runs = [load_run(p) for p in args.runs]
            if args.what == "table2":
                text = table2(runs, args.noise)
            elif args.what == "table4":
                text = table4(runs, args.shots)
            else:
                if not args.png:
                    raise RunError("noise-fig needs --png OUT.png")
                text = noise_figure(runs, args.shots or 5, args.png)
    except RunError as e:
        print(f"croma_results: error: {e}", file=sys.stderr)
        return 1
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
