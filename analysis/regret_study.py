"""The regret of a selection procedure, measured on a densely evaluated pool of configurations.

    python3 analysis/regret_study.py pool SPEC [--jobs N]
    python3 analysis/regret_study.py study SPEC [--draws 200] [--searched N] [--procedures FILE]
                                               [--out DIR]

A search picks one configuration per method from noisy meta-val scores (jobs/search.py). How
much accuracy does that noise cost, and what buys it back for the least compute? This script
answers it without rerunning any search, from one pool evaluated densely:

`pool` runs SPEC, a search spec (jobs/sweep.py) whose "trial_seeds" and "val_eval" give the
pool's fidelity (say 3 seeds x 600 meta-val episodes; a "halving" spec is refused), as its search
stage: exactly the cells `sweep.py run` would run, in ROOT/search, resumable. Then it evaluates
every finished cell on meta-test with the same options (`croma eval --split test
--skip-untrained`, written to the cell's eval.json beside eval-val.json). The meta-test scores
are the reference: a configuration's reference accuracy is its mean over the pool's seeds and
episodes. They are never used for selection.

`study` replays selection procedures on the pool's meta-val episodes, --draws times each. A
procedure is a list of rungs [seeds, episodes] and a "keep" (one rung: a plain random search;
several: successive halving, promoting the best ceil(n / keep) of a rung's n configurations with
jobs/search.py's own promote(), so the replay ranks exactly as the tool does). Each draw:
- picks the searched configurations: config 0 (the defaults) and --searched - 1 others drawn from
  the pool (all of them without --searched), as a re-seeded search draws other configurations;
- orders the pool's seeds at random: a rung of s seeds reads the first s, the same for every
  configuration (a search's trial seed is shared, and with it the world and the episodes);
- permutes each seed's meta-val episodes: a rung of e episodes reads the first e of them
  (episodes are independent draws given the model, so any e of them are a fresh evaluation of e
  episodes; rungs nest, as a rung's evaluation with the same seed repeats the first episodes).
A rung's score of a configuration is its mean meta-val accuracy over the rung's seeds, each
seed's the mean over the evaluated shot counts of the mean over the rung's episodes (what
jobs/search.py's val_score reads). Selection: the best score in the last rung, ties to the lower
index. Regret = the best reference accuracy in the pool minus the selected configuration's.

Compute of a draw: every (configuration, seed) trained once (its cell-time.json train seconds x
ranks x threads), plus each rung's evaluation of it at eval seconds x e / (the pool's episodes) x
threads (a rung evaluates its episodes again, as the tool does; an evaluation's fixed start-up
is scaled with it, which flatters small rungs slightly).

Written to --out (default ROOT/regret): regret.md (per method and procedure: mean regret with
the 95 % t-interval over draws, how often the pool's best was chosen, CPU-hours; then the
paired difference to the first procedure, today's protocol) and regret.json. The intervals are
over draws from this one pool: they say how much a procedure's choice varies with its draws,
not how the pool itself would vary. The pool's best is chosen by its own noisy reference, so
every regret is biased upwards by the same winner's curse.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "jobs")]
import search  # noqa: E402  (jobs/search.py: promote(), the search's own ranking)
import search_tables  # noqa: E402  (analysis/search_tables.py: t_interval(), the tables' own interval)
import sweep   # noqa: E402  (jobs/sweep.py: the spec, the search stage's cells and local runs)

# Today's protocol first: every other procedure is compared with it.
DEFAULT_PROCEDURES = [
    {"name": "random search, 1 seed x 100 episodes", "keep": 1, "rungs": [[1, 100]]},
    {"name": "random search, 1 seed x 600 episodes", "keep": 1, "rungs": [[1, 600]]},
    {"name": "random search, 3 seeds x 300 episodes", "keep": 1, "rungs": [[3, 300]]},
    {"name": "halving /3: 1x100, 3x300", "keep": 3, "rungs": [[1, 100], [3, 300]]},
    {"name": "halving /3: 1x100, 3x300, 3x600", "keep": 3, "rungs": [[1, 100], [3, 300], [3, 600]]},
    {"name": "halving /2: 1x100, 2x300, 3x600", "keep": 2, "rungs": [[1, 100], [2, 300], [3, 600]]},
]


class StudyError(Exception):
    pass


# ---- the pool -------------------------------------------------------------------------------

def pool_stage(spec):
    """(stage spec, cells) of the pool: the search stage of a plain random search."""
    if "search" not in spec:
        raise StudyError("the pool spec is a grid; it must be a search spec (jobs/sweep.py)")
    if "halving" in spec["search"]:
        raise StudyError("the pool spec selects by successive halving; a pool evaluates every configuration at "
                         "every seed: give it \"trial_seeds\" instead")
    try:
        cells = search.search_cells(spec, sweep.option_args)
    except search.SearchError as e:
        raise StudyError(str(e))
    return sweep.stage_spec(spec, search.stage_dir(0)), cells


def reference_args(cell):
    """`croma eval` options of a cell's reference evaluation: its meta-val options on meta-test."""
    args = list(cell["eval"])
    i = args.index("--split")
    args[i + 1] = "test"
    return args


