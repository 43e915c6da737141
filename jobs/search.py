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
      "val_eval": {"eval-tasks": 200},      # optional: extra `croma eval` options for selection
      "final_eval_by_method": {"croma": {"head-features": "trained,initial,raw"}},
                                     # optional: `croma eval` options of one method's final runs
                                     # (over "eval"), e.g. the raw-features row, which is the same
                                     # for every method on the same episodes, computed once
      "class_split_seeds": [0, 1, 2, 3, 4]
                                     # optional, feature shards only: every final seed runs on each
                                     # of these class splits (`croma train --class-split-seed`; 0 is
                                     # the data's own split), so the tables' intervals include class
                                     # sampling: a split's runs are averaged, the interval is over
                                     # the split means. The search stage reads the data's own split.
    }

A registry option that "train" or an axis sets is fixed, not searched.

Every method gets the same budget: the spec's "train" options (meta-steps, task slots) are the
same for all, and each draws the same number of configurations and seeds. The distributions come
from croma's hyperparameter registry (`croma train --method M --print-hparams`), read once and kept
in ROOT/search/registry/M.json so that a rerun draws the same configurations.

Instead of "trial_seeds", "halving" selects by successive halving (Li et al. 2018, synchronous):

      "halving": {"keep": 3,       # each rung promotes the best ceil(n / keep) of its n configurations
                  "rungs": [{"seeds": [1], "val_eval": {"eval-tasks": 100}},
                            {"seeds": [1, 2, 3], "val_eval": {"eval-tasks": 300}},
                            {"seeds": [1, 2, 3, 4, 5], "val_eval": {"eval-tasks": 600}, "train": {"steps": 2000}}]}

Rung 0 runs every configuration; rung r + 1 the best ceil(n / keep) of rung r's n, ranked by mean
meta-val accuracy over rung r's seeds (ties to the lower index; a configuration with a failed
cell is never promoted). A rung's "val_eval" adds to the search's, its "train" to the spec's
(options that are not searched). Promotions are written once to ROOT/promotions.json, so a rerun
promotes the same configurations. A rung's cell whose training an earlier rung already did (the
same configuration, seed and training options) starts from a copy of that run (`croma train
--resume` of a finished run trains nothing) and is only evaluated again, on its rung's episodes.
Selection reads the last rung. Rung 0 runs in ROOT/search, rung r in ROOT/search-rung<r>.

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

SEARCH_KEYS = {"methods", "configurations", "trial_seeds", "final_seeds", "draw_seed", "axes", "val_eval",
               "final_eval_by_method", "halving", "class_split_seeds"}
HALVING_KEYS = {"keep", "rungs"}
RUNG_KEYS = {"seeds", "val_eval", "train"}


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
    if ("halving" in s) == ("trial_seeds" in s):
        raise SearchError(f"{where}: a search has either \"trial_seeds\" (random search) or \"halving\" "
                          f"(successive halving), not {'both' if 'halving' in s else 'neither'}")
    seed_lists = {"final_seeds": s.get("final_seeds")}
    if "halving" in s:
        seed_lists.update(validate_halving(s["halving"], where))
    else:
        seed_lists["trial_seeds"] = s["trial_seeds"]
    for key, seeds in seed_lists.items():
        if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in seeds)):
            raise SearchError(f"{where}: search \"{key}\" must be a non-empty list of distinct seeds >= 1")
    trial = set().union(*(set(v) for k, v in seed_lists.items() if k != "final_seeds"))
    if trial & set(s["final_seeds"]):
        raise SearchError(f"{where}: search \"final_seeds\" must be fresh (none of the trial seeds)")
    if not isinstance(s.get("draw_seed", 0), int):
        raise SearchError(f"{where}: search \"draw_seed\" must be an integer")
    axes = s.get("axes", {})
    if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
        raise SearchError(f"{where}: search \"axes\" must be an object of option: [values]")
    splits = s.get("class_split_seeds")
    if splits is not None and (not isinstance(splits, list) or not splits or len(set(splits)) != len(splits)
                               or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in splits)):
        raise SearchError(f"{where}: search \"class_split_seeds\" must be a non-empty list of distinct seeds >= 0 "
                          f"(0: the data's own class split)")
    for key in ("method", "seed", "class-split-seed"):
        if key in axes or key in spec.get("train", {}):
            raise SearchError(f"{where}: \"{key}\" is set by the search; remove it from \"axes\"/\"train\"")
    if not isinstance(s.get("val_eval", {}), dict):
        raise SearchError(f"{where}: search \"val_eval\" must be an object of `croma eval` options")
    by_method = s.get("final_eval_by_method", {})
    if not isinstance(by_method, dict) or not all(isinstance(v, dict) for v in by_method.values()):
        raise SearchError(f"{where}: search \"final_eval_by_method\" must be an object of method: {{options}}")
    strangers = sorted(set(by_method) - set(methods))
    if strangers:
        raise SearchError(f"{where}: search \"final_eval_by_method\" names {', '.join(strangers)}, "
                          f"not in \"methods\"")
    for key in ("split", "eval-seed"):
        if (key in spec.get("eval", {}) or key in s.get("val_eval", {})
                or any(key in v for v in by_method.values())):
            raise SearchError(f"{where}: \"{key}\" is set by the search stages; remove it from \"eval\"/\"val_eval\"")


