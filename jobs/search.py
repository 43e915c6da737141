"""The tuning protocol of jobs/sweep.py: random search on meta-validation, then fresh seeds.

A search spec has "search" where a grid spec has "grid" (see jobs/sweep.py for the rest):

    "search": {
      "methods": ["croma", "oracle", ...],
      "configurations": 20,          # per (method, axes point): config 0 = the defaults, 1.. = random draws
      "trial_seeds": [1],            # training seeds of each searched configuration
      "final_seeds": [11, 12, 13, 14, 15],  # fresh seeds of each selected configuration
      "draw_seed": 0,                # the draws depend on (draw_seed, method, config index) only
      "axes": {"label-noise": [0, 0.2]},    # optional: fixed options crossed with the methods;
                                     # every method is selected again at each point
      "val_eval": {"eval-tasks": 200}       # optional: extra `croma eval` options for selection
    }

A registry option that "train" or an axis sets is fixed, not searched.

Every method gets the same budget: the spec's "train" options (meta-steps, task slots) are the
same for all, and each draws the same number of configurations and seeds. The distributions come
from croma's hyperparameter registry (`croma train --method M --print-hparams`), read once and kept
in ROOT/search/registry/M.json so that a rerun draws the same configurations.

Stage 1 (ROOT/search): each configuration x trial seed trains, then `croma eval --split val
--skip-untrained` writes eval-val.json (meta-val classes, or held-out items of meta-train classes). Nothing in
this stage evaluates meta-test.
Selection (ROOT/selection.json): per method and axes point, the configuration with the best mean
meta-val accuracy over its trial seeds (accuracy averaged over the evaluated shot counts). It
reads eval-val.json and nothing else; configurations whose cells failed are excluded.
Stage 2 (ROOT/final): the selected configuration with each final seed, evaluated on meta-test
(eval.json). Tables (aggregate): mean over final seeds with the 95 % t-interval of the seed
means, and CroMA minus each baseline paired by seed and episode.
"""
import hashlib
import itertools
import json
import math
import os
import random
import subprocess

SEARCH_KEYS = {"methods", "configurations", "trial_seeds", "final_seeds", "draw_seed", "axes", "val_eval"}


class SearchError(Exception):
    pass