def evaluate_reference(spec, st_spec, cell):
    run_dir = os.path.join(st_spec["root"], "runs", cell["name"])
    if os.path.exists(os.path.join(run_dir, "eval.json")):
        return cell["name"], "done"
    threads = int(spec.get("local", {}).get("threads", 1))
    cmd = [spec["croma"], "eval", "--run-dir", run_dir, "--threads", str(threads)] + reference_args(cell)
    start = time.time()
    with open(os.path.join(run_dir, "reference.out"), "w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                            env=dict(os.environ, OMP_NUM_THREADS=str(threads))).returncode
    if rc != 0:
        return cell["name"], "failed"
    with open(os.path.join(run_dir, "reference-time.json"), "w") as f:
        json.dump({"eval_s": round(time.time() - start, 3), "threads": threads}, f)
    return cell["name"], "done"


def cmd_pool(spec, args):
    st_spec, cells = pool_stage(spec)
    failed = sweep.run_stage_locally(spec, st_spec, cells, args)
    states = sweep.cell_states(st_spec, cells)
    done = [c for c in cells if states[c["index"]] == "done"]
    with ThreadPoolExecutor(max_workers=args.jobs) as workers:
        results = list(workers.map(lambda c: evaluate_reference(spec, st_spec, c), done))
    failed += sum(1 for _, state in results if state == "failed")
    for name, state in results:
        if state == "failed":
            print(f"  reference evaluation failed: {name} (see its reference.out)", file=sys.stderr)
    print(json.dumps({"command": "pool", "sweep": spec["name"], "cells": len(cells), "trained": len(done),
                      "failed": failed}))
    return 1 if failed else 0


def episode_matrix(ev, path):
    """Per-episode accuracy averaged over the evaluated shot counts: a 1-D array."""
    rows = []
    for r in ev.get("results", []):
        seeds = r.get("trained", {}).get("seeds", [])
        if len(seeds) != 1 or "task_accuracy" not in seeds[0]:
            raise StudyError(f"'{path}' lacks per-episode accuracies (results[].trained.seeds[0].task_accuracy)")
        rows.append(seeds[0]["task_accuracy"])
    if not rows or len({len(r) for r in rows}) != 1:
        raise StudyError(f"'{path}': no results, or shot counts with different numbers of episodes")
    return np.mean(np.array(rows, dtype=float), axis=0)


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise StudyError(f"'{path}' is missing: {what}")
    except ValueError as e:
        raise StudyError(f"'{path}' is not valid JSON ({e}): {what}")


def load_pool(spec):
    """{group: {"configs": [index], "seeds": [seed], "val": {(config, seed): episodes},
    "reference": {config: accuracy}, "train_s": {(config, seed): s}, "eval_s": {(config, seed): s}}}.
    Every cell must be finished with its reference; a failed cell is an error (the pool must be
    complete, or the replay would skip what a real search would have scored)."""
    st_spec, cells = pool_stage(spec)
    states = sweep.cell_states(st_spec, cells)
    pool = {}
    for c in cells:
        run_dir = os.path.join(st_spec["root"], "runs", c["name"])
        if states[c["index"]] != "done":
            raise StudyError(f"pool cell '{c['name']}' is {states[c['index']]}: run `regret_study.py pool` until "
                             f"every cell is done")
        g = pool.setdefault(c["group"], {"method": c["method"], "configs": set(), "seeds": set(), "val": {},
                                         "test": {}, "train_s": {}, "eval_s": {}})
        key = (c["config"], c["seed"])
        g["configs"].add(c["config"])
        g["seeds"].add(c["seed"])
        g["val"][key] = episode_matrix(read_json(os.path.join(run_dir, "eval-val.json"), "the meta-val evaluation"),
                                       os.path.join(run_dir, "eval-val.json"))
        ref_path = os.path.join(run_dir, "eval.json")
        ref = read_json(ref_path, "the reference (meta-test) evaluation: run `regret_study.py pool`")
        if ref.get("split") != "meta-test":
            raise StudyError(f"'{ref_path}' is not a meta-test evaluation")
        g["test"][key] = float(np.mean(episode_matrix(ref, ref_path)))
        t = read_json(os.path.join(run_dir, "cell-time.json"), "the cell's recorded seconds")
        g["train_s"][key] = t.get("train_s", 0) * t.get("ranks", 1) * t.get("threads", 1)
        g["eval_s"][key] = t.get("eval_s", 0) * t.get("threads", 1)
    for name, g in pool.items():
        g["configs"], g["seeds"] = sorted(g["configs"]), sorted(g["seeds"])
        lengths = {len(v) for v in g["val"].values()}
        if len(lengths) != 1:
            raise StudyError(f"{name}: the pool's cells evaluated different numbers of meta-val episodes {sorted(lengths)}")
        g["episodes"] = lengths.pop()
        g["reference"] = {cfg: float(np.mean([g["test"][(cfg, s)] for s in g["seeds"]])) for cfg in g["configs"]}
    return pool


# ---- the replay -----------------------------------------------------------------------------

def validate_procedures(procedures, pool):
    if not isinstance(procedures, list) or not procedures:
        raise StudyError("procedures must be a non-empty list")
    for p in procedures:
        if not isinstance(p, dict) or set(p) != {"name", "keep", "rungs"}:
            raise StudyError(f"procedure {p!r}: needs exactly \"name\", \"keep\" and \"rungs\"")
        integer = lambda x: isinstance(x, int) and not isinstance(x, bool)
        rungs = p["rungs"]
        if (not isinstance(rungs, list) or not rungs
                or not all(isinstance(r, list) and len(r) == 2 and all(integer(x) and x >= 1 for x in r) for r in rungs)):
            raise StudyError(f"procedure '{p['name']}': \"rungs\" must be a non-empty list of [seeds, episodes], "
                             f"each an integer >= 1")
        if not integer(p["keep"]) or p["keep"] < 1:
            raise StudyError(f"procedure '{p['name']}': \"keep\" must be an integer >= 1")
        if len(rungs) > 1 and p["keep"] < 2:
            raise StudyError(f"procedure '{p['name']}': \"keep\" must be >= 2 with several rungs")
        for g in pool.values():
            for seeds, episodes in rungs:
                if seeds > len(g["seeds"]) or episodes > g["episodes"]:
                    raise StudyError(f"procedure '{p['name']}': rung [{seeds}, {episodes}] needs more than the pool "
                                     f"holds ({len(g['seeds'])} seeds x {g['episodes']} episodes)")


def draw_once(g, searched, rng):
    """(configurations searched, seed order, {seed: episode permutation}) of one draw."""
    others = [c for c in g["configs"] if c != 0]
    if searched is None or searched >= len(g["configs"]):
        configs = list(g["configs"])
    else:
        configs = sorted(([0] if 0 in g["configs"] else []) +
                         list(rng.choice(others, size=searched - (1 if 0 in g["configs"] else 0), replace=False)))
    seeds = list(rng.permutation(g["seeds"]))
    perms = {s: rng.permutation(g["episodes"]) for s in g["seeds"]}
    return [int(c) for c in configs], [int(s) for s in seeds], perms


def replay(g, procedure, configs, seeds, perms):
    """(selected configuration, CPU seconds) of one procedure on one draw."""
    alive = list(configs)
    trained = set()
    seconds = 0.0
    scores = {}
    for r, (n_seeds, n_episodes) in enumerate(procedure["rungs"]):
        rung_seeds = seeds[:n_seeds]
        scores = {}
        for cfg in alive:
            per_seed = []
            for s in rung_seeds:
                if (cfg, s) not in trained:
                    trained.add((cfg, s))
                    seconds += g["train_s"][(cfg, s)]
                seconds += g["eval_s"][(cfg, s)] * n_episodes / g["episodes"]
                per_seed.append(float(np.mean(g["val"][(cfg, s)][perms[s][:n_episodes]])))
            scores[cfg] = sum(per_seed) / len(per_seed)
        if r + 1 < len(procedure["rungs"]):
            alive = search.promote({"g": scores}, {"g": len(alive)}, procedure["keep"])["g"]
    best = max(scores.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return best, seconds


def study(pool, procedures, draws, searched, seed=0):
    """{group: {"best": config, "best_reference": acc, "procedures": [{...}]}}: each procedure's
    regret (points) and CPU-hours per draw, summarised, and paired against the first procedure."""
    validate_procedures(procedures, pool)
    out = {}
    for gi, (name, g) in enumerate(sorted(pool.items())):
        if searched is not None and (searched < 1 or searched > len(g["configs"])):
            raise StudyError(f"--searched {searched}: the pool of {name} holds {len(g['configs'])} configurations")
        best_ref = max(g["reference"].values())
        best_cfg = min(c for c, v in g["reference"].items() if v == best_ref)
        regrets = [[] for _ in procedures]
        cpu = [[] for _ in procedures]
        hits = [0 for _ in procedures]
        for d in range(draws):
            rng = np.random.default_rng([seed, gi, d])
            configs, seeds, perms = draw_once(g, searched, rng)
            for i, p in enumerate(procedures):
                chosen, seconds = replay(g, p, configs, seeds, perms)
                regrets[i].append(100 * (best_ref - g["reference"][chosen]))
                cpu[i].append(seconds / 3600)
                hits[i] += chosen == best_cfg
        rows = []
        for i, p in enumerate(procedures):
            mean, half, _ = search_tables.t_interval(regrets[i])
            diff, diff_half, _ = search_tables.t_interval(
                [float(x) for x in np.array(regrets[0]) - np.array(regrets[i])])
            rows.append({"procedure": p["name"], "keep": p["keep"], "rungs": p["rungs"],
                         "regret": mean, "regret_ci95": half, "picks_best": hits[i] / draws,
                         "cpu_hours": float(np.mean(cpu[i])),
                         "regret_below_first": diff, "regret_below_first_ci95": diff_half})
        out[name] = {"method": g["method"], "configurations": len(g["configs"]), "seeds": g["seeds"],
                     "episodes": g["episodes"], "best": best_cfg, "best_reference": best_ref,
                     "procedures": rows}
    return out


def goal_met(first, other):
    """The issue's goal, on means: at most half the first procedure's regret for no more CPU, or
    no more regret for at most a third of its CPU."""
    return ((other["regret"] <= first["regret"] / 2 and other["cpu_hours"] <= first["cpu_hours"]) or
            (other["regret"] <= first["regret"] and other["cpu_hours"] <= first["cpu_hours"] / 3))


def overall(result, procedures):
    """Per procedure, the mean over methods of regret and CPU-hours."""
    rows = []
    for i, p in enumerate(procedures):
        per = [g["procedures"][i] for g in result.values()]
        rows.append({"procedure": p["name"], "regret": float(np.mean([r["regret"] for r in per])),
                     "cpu_hours": float(np.sum([r["cpu_hours"] for r in per])),
                     "picks_best": float(np.mean([r["picks_best"] for r in per]))})
    return rows


def fmt(mean, half, digits=2):
    return f"{mean:.{digits}f}" + ("" if half is None else f" ± {half:.{digits}f}")


def markdown(spec_name, result, procedures, draws, searched):
    total = overall(result, procedures)
    lines = [f"# Regret of selection procedures: {spec_name}", "",
             f"Each procedure replayed {draws} times on the pool's meta-val episodes "
             f"({'every configuration' if searched is None else f'{searched} configurations'} per search; "
             "analysis/regret_study.py says how a draw is made). Regret: the pool's best reference (meta-test) "
             "accuracy minus the selected configuration's, in points, mean with the 95 % t-interval over draws. "
             "'picks best': the share of draws that chose the pool's best. CPU-hours: per search, from the cells' "
             "recorded seconds. 'below first': the first procedure's regret minus this one's, paired by draw.", "",
             "Goal: at most half the first procedure's regret for no more CPU-hours, or no more regret for at most "
             "a third of them (on the means over methods below).", "",
             "| procedure | mean regret (points) | picks best | CPU-hours (all methods) | goal |",
             "|---|---|---|---|---|"]
    for i, row in enumerate(total):
        goal = "(the reference)" if i == 0 else ("met" if goal_met(total[0], row) else "not met")
        lines.append(f"| {row['procedure']} | {row['regret']:.2f} | {100 * row['picks_best']:.0f} % | "
                     f"{row['cpu_hours']:.2f} | {goal} |")
    for name, g in result.items():
        lines += ["", f"## {name}", "",
                  f"{g['configurations']} configurations x seeds {g['seeds']} x {g['episodes']} meta-val episodes; "
                  f"the pool's best is config {g['best']} at {100 * g['best_reference']:.1f} % (reference).", "",
                  "| procedure | regret (points) | below first | picks best | CPU-hours |", "|---|---|---|---|---|"]
        for i, r in enumerate(g["procedures"]):
            below = "" if i == 0 else fmt(r["regret_below_first"], r["regret_below_first_ci95"])
            lines.append(f"| {r['procedure']} | {fmt(r['regret'], r['regret_ci95'])} | {below} | "
                         f"{100 * r['picks_best']:.0f} % | {r['cpu_hours']:.3f} |")
    return "\n".join(lines) + "\n"


def cmd_study(spec, args):
    procedures = DEFAULT_PROCEDURES
    if args.procedures:
        procedures = read_json(args.procedures, "the procedures file")
    if args.draws < 2:
        raise StudyError(f"--draws {args.draws}: at least 2 draws are needed for an interval")
    pool = load_pool(spec)
    result = study(pool, procedures, args.draws, args.searched, args.seed)
    out = args.out or os.path.join(spec["root"], "regret")
    os.makedirs(out, exist_ok=True)
    text = markdown(spec["name"], result, procedures, args.draws, args.searched)
    document = {"spec": spec["name"], "draws": args.draws, "searched": args.searched, "seed": args.seed,
                "procedures": procedures, "groups": result, "overall": overall(result, procedures)}
    for name, content in (("regret.json", json.dumps(document, indent=1)), ("regret.md", text)):
        search.write_atomically(os.path.join(out, name), content)
    sys.stdout.write(text)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="regret_study.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pool", help="train the pool and evaluate every cell on meta-val and meta-test")
    p.add_argument("spec")
    p.add_argument("--jobs", type=int, default=1, help="cells at once (default 1)")
    p.add_argument("--rerun-failed", action="store_true", help="also run pool cells that failed")
    p = sub.add_parser("study", help="replay selection procedures on the pool; write regret.md and regret.json")
    p.add_argument("spec")
    p.add_argument("--draws", type=int, default=200, help="replays of each procedure (default 200)")
    p.add_argument("--searched", type=int, help="configurations per search (default: the whole pool)")
    p.add_argument("--procedures", help="a JSON list of {name, keep, rungs: [[seeds, episodes], ...]}")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.add_argument("--out", help="folder of regret.md and regret.json (default ROOT/regret)")
    args = parser.parse_args(argv)
    try:
        if args.command == "pool" and args.jobs < 1:
            raise StudyError(f"invalid value for --jobs: {args.jobs} (must be >= 1)")
        spec = sweep.load_spec(args.spec)
        return {"pool": cmd_pool, "study": cmd_study}[args.command](spec, args)
    except (StudyError, sweep.SweepError) as e:
        print(f"regret_study.py {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