def validate_halving(h, where):
    """The seed lists of a "halving" block, by name, once its shape is checked."""
    if not isinstance(h, dict):
        raise SearchError(f"{where}: search \"halving\" must be an object with \"keep\" and \"rungs\"")
    unknown = sorted(set(h) - HALVING_KEYS)
    if unknown:
        raise SearchError(f"{where}: unknown halving key(s) {', '.join(unknown)} (allowed: keep, rungs)")
    keep = h.get("keep")
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 2:
        raise SearchError(f"{where}: halving \"keep\" must be an integer >= 2 (rung r + 1 runs 1/keep of rung r)")
    rungs_ = h.get("rungs")
    if not isinstance(rungs_, list) or len(rungs_) < 2 or not all(isinstance(r, dict) for r in rungs_):
        raise SearchError(f"{where}: halving \"rungs\" must be a list of at least 2 rung objects")
    seeds = {}
    for i, r in enumerate(rungs_):
        unknown = sorted(set(r) - RUNG_KEYS)
        if unknown:
            raise SearchError(f"{where}: halving rung {i}: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(sorted(RUNG_KEYS))})")
        for key in ("val_eval", "train"):
            if not isinstance(r.get(key, {}), dict):
                raise SearchError(f"{where}: halving rung {i}: \"{key}\" must be an object of options")
        for key in ("method", "seed", "split", "eval-seed"):
            if key in r.get("train", {}) or key in r.get("val_eval", {}):
                raise SearchError(f"{where}: halving rung {i}: \"{key}\" is set by the search")
        seeds[f"halving rung {i} seeds"] = r.get("seeds")
    return seeds


def rungs(spec):
    """The rungs of the search stage: [{"seeds", "val_eval", "train"}]. A random search is one
    rung: every configuration at the trial seeds."""
    s = spec["search"]
    if "halving" not in s:
        return [{"seeds": s["trial_seeds"], "val_eval": s.get("val_eval", {}), "train": {}}]
    return [{"seeds": r["seeds"], "val_eval": {**s.get("val_eval", {}), **r.get("val_eval", {})},
             "train": r.get("train", {})} for r in s["halving"]["rungs"]]


def stage_dir(rung):
    """Where rung r's runs live under ROOT: rung 0 (and a random search) in search/."""
    return "search" if rung == 0 else f"search-rung{rung}"


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
NOT_FOR_SELECTION = ("retrieval", "head", "head-features", "export-episodes")


def selection_eval_args(spec, option_args, val_eval=None):
    """The `croma eval` options of a search cell: the spec's "eval" with "val_eval" (the rung's)
    replacing options of the same name. Selection reads the trained parameters' few-shot accuracy only:
    no untrained start (half the cost), no frozen heads (sanity rows of the final stage) and no
    retrieval (Table 4 is a final-stage result; on held-out items of meta-train classes croma
    refuses it, since training may have read their partners)."""
    val_eval = spec["search"].get("val_eval", {}) if val_eval is None else val_eval
    options = {**spec.get("eval", {}), **val_eval}
    options = {k: v for k, v in options.items() if k not in NOT_FOR_SELECTION}
    return option_args(options) + ["--split", "val", "--skip-untrained"]