def write_atomically(path, text):
    """Writes text to path through a temporary file of this process's own, renamed into place:
    readers never see half a file, and two launchers writing the same file at once (each the
    same content) never remove each other's temporary file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)

def validate(spec, where):
    s = spec["search"]
    if not isinstance(s, dict):
        raise SearchError(f"{where}: \"search\" must be an object")
    unknown = sorted(set(s) - SEARCH_KEYS)
    if unknown:
        raise SearchError(f"{where}: unknown search key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(SEARCH_KEYS))})")
    methods = s.get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise SearchError(f"{where}: search \"methods\" must be a non-empty list of method names")
    if len(set(methods)) != len(methods):
        raise SearchError(f"{where}: search \"methods\" lists a method twice")
    n = s.get("configurations")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SearchError(f"{where}: search \"configurations\" must be an integer >= 1")
    for key in ("trial_seeds", "final_seeds"):
        seeds = s.get(key)
        if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in seeds)):
            raise SearchError(f"{where}: search \"{key}\" must be a non-empty list of distinct seeds >= 1")
    if set(s["trial_seeds"]) & set(s["final_seeds"]):
        raise SearchError(f"{where}: search \"final_seeds\" must be fresh (none of the \"trial_seeds\")")
    if not isinstance(s.get("draw_seed", 0), int):
        raise SearchError(f"{where}: search \"draw_seed\" must be an integer")
    axes = s.get("axes", {})
    if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
        raise SearchError(f"{where}: search \"axes\" must be an object of option: [values]")
    for key in ("method", "seed"):
        if key in axes or key in spec.get("train", {}):
            raise SearchError(f"{where}: \"{key}\" is set by the search; remove it from \"axes\"/\"train\"")
    if not isinstance(s.get("val_eval", {}), dict):
        raise SearchError(f"{where}: search \"val_eval\" must be an object of `croma eval` options")
    for key in ("split", "eval-seed"):
        if key in spec.get("eval", {}) or key in s.get("val_eval", {}):
            raise SearchError(f"{where}: \"{key}\" is set by the search stages; remove it from \"eval\"/\"val_eval\"")


# ---- the registry and the draws -----------------------------------------------------------

def registry(spec, method, option_args):
    """The method's registry entries, read from croma once and kept in ROOT/search/registry."""
    path = os.path.join(spec["root"], "search", "registry", f"{method}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    cmd = [spec["croma"], "train", "--method", method] + option_args(spec.get("train", {})) + ["--print-hparams"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise SearchError(f"cannot run '{spec['croma']}': {e.strerror}")
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise SearchError(f"`croma train --method {method} --print-hparams` failed: {last}")
    entries = json.loads(p.stdout)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomically(path, json.dumps(entries, indent=1))
    return entries


def significant(x, digits=3):
    """x rounded to `digits` significant digits (readable configurations, exact in JSON)."""
    if x == 0:
        return 0.0
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def draw(entries, draw_seed, method, index):
    """Configuration `index` of `method`: 0 = every default, else one draw per entry, in the
    registry's order, from a generator seeded by (draw_seed, method, index) alone."""
    params = {}
    if index == 0:
        for e in entries["hyperparameters"]:
            params[e["name"]] = e["default"]
        return params
    key = f"croma-search|{draw_seed}|{method}|{index}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))
    for e in entries["hyperparameters"]:
        d = e["distribution"]
        if d["kind"] == "log-uniform":
            v = significant(math.exp(rng.uniform(math.log(d["low"]), math.log(d["high"]))))
        elif d["kind"] == "uniform":
            v = significant(rng.uniform(d["low"], d["high"]))
        elif d["kind"] == "choice":
            v = rng.choice(d["values"])
        else:
            raise SearchError(f"registry of {method}: unknown distribution kind '{d['kind']}' for {e['name']}")
        params[e["name"]] = v
    return params


# ---- the two stages -----------------------------------------------------------------------

def axis_points(spec):
    axes = spec["search"].get("axes", {})
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


def group_name(method, point):
    return ",".join([f"method={method}"] + [f"{k}={json.dumps(v)}" for k, v in point.items()])


def searched(spec, point, params):
    """The drawn values of the options the spec leaves free: an option fixed in "train" or set
    by an axis is not searched (the draw itself is unchanged, so other options keep their values)."""
    fixed = set(spec.get("train", {})) | set(point)
    return {k: v for k, v in params.items() if k not in fixed}


# `croma eval` options that add work whose result selection never reads.
NOT_FOR_SELECTION = ("retrieval",)


def selection_eval_args(spec, option_args):
    """The `croma eval` options of a search cell: the spec's "eval" with "val_eval" replacing
    options of the same name. Selection reads the trained parameters' few-shot accuracy only:
    no untrained start (half the cost) and no retrieval (Table 4 is a final-stage result; on
    held-out items of meta-train classes croma refuses it, since training may have read their
    partners)."""
    options = {**spec.get("eval", {}), **spec["search"].get("val_eval", {})}
    options = {k: v for k, v in options.items() if k not in NOT_FOR_SELECTION}
    return option_args(options) + ["--split", "val", "--skip-untrained"]


def search_cells(spec, option_args):
    s = spec["search"]
    out = []
    for method in s["methods"]:
        entries = registry(spec, method, option_args)
        for point in axis_points(spec):
            for index in range(s["configurations"]):
                params = searched(spec, point, draw(entries, s.get("draw_seed", 0), method, index))
                for seed in s["trial_seeds"]:
                    name = f"{group_name(method, point)},config={index:02d},seed={seed}"
                    train = (option_args(spec.get("train", {})) + option_args(point) + ["--method", method]
                             + option_args(params) + ["--seed", str(seed)])
                    evaluation = selection_eval_args(spec, option_args)
                    out.append({"index": len(out) + 1, "name": name, "group": group_name(method, point),
                                "method": method, "point": point, "config": index, "seed": seed,
                                "params": {**point, "method": method, "config": index, "seed": seed},
                                "hparams": params, "train": train, "eval": evaluation, "done": "eval-val.json"})
    return out


def val_score(run_dir):
    """Mean meta-val accuracy of one finished search cell over its evaluated shot counts."""
    with open(os.path.join(run_dir, "eval-val.json")) as f:
        ev = json.load(f)
    if ev.get("split") != "meta-val":
        raise SearchError(f"'{run_dir}/eval-val.json' is not a meta-val evaluation")
    accs = [r["accuracy_mean"] for r in ev["results"]]
    return sum(accs) / len(accs)


def select(spec, cells, states):
    """{group: selection} for the groups whose search cells have all finished (done or failed)."""
    root = os.path.join(spec["root"], "search", "runs")
    by_group = {}
    for c in cells:
        by_group.setdefault(c["group"], []).append(c)
    chosen, waiting = {}, []
    for group, members in by_group.items():
        if any(states[c["index"]] not in ("done", "failed") for c in members):
            waiting.append(group)
            continue
        configs = {}
        for c in members:
            entry = configs.setdefault(c["config"], {"config": c["config"], "hparams": c["hparams"], "scores": {},
                                                     "failed_seeds": []})
            if states[c["index"]] == "done":
                entry["scores"][str(c["seed"])] = val_score(os.path.join(root, c["name"]))
            else:
                entry["failed_seeds"].append(c["seed"])
        ranked = []
        for entry in configs.values():
            complete = not entry["failed_seeds"]
            entry["val_accuracy"] = (sum(entry["scores"].values()) / len(entry["scores"])) if complete else None
            if complete:
                ranked.append(entry)
        if not ranked:
            # A method the data cannot support (croma train refuses it, e.g. unsup-meta-weak on
            # class-pure clusters) is reported as refused, with croma's one-line reason.
            chosen[group] = {"method": members[0]["method"], "point": members[0]["point"],
                             "refused": refusal(os.path.join(root, members[0]["name"])),
                             "configurations": sorted(configs.values(), key=lambda e: e["config"])}
            continue
        # Best mean meta-val accuracy; ties go to the lower index (the defaults first).
        best = max(ranked, key=lambda e: (e["val_accuracy"], -e["config"]))
        chosen[group] = {"method": members[0]["method"], "point": members[0]["point"], "config": best["config"],
                         "hparams": best["hparams"], "val_accuracy": best["val_accuracy"],
                         "configurations": sorted(configs.values(), key=lambda e: e["config"])}
    return chosen, waiting


def refusal(run_dir):
    """The last line croma printed in a failed cell (its error message)."""
    try:
        with open(os.path.join(run_dir, "job.log")) as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("== ")]
        return lines[-1] if lines else "failed (no message)"
    except OSError:
        return "failed (no job.log)"


def final_cells(spec, selection, option_args):
    s = spec["search"]
    out = []
    for method in s["methods"]:
        for point in axis_points(spec):
            sel = selection[group_name(method, point)]
            if "refused" in sel:
                continue
            for seed in s["final_seeds"]:
                name = f"{group_name(method, point)},seed={seed}"
                train = (option_args(spec.get("train", {})) + option_args(point) + ["--method", method]
                         + option_args(sel["hparams"]) + ["--seed", str(seed)])
                out.append({"index": len(out) + 1, "name": name, "group": group_name(method, point),
                            "method": method, "point": point, "config": sel["config"], "seed": seed,
                            "params": {**point, "method": method, "seed": seed}, "hparams": sel["hparams"],
                            "train": train, "eval": option_args(spec.get("eval", {})), "done": "eval.json"})
    return out
