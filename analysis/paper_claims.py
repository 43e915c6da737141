#!/usr/bin/python3
"""The paper's claims against croma's committed searches: writes docs/results/paper-claims.md
and the results table between README.md's marker lines, from the results files alone.

    analysis/paper_claims.py [--results DIR] [--claims FILE] [--readme FILE] [--check]

Every verdict follows from the rule written at the top of the generated file; none is edited by
hand. Reads DIR/search-*/results.json (the numbers behind each table2.md, gains.md and fig7.md)
and selection.json (refused methods). Prints each data set's positive control. With --check it
writes nothing and exits 1 when paper-claims.md or README.md's table differ from what the
results give; it exits 2 on an error (a results file missing, README.md without the markers).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import search_tables as st  # noqa: E402

BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"

# (key, name in the text, results folder under docs/results)
DATA_SETS = [
    ("builtin", "built-in world", "search-builtin"),
    ("text_to_speech", "text → speech", "search-text_to_speech"),
    ("text_to_image", "text → image", "search-text_to_image"),
    ("image_to_audio", "image → audio", "search-image_to_audio"),
]
NOISE_FOLDER = "search-builtin-fig7"  # the label-noise search (Fig. 7) on the built-in world

NAMES = {
    "croma": "CroMA", "oracle": "oracle", "target-autoencoder": "target autoencoder",
    "unsup-meta-recon": "unsup. meta (reconstruct)", "unsup-meta-weak": "unsup. meta (weak labels)",
    "shared": "Shared", "shared-confusion": "Shared + Confusion", "shared-target-labels": "Shared + Target labels",
    "align-classify": "Align + Classify", "align-meta-classify": "Align + Meta Classify", "shared-align": "Shared + Align",
}

# Each claim: the comparisons it rests on and how their verdicts combine ("every": CroMA ahead of
# every listed method at every k; "some": ahead somewhere, behind nowhere).
CLAIMS = [
    {"id": "baselines", "kind": "paired", "mode": "every", "oracle": False,
     "text": "CroMA \"outperforms existing unimodal, domain adaptation, and cross-modal baselines\" "
             "(Table 2 caption, §5.1): here the baselines without alignment",
     "methods": ["target-autoencoder", "unsup-meta-recon", "unsup-meta-weak", "shared", "shared-confusion",
                 "shared-target-labels"]},
    {"id": "aligning", "kind": "paired", "mode": "every", "oracle": False,
     "text": "… including the cross-modal alignment baselines, \"explicit alignment\" plus meta-learning "
             "being what matters (§5.1)",
     "methods": ["align-classify", "align-meta-classify", "shared-align"]},
    {"id": "oracle", "kind": "paired", "mode": "some", "oracle": True,
     "text": "CroMA \"is on par and sometimes outperforms the oracle\" that meta-trains on labelled target "
             "data (Table 2, §5.1)",
     "methods": ["oracle"]},
    {"id": "separate", "kind": "paired", "mode": "every", "oracle": False,
     "text": "Separate encoders are better than a shared one (§5.1, Table 9)",
     "methods": ["shared", "shared-align"]},
    {"id": "robust", "kind": "noise", "mode": "every", "oracle": True,
     "text": "CroMA is more robust to noisy target labels than the oracle (Fig. 7, §5.4): its lead over "
             "the oracle widens with the noise rate"},
    {"id": "retrieval", "kind": "retrieval", "oracle": False,
     "text": "CroMA retrieves better than the alignment baselines (Table 4, §5.3)"},
]

SUPPORTED, NOT_SUPPORTED, NOT_SEPARABLE, UNINFORMATIVE = "supported", "not supported", "not separable", "uninformative"


class ClaimsError(Exception):
    pass


# ---- numbers --------------------------------------------------------------------------------

def pts(mean, half=None, mark=False):
    """Points with a sign and a true minus: +11.2 ± 3.5 *."""
    m = round(100 * mean, 1)
    text = ("+" if m > 0 else "−" if m < 0 else "") + f"{abs(m):.1f}"
    if half is not None:
        text += f" ± {100 * half:.1f}"
    return text + (" *" if mark else "")


def acc(mean, half):
    return f"{100 * mean:.1f}" + ("" if half is None else f" ± {100 * half:.1f}")


def comparison_verdict(mean, survives):
    """One paired comparison, CroMA − method, claimed direction positive."""
    if not survives:
        return NOT_SEPARABLE
    return SUPPORTED if mean > 0 else NOT_SUPPORTED


def combine(verdicts, mode):
    """A claim's verdict from its comparisons' verdicts."""
    if not verdicts:
        return None
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if mode == "every":
        return SUPPORTED if all(v == SUPPORTED for v in verdicts) else NOT_SEPARABLE
    if mode == "some":
        return SUPPORTED if SUPPORTED in verdicts else NOT_SEPARABLE
    raise ValueError(f"unknown mode {mode}")


def gate(verdict, control, about_oracle):
    """The positive control overrides a verdict: (verdict, why uninformative or None)."""
    if not control["passes"]:
        return UNINFORMATIVE, "the data set's positive control fails"
    if about_oracle and (control["oracle"] is None or not control["oracle"]["passes"]):
        return UNINFORMATIVE, "the oracle's own gain fails the control"
    return verdict, None


def counts_text(verdicts):
    parts = [f"{verdicts.count(v)} {v}" for v in (SUPPORTED, NOT_SEPARABLE, NOT_SUPPORTED) if verdicts.count(v)]
    return f"{len(verdicts)} comparisons: " + ", ".join(parts)


# ---- one data set ---------------------------------------------------------------------------

def load(results_dir, folder):
    paths = [os.path.join(results_dir, folder, name) for name in ("results.json", "selection.json")]
    for path in paths:
        if not os.path.exists(path):
            raise ClaimsError(f"{path} is missing")
    with open(paths[0]) as f:
        summary = json.load(f)
    with open(paths[1]) as f:
        selection = json.load(f)
    return summary, selection, os.path.join(results_dir, folder)


def data_set(summary, selection, folder=""):
    """Everything the verdicts read from one search: rows by method at noise 0, the Holm family of
    its table2.md, the positive control, the refused methods."""
    holm = st.holm_family(summary["paired_vs_croma"], st.table2_comparisons(summary))
    shots = sorted({c["shots"] for r in summary["rows"].values() for c in r["cells"].values()})
    by_method = {r["method"]: g for g, r in summary["rows"].items() if float(r["point"].get("label-noise", 0)) == 0}
    refused = {sel["method"]: sel["refused"] for sel in selection.values()
               if "refused" in sel and float(sel.get("point", {}).get("label-noise", 0)) == 0}
    return {"summary": summary, "folder": folder, "holm": holm, "shots": shots, "by_method": by_method, "refused": refused,
            "control": st.positive_control(summary)}


def comparison(ds, method, k):
    """(paired entry, Holm entry) of CroMA − method at k shots without noise, or (None, None)."""
    group = ds["by_method"].get(method)
    key = f"{k}|0.0"
    d = ds["summary"]["paired_vs_croma"].get(group, {}).get(key) if group else None
    return d, ds["holm"].get((group, key)) if d else None


def paired_claim(claim, ds):
    """(evidence text, verdict text) of a claim about paired CroMA − method comparisons."""
    parts, verdicts = [], []
    for method in claim["methods"]:
        if method in ds["refused"]:
            parts.append(f"{NAMES[method]}: refused on these data")
            continue
        texts = []
        for k in ds["shots"]:
            d, h = comparison(ds, method, k)
            if d is None or h is None:
                texts.append("n/a")
                continue
            texts.append(pts(d["mean"], d["ci95"], h["survives"]))
            verdicts.append(comparison_verdict(d["mean"], h["survives"]))
        if any(t != "n/a" for t in texts):
            parts.append(f"{NAMES[method]} " + " / ".join(texts))
    evidence = "; ".join(parts) if parts else "no comparison in these results"
    verdict = combine(verdicts, claim["mode"])
    if verdict is None:
        return evidence, "no verdict: no comparison in these results"
    gated, why = gate(verdict, ds["control"], claim["oracle"])
    if why:
        return evidence, f"**{gated}**: {why} (the comparisons alone: {verdict}; {counts_text(verdicts)})"
    return evidence, f"**{gated}** ({counts_text(verdicts)})"


def gap_changes(summary, k=5, reference="croma", other="oracle"):
    """Per noise rate p > 0: (p, mean, ci95, n) of the paired change of CroMA's lead over `other`,
    [CroMA(p) − other(p)] − [CroMA(0) − other(0)], per training seed; None where the per-seed
    accuracies are not in the results."""
    cells = {}
    for r in summary["rows"].values():
        if r["method"] in (reference, other):
            p = float(r["point"].get("label-noise", 0))
            cell = r["cells"].get(f"{k}|{p}")
            if cell is not None:
                cells[(r["method"], p)] = cell.get("per_seed")
    noises = sorted({p for _, p in cells})
    if 0.0 not in noises or len(noises) < 2 or any(v is None for v in cells.values()):
        return None
    out = []
    for p in noises[1:]:
        if (reference, p) not in cells or (other, p) not in cells:
            continue
        seeds = [s for s in cells[(reference, 0.0)] if all(s in cells[(m, q)] for m in (reference, other) for q in (0.0, p))]
        diffs = [(cells[(reference, p)][s] - cells[(other, p)][s]) - (cells[(reference, 0.0)][s] - cells[(other, 0.0)][s])
                 for s in seeds]
        if len(diffs) < 2:
            return None
        mean, half, n = st.interval_over(list(zip(seeds, diffs)))
        out.append({"p": p, "mean": mean, "ci95": half, "n": n})
    return out


def noise_claim(claim, noise_ds):
    """(evidence, verdict) of the robustness claim on the label-noise search; Holm over its
    own comparisons (one per noise rate above zero)."""
    changes = gap_changes(noise_ds["summary"])
    lead = []
    for group, r in noise_ds["summary"]["rows"].items():
        if r["method"] == "oracle":
            p = float(r["point"].get("label-noise", 0))
            d = noise_ds["summary"]["paired_vs_croma"].get(group, {}).get(f"5|{p}")
            h = noise_ds["holm"].get((group, f"5|{p}"))
            if d:
                lead.append((p, pts(d["mean"], d["ci95"], bool(h and h["survives"]))))
    lead_text = "CroMA − oracle, 5-shot, p = " + " / ".join(f"{p:g}" for p, _ in sorted(lead)) + ": " + \
        " / ".join(t for _, t in sorted(lead))
    if changes is None:
        return lead_text + "; the per-seed accuracies needed for the paired change of the lead are not committed", \
            "no verdict: the per-seed data are not committed"
    adjusted = st.holm_adjusted([st.paired_p_value(c["mean"], c["ci95"], c["n"]) for c in changes])
    verdicts = []
    texts = []
    for c, a in zip(changes, adjusted):
        survives = a <= st.HOLM_ALPHA
        verdicts.append(comparison_verdict(c["mean"], survives))
        texts.append(pts(c["mean"], c["ci95"], survives))
    evidence = (lead_text + "; change of the lead from p = 0, paired by seed, p = " +
                " / ".join(f"{c['p']:g}" for c in changes) + ": " + " / ".join(texts) +
                f" (Holm over these {len(changes)})")
    verdict = combine(verdicts, claim["mode"])
    gated, why = gate(verdict, noise_ds["control"], claim["oracle"])
    if why:
        return evidence, f"**{gated}**: {why} (the comparisons alone: {verdict})"
    return evidence, f"**{gated}** ({counts_text(verdicts)})"


def retrieval_claim(ds):
    has = any("retrieval" in r for r in ds["summary"]["rows"].values()) or \
        os.path.exists(os.path.join(ds["folder"], "table4.md"))
    if not has:
        return "not run", "no verdict: not run"
    if not ds["control"]["passes"]:
        return "Recall@1 over seeds (table4.md)", f"**{UNINFORMATIVE}**: the data set's positive control fails"
    return ("Recall@1 over seeds (table4.md)",
            "no verdict: Table 4's intervals are over seeds, unpaired, and the rule judges paired comparisons only")


# ---- the files ------------------------------------------------------------------------------

def control_cells(ds):
    c = ds["control"]
    passing = [m for m in c["methods"] if m["passes"]]
    passing_text = ", ".join(f"{NAMES.get(m['method'], m['method'])} {pts(m['gain'], m['ci95'])}" for m in passing) or \
        "none (largest gain: " + ", ".join(
            f"{NAMES.get(m['method'], m['method'])} {pts(m['gain'], m['ci95'])}"
            for m in [max(c["methods"], key=lambda m: m["gain"])]) + ")"
    oracle = c["oracle"]
    oracle_text = "not run" if oracle is None else \
        f"{pts(oracle['gain'], oracle['ci95'])} ({'passes' if oracle['passes'] else 'fails'})"
    verdict = "**passes**" if c["passes"] else f"**fails: {UNINFORMATIVE}**"
    return passing_text, oracle_text, verdict


def class_pure_note(ds):
    text = ds["refused"].get("unsup-meta-weak", "")
    if "inside one class" not in text:
        return ""
    note = "every weak cluster of the meta-train target items lies inside one class (unsup-meta-weak refused)"
    if ds["summary"].get("train", {}).get("pairs") == "weak":
        note += ": the weak pairs CroMA and the aligning methods read carry class information, though counted as no labels"
    return note


RULE = f"""How each verdict follows from the numbers (this file is written by `analysis/paper_claims.py`
from the committed results; no verdict is edited by hand):