def search_cells(spec, option_args, rung=0, promoted=None):
    """The cells of one rung: every configuration in rung 0, else those promoted into it
    ({group: [config index]}), each at the rung's seeds."""
    s = spec["search"]
    r = rungs(spec)[rung]
    out = []
    for method in s["methods"]:
        entries = registry(spec, method, option_args)
        for point in axis_points(spec):
            group = group_name(method, point)
            configs = range(s["configurations"]) if rung == 0 else promoted.get(group, [])
            for index in configs:
                params = searched(spec, point, draw(entries, s.get("draw_seed", 0), method, index))
                clash = sorted(set(r["train"]) & set(params))
                if clash:
                    raise SearchError(f"halving rung {rung}: \"train\" sets {', '.join(clash)}, which the "
                                      f"search draws for {method}; fix it in the spec's \"train\" instead")
                for seed in r["seeds"]:
                    name = f"{group},config={index:02d},seed={seed}"
                    train = (option_args({**spec.get("train", {}), **r["train"]}) + option_args(point)
                             + ["--method", method] + option_args(params) + ["--seed", str(seed)])
                    evaluation = selection_eval_args(spec, option_args, r["val_eval"])
                    out.append({"index": len(out) + 1, "name": name, "group": group,
                                "method": method, "point": point, "config": index, "seed": seed,
                                "params": {**point, "method": method, "config": index, "seed": seed},
                                "hparams": params, "train": train, "eval": evaluation, "done": "eval-val.json",
                                "stage": stage_dir(rung), "rung": rung})
    return out


def reused_runs(spec, earlier, cells):
    """{cell name: run directory} of an earlier rung whose training a cell of this rung repeats
    (the same configuration, seed and training options), the latest such rung first. `earlier`
    is [(cells, states)] of the rungs before this one."""
    out = {}
    for c in cells:
        for prior_cells, prior_states in reversed(earlier):
            match = [p for p in prior_cells if p["name"] == c["name"] and p["train"] == c["train"]
                     and prior_states[p["index"]] == "done"]
            if match:
                out[c["name"]] = os.path.join(spec["root"], match[0]["stage"], "runs", match[0]["name"])
                break
    return out


def rung_scores(spec, cells, states):
    """{group: {config: mean meta-val accuracy over the rung's seeds}} of one finished rung, a
    configuration with a failed cell left out."""
    scores, failed = {}, set()
    for c in cells:
        if states[c["index"]] != "done":
            failed.add((c["group"], c["config"]))
            continue
        run_dir = os.path.join(spec["root"], c["stage"], "runs", c["name"])
        scores.setdefault(c["group"], {}).setdefault(c["config"], []).append(val_score(run_dir))
    return {g: {cfg: sum(v) / len(v) for cfg, v in by.items() if (g, cfg) not in failed}
            for g, by in scores.items()}


def promote(scores, configurations, keep):
    """{group: the configurations rung r + 1 runs}: the best ceil(n / keep) of the n that rung r
    ran, by mean meta-val accuracy, ties to the lower index, in index order."""
    out = {}
    for group, n in configurations.items():
        ranked = sorted(scores.get(group, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        out[group] = sorted(cfg for cfg, _ in ranked[:math.ceil(n / keep)])
    return out


def promotions(spec, rung, cells, states):
    """The configurations promoted into `rung` from the finished rung before it, written once to
    ROOT/promotions.json (a rerun reads them back); None while that rung has unfinished cells."""
    path = os.path.join(spec["root"], "promotions.json")
    recorded = {}
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
    key = f"rung{rung}"
    if key in recorded:
        return recorded[key]
    if any(states[c["index"]] not in ("done", "failed") for c in cells):
        return None
    configurations = {}
    for c in cells:
        configurations.setdefault(c["group"], set()).add(c["config"])
    chosen = promote(rung_scores(spec, cells, states), {g: len(v) for g, v in configurations.items()},
                     spec["search"]["halving"]["keep"])
    recorded[key] = chosen
    os.makedirs(spec["root"], exist_ok=True)
    write_atomically(path, json.dumps(recorded, indent=1))
    return chosen


def val_score(run_dir):
    """Mean meta-val accuracy of one finished search cell over its evaluated shot counts."""
    with open(os.path.join(run_dir, "eval-val.json")) as f:
        ev = json.load(f)
    if ev.get("split") != "meta-val":
        raise SearchError(f"'{run_dir}/eval-val.json' is not a meta-val evaluation")
    accs = [r["accuracy_mean"] for r in ev["results"]]
    return sum(accs) / len(accs)


def select(spec, rung_cells):
    """{group: selection} for the groups whose cells in the last rung they reached have all
    finished (done or failed), and the groups still waiting. `rung_cells`: [(cells, states)] of
    each rung so far (a random search: one). A successive-halving selection also records, per
    configuration, the rung it reached and its mean meta-val accuracy at each rung."""
    halving = "halving" in spec["search"]
    by_group = {}
    for rung, (cells, _) in enumerate(rung_cells):
        for c in cells:
            by_group.setdefault(c["group"], {}).setdefault(rung, []).append(c)
    history = [rung_scores(spec, cells, states) for cells, states in rung_cells[:-1]] if halving else []
    chosen, waiting = {}, []
    for group, by_rung in by_group.items():
        last = max(by_rung)
        members = by_rung[last]
        states = rung_cells[last][1]
        if any(states[c["index"]] not in ("done", "failed") for c in members):
            waiting.append(group)
            continue
        configs = {}
        for c in members:
            entry = configs.setdefault(c["config"], {"config": c["config"], "hparams": c["hparams"], "scores": {},
                                                     "failed_seeds": []})
            run_dir = os.path.join(spec["root"], c["stage"], "runs", c["name"])
            if states[c["index"]] == "done":
                entry["scores"][str(c["seed"])] = val_score(run_dir)
            else:
                entry["failed_seeds"].append(c["seed"])
        ranked = []
        for entry in configs.values():
            complete = not entry["failed_seeds"]
            entry["val_accuracy"] = (sum(entry["scores"].values()) / len(entry["scores"])) if complete else None
            if complete:
                ranked.append(entry)
        if halving:
            # Every configuration of rung 0, with the rung it reached and its score at each rung.
            for c in by_rung[0]:
                configs.setdefault(c["config"], {"config": c["config"], "hparams": c["hparams"]})
            for entry in configs.values():
                reached = max(r for r, cells in by_rung.items() if any(c["config"] == entry["config"] for c in cells))
                scores = [history[r].get(group, {}).get(entry["config"]) for r in range(min(reached, len(history)))]
                if reached == len(history):  # the last rung: its scores are the entry's own
                    scores.append(entry.get("val_accuracy"))
                else:
                    scores.append(history[reached].get(group, {}).get(entry["config"]))
                entry.update({"rung": reached, "rung_val_accuracy": scores, "val_accuracy": scores[-1]})
        if not ranked:
            # A method the data cannot support (croma train refuses it, e.g. unsup-meta-weak on
            # class-pure clusters) is reported as refused, with croma's one-line reason.
            chosen[group] = {"method": members[0]["method"], "point": members[0]["point"],
                             "refused": refusal(os.path.join(spec["root"], members[0]["stage"], "runs",
                                                             members[0]["name"])),
                             "configurations": sorted(configs.values(), key=lambda e: e["config"])}
            continue
        # Best mean meta-val accuracy (in the last rung); ties go to the lower index (the defaults first).
        best = max(ranked, key=lambda e: (e["val_accuracy"], -e["config"]))
        chosen[group] = {"method": members[0]["method"], "point": members[0]["point"], "config": best["config"],
                         "hparams": best["hparams"], "val_accuracy": best["val_accuracy"],
                         "configurations": sorted(configs.values(), key=lambda e: e["config"])}
        if halving:
            chosen[group]["rung"] = last
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
            for split, seed in replicates(spec):
                group = group_name(method, point)
                name = f"{group},{f'seed={seed}' if split is None else replicate_name(split, seed)}"
                # Trained as the selection's last rung trained (a rung may grow the steps).
                train = (option_args({**spec.get("train", {}), **rungs(spec)[-1]["train"]}) + option_args(point)
                         + ["--method", method]
                         + option_args(sel["hparams"]) + ["--seed", str(seed)]
                         + ([] if split is None else ["--class-split-seed", str(split)]))
                cell = {"index": len(out) + 1, "name": name, "group": group,
                        "method": method, "point": point, "config": sel["config"], "seed": seed,
                        "params": {**point, "method": method, "seed": seed}, "hparams": sel["hparams"],
                        "train": train, "done": "eval.json",
                        "eval": option_args({**spec.get("eval", {}),
                                             **s.get("final_eval_by_method", {}).get(method, {})})}
                if split is not None:
                    cell["split"] = split
                    cell["params"]["class-split-seed"] = split
                    cell["replicate"] = replicate_name(split, seed)
                out.append(cell)
    return out


def replicates(spec):
    """The final stage's (class split seed, training seed) pairs: every final seed on every class
    split of "class_split_seeds" (split None: the spec has none, the data's own split only)."""
    s = spec["search"]
    return [(split, seed) for split in s.get("class_split_seeds", [None]) for seed in s["final_seeds"]]


def replicate_name(split, seed):
    """A final cell's replicate where the search draws class splits; analysis/search_tables.py
    (interval_over) reads the split back from its "split=S" part."""
    return f"split={split},seed={seed}"