- **One comparison** is CroMA − method at one k (no label noise), paired by training seed and
  meta-test episode, with the 95 % t-interval over the 5 seeds (the `CroMA −` columns of each
  `table2.md`). It counts as *supported* when it survives Holm's step-down correction at
  family-wise 5 % over all paired comparisons of its `table2.md` (two-sided paired t-test over
  seeds, n − 1 df; marked `*`) and is positive, *not supported* when it survives and is negative,
  and *not separable* otherwise: the interval contains zero, or excludes it only before the
  correction.
- **A claim on a data set** combines its comparisons. A claim that CroMA beats a list of methods
  ("outperforms", "better than") is *supported* when every comparison (every method, every k) is
  supported, *not supported* when any one is not supported, and *not separable* otherwise. The
  oracle claim ("on par and sometimes outperforms") is *supported* when at least one comparison is
  supported and none is not supported, *not supported* when any is not supported, and *not
  separable* otherwise. The counts in brackets say how the comparisons fell.
- **Positive control.** {st.control_rule()[0].upper() + st.control_rule()[1:]}. Where the data set
  fails it, every claim there is *uninformative* (nothing was learned, so nothing is ranked); a
  claim about the oracle is also *uninformative* where the oracle's own gain fails that test. For
  the label-noise search the control is read at p = 0: the noise is the treatment, not the data.
- **Robustness to label noise (Fig. 7)** claims that CroMA's lead over the oracle widens with the
  noise rate p. Its comparisons are the changes of the lead from p = 0, [CroMA(p) − oracle(p)] −
  [CroMA(0) − oracle(0)], paired by training seed (each p has its own selected configurations,
  retrained with the same seeds and evaluated on the same episodes), one per p > 0, with Holm
  over those; *supported* when the lead is wider at every p > 0.
- **Retrieval (Table 4)** intervals are over seeds, unpaired, and are not judged by this rule."""


def claims_markdown(sets, noise_ds, folders):
    out = ["# The paper's claims, checked against croma's tuned comparisons", "",
           "Each claim of the paper's experimental sections (§5.1-5.4), what croma measured under the protocol of "
           "[docs/evaluation.md](../evaluation.md#tuning-every-method-at-its-best-selected-on-meta-validation) "
           "(every method tuned with the same budget on meta-val, retrained with fresh seeds, paired CroMA − method "
           "intervals on the same meta-test episodes), and the verdict the rule below gives. The paper's claims are "
           "about its own real benchmarks; croma's offline stand-ins for them ([docs/benchmarks.md](../benchmarks.md)) "
           "differ in size and features.", "", RULE, "",
           "## Positive controls", "",
           "| data set | results | methods that pass: paired 5-shot gain over their own untrained start, points | "
           "the oracle's own gain | control | note |", "|---|---|---|---|---|---|"]
    for (key, name, folder) in folders:
        ds = sets[key]
        passing, oracle, verdict = control_cells(ds)
        out.append(f"| {name} | [{folder}]({folder}/gains.md) | {passing} | {oracle} | {verdict} | {class_pure_note(ds)} |")
    passing, oracle, verdict = control_cells(noise_ds)
    out.append(f"| built-in world, label noise p = 0 | [{NOISE_FOLDER}]({NOISE_FOLDER}/gains.md) | {passing} | "
               f"{oracle} | {verdict} |  |")
    out += ["", "## Claims", "",
            "Evidence: CroMA − method, paired, points, at the k of each data set "
            "(built-in world 1 / 5 / 10 shots, the others 1 / 5); `*`: survives Holm in its table.", "",
            "| claim (paper) | data set | evidence | verdict |", "|---|---|---|---|"]
    for claim in CLAIMS:
        for i, (key, name, folder) in enumerate(folders):
            ds = sets[key]
            if claim["kind"] == "paired":
                evidence, verdict = paired_claim(claim, ds)
            elif claim["kind"] == "noise":
                if key == "builtin":
                    evidence, verdict = noise_claim(claim, noise_ds)
                    name = f"built-in world ([{NOISE_FOLDER}]({NOISE_FOLDER}/fig7.md))"
                else:
                    evidence, verdict = "not run under label noise", "no verdict: not run"
            else:
                evidence, verdict = retrieval_claim(ds)
            out.append(f"| {claim['text'] if i == 0 else ''} | {name} | {evidence} | {verdict} |")
    out += ["", "Reproduce: `jobs/sweep.py run jobs/searches/NAME.json`, then `jobs/sweep.py aggregate "
            "jobs/searches/NAME.json` (builtin, text_to_speech, text_to_image, image_to_audio, builtin_fig7); "
            "from the committed results alone, `analysis/search_tables.py docs/results/search-*` rewrites the "
            "tables and `analysis/paper_claims.py` this file and README.md's results table.", ""]
    return "\n".join(out)


def short_verdict(text):
    """'**supported** (...)' -> 'supported'."""
    return text.split("**")[1] if text.startswith("**") else text.split(":")[0]


def readme_table(sets, noise_ds, folders):
    out = ["| data set | CroMA 5-shot % | best other method 5-shot % | CroMA − it | oracle 5-shot % | CroMA − oracle | "
           "positive control | verdict: baselines without alignment / aligning baselines / oracle |", "|---|---|---|---|---|---|---|---|"]
    for (key, name, folder) in folders:
        ds = sets[key]
        rows = ds["summary"]["rows"]
        cell = lambda m: rows[ds["by_method"][m]]["cells"].get("5|0.0") if m in ds["by_method"] else None
        croma = cell("croma")
        others = [m for m in ds["by_method"] if m not in ("croma", "oracle") and cell(m)]
        best = max(others, key=lambda m: cell(m)["mean"])

        def diff(m):
            d, h = comparison(ds, m, 5)
            return pts(d["mean"], d["ci95"], h["survives"]) if d else ""
        oracle = cell("oracle")
        verdicts = [short_verdict(paired_claim(c, ds)[1]) for c in CLAIMS if c["id"] in ("baselines", "aligning", "oracle")]
        control = "passes" if ds["control"]["passes"] else "fails"
        if ds["control"]["passes"] and not (ds["control"]["oracle"] and ds["control"]["oracle"]["passes"]):
            control += " (oracle fails)"
        out.append(f"| [{name}](docs/results/{folder}/table2.md) | {acc(croma['mean'], croma['ci95'])} | "
                   f"{NAMES[ds['summary']['rows'][ds['by_method'][best]]['method']]} {acc(cell(best)['mean'], cell(best)['ci95'])} | "
                   f"{diff(best)} | {acc(oracle['mean'], oracle['ci95']) if oracle else ''} | "
                   f"{diff('oracle') if oracle else ''} | {control} | {' / '.join(verdicts)} |")
    robust = short_verdict(noise_claim(CLAIMS[[c["id"] for c in CLAIMS].index("robust")], noise_ds)[1])
    out += ["", f"Label noise (Fig. 7, built-in world): CroMA's lead over the oracle widening with noise is **{robust}**. "
            "Best other method: highest 5-shot mean besides CroMA and the oracle; `*`: survives Holm in its table; "
            "intervals: 95 % over 5 seeds. Rules and every claim: "
            "[docs/results/paper-claims.md](docs/results/paper-claims.md)."]
    return "\n".join(out)


def fill_readme(text, table, path="README.md"):
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ClaimsError(f"{path} needs exactly one line '{BEGIN}' followed by one line '{END}' where the "
                          f"results table goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def build(results_dir):
    sets = {}
    for key, _, folder in DATA_SETS:
        sets[key] = data_set(*load(results_dir, folder))
    noise_ds = data_set(*load(results_dir, NOISE_FOLDER))
    return sets, noise_ds


def print_controls(sets, noise_ds, stream):
    for key, name, folder in DATA_SETS + [("noise", "built-in world, label noise p = 0", NOISE_FOLDER)]:
        ds = sets.get(key, noise_ds) if key != "noise" else noise_ds
        passing, oracle, verdict = control_cells(ds)
        print(f"{name} ({folder}): control {verdict.strip('*')}; passing: {passing}; oracle's gain {oracle}",
              file=stream)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="paper_claims.py", description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=os.path.join(REPO, "docs", "results"), help="results folder (default docs/results)")
    parser.add_argument("--claims", default=None, help="paper-claims file (default RESULTS/paper-claims.md)")
    parser.add_argument("--readme", default=os.path.join(REPO, "README.md"), help="README with the marker lines")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    claims_path = args.claims or os.path.join(args.results, "paper-claims.md")
    try:
        sets, noise_ds = build(args.results)
        claims = claims_markdown(sets, noise_ds, DATA_SETS)
        table = readme_table(sets, noise_ds, DATA_SETS)
        try:
            with open(args.readme) as f:
                readme_old = f.read()
        except OSError as e:
            raise ClaimsError(f"cannot read {args.readme}: {e.strerror}")
        readme_new = fill_readme(readme_old, table, args.readme)
    except (ClaimsError, KeyError, ValueError) as e:
        print(f"paper_claims.py: error: {e}", file=sys.stderr)
        return 2
    print_controls(sets, noise_ds, sys.stdout)
    claims_old = open(claims_path).read() if os.path.exists(claims_path) else None
    stale = [p for p, old, new in ((claims_path, claims_old, claims), (args.readme, readme_old, readme_new)) if old != new]
    if args.check:
        for p in stale:
            print(f"paper_claims.py: stale: {p} (run analysis/paper_claims.py)", file=sys.stderr)
        return 1 if stale else 0
    for p, text in ((claims_path, claims), (args.readme, readme_new)):
        if p in stale:
            st.write(p, text)
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
