#!/usr/bin/python3
"""Hyperparameter and seed sweeps of croma on Slurm, resumable.

    jobs/sweep.py submit    SPEC.json [--dry-run] [--rerun-failed] [--throttle N]
    jobs/sweep.py status    SPEC.json
    jobs/sweep.py aggregate SPEC.json
    jobs/sweep.py run       SPEC.json [--jobs N] [--rerun-failed]   # without Slurm: local processes
    (submit and run of a search also take --final-only: the final stage of ROOT/selection.json)

SPEC.json (paths relative to the spec file):
    {
      "name": "shots",                        # Slurm job name: croma-<name>
      "root": "sweeps/shots",                 # the sweep directory
      "croma": "../build/croma",              # default: $CROMA, else croma on PATH
      "train": {"steps": 2000, "val-every": 200},      # fixed `croma train` options
      "grid": {"shots": [1, 5], "meta-lr": [0.1, 0.3], "seed": [1, 2, 3]},
      "eval": {"eval-shots": "1,5"},          # fixed `croma eval` options
      "slurm": {"ntasks": 2, "cpus-per-task": 1, "time": "02:00:00",
                "signal": "USR1@120", "extra": ["--partition=gpu", "--gpus-per-task=1"]},
      "throttle": 8                           # at most 8 cells at once (sbatch --array=...%8)
    }

Every grid key is a `croma train` option (so any of k-shot, learning rates, seeds, method,
data and study options that croma has); a flag without value is given as true/false. Each
cell of the grid gets the run directory ROOT/runs/<key>=<value>,...,seed=<s> and one line of
ROOT/cells.tsv; one job array runs the cells, its task id picking the line (jobs/cell.sbatch).

A cell is done when its run directory holds eval.json, failed when it holds FAILED, pending
or running while Slurm lists its array task, interrupted when it started but is none of these
(killed, node lost), and new otherwise. `submit` submits new and interrupted cells (which
resume from their last checkpoint) and, with --rerun-failed, failed ones; it never submits a
cell that is done or still queued. Arrays respect the cluster's MaxArraySize.

A spec with "search" instead of "grid" runs the tuning protocol of jobs/search.py (random
search on meta-validation, selection, fresh seeds on meta-test): `submit` first submits the
search cells (ROOT/search), and once they have all finished, selects (ROOT/selection.json) and
submits the final cells (ROOT/final); `aggregate` writes the tables (ROOT/table2.md, ...) and
prints the data set's positive control (can any method learn on these data?). A committed results
folder's tables are rewritten from its results.json and selection.json alone, without the runs, by
`analysis/search_tables.py FOLDER...` (`--check`: exit 1 where a table is stale).

`run` runs the same cells without Slurm, as local processes (--jobs at once; "local":
{"ranks": R, "threads": T} in the spec runs each cell under mpirun -np R): a whole search,
stage after stage, or a whole grid. A rerun skips finished cells and resumes interrupted ones.

`--final-only` (submit, run) runs a search's final stage alone, from the selection.json already
in ROOT: copy a committed results folder's selection.json there to rerun its final runs (with
other evaluation options, or to check that its tables reproduce) without repeating the search.

`aggregate` writes ROOT/cells.csv (one row per finished cell) and ROOT/summary.csv and
ROOT/summary.md (mean +- sample std over seeds, grouped by the other grid parameters).
"""
import argparse
import csv
import itertools
import json
import math
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CELL_SCRIPT = os.path.join(HERE, "cell.sbatch")
sys.path.insert(0, HERE)
import search  # noqa: E402  (jobs/search.py: the tuning protocol)
import run_lock  # noqa: E402  (jobs/run_lock.py: one launcher per cell)

CELL_LOCK = "cell.lock"  # in a cell's run directory, held for its whole train + eval


class SweepError(Exception):
    pass


# ---- the sweep's cells --------------------------------------------------------------------

def load_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except OSError as e:
        raise SweepError(f"cannot read sweep spec '{path}': {e.strerror}")
    except json.JSONDecodeError as e:
        raise SweepError(f"sweep spec '{path}' is not valid JSON: {e}")
    base = os.path.dirname(os.path.abspath(path))
    for key in ("name", "root"):
        if key not in spec:
            raise SweepError(f"sweep spec '{path}' lacks \"{key}\"")
    if ("grid" in spec) == ("search" in spec):
        raise SweepError(f"sweep spec '{path}' needs exactly one of \"grid\" and \"search\"")
    if "search" in spec:
        try:
            search.validate(spec, f"sweep spec '{path}'")
        except search.SearchError as e:
            raise SweepError(str(e))
    else:
        if not isinstance(spec["grid"], dict) or not spec["grid"]:
            raise SweepError(f"sweep spec '{path}': \"grid\" must be an object of option: [values]")
        for key, values in spec["grid"].items():
            if not isinstance(values, list) or not values:
                raise SweepError(f"sweep spec '{path}': grid \"{key}\" must be a non-empty list")
    spec["root"] = os.path.normpath(os.path.join(base, spec["root"]))
    croma = spec.get("croma") or os.environ.get("CROMA") or shutil.which("croma") or "croma"
    if os.sep in croma:
        croma = os.path.normpath(os.path.join(base, croma))
    spec["croma"] = croma
    return spec


def option_args(options):
    args = []
    for key, value in options.items():
        if isinstance(value, bool):
            if value:
                args.append(f"--{key}")
        else:
            args += [f"--{key}", str(value)]
    return args


def value_text(value):
    text = json.dumps(value) if not isinstance(value, str) else value
    return text.replace("/", "_").replace(" ", "_").replace("\t", "_")


def cells(spec):
    """All cells, in a stable order: grid keys in spec order, seed varying fastest."""
    grid = spec["grid"]
    keys = [k for k in grid if k != "seed"] + (["seed"] if "seed" in grid else [])
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values))
        name = ",".join(f"{k}={value_text(v)}" for k, v in params.items())
        train = option_args(spec.get("train", {})) + option_args(params)
        out.append({"index": len(out) + 1, "name": name, "params": params,
                    "train": train, "eval": option_args(spec.get("eval", {}))})
    return out


def write_cells_file(spec, all_cells):
    """ROOT/cells.tsv, line i = cell i: name, train options, eval options (shell-quoted)."""
    lines = "".join(f"{c['name']}\t{shlex.join(c['train'])}\t{shlex.join(c['eval'])}\n" for c in all_cells)
    path = os.path.join(spec["root"], "cells.tsv")
    if os.path.exists(path):
        with open(path) as f:
            if f.read() != lines:
                raise SweepError(f"'{path}' was written for another grid or other options; "
                                 "give the changed sweep another \"root\"")
        return
    os.makedirs(spec["root"], exist_ok=True)
    search.write_atomically(path, lines)


# ---- Slurm --------------------------------------------------------------------------------

def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SweepError(f"'{cmd[0]}' not found: is this a Slurm login node?")
    if p.returncode != 0:
        raise SweepError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def max_array_size():
    for line in run(["scontrol", "show", "config"]).splitlines():
        if line.split("=")[0].strip() == "MaxArraySize":
            return int(line.split("=", 1)[1].strip())
    return 1001  # Slurm's default


def queued_tasks(job_ids):
    """{(array job id, task id): state} for the sweep's array tasks Slurm still lists."""
    if not job_ids:
        return {}
    out = run(["squeue", "-h", "-r", "-o", "%F|%K|%T"])
    wanted = set(str(j) for j in job_ids)
    found = {}
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3 or parts[0] not in wanted:
            continue
        try:
            found[(parts[0], int(parts[1]))] = parts[2]
        except ValueError:
            continue
    return found


def compress(indices):
    """[1,2,3,5,7,8] -> '1-3,5,7-8'"""
    ranges = []
    for i in sorted(indices):
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)


def array_chunks(indices, max_size):
    """Splits cell indices into (offset, task ids) arrays whose task ids stay below MaxArraySize."""
    span = max_size - 1
    chunks = {}
    for i in indices:
        offset = ((i - 1) // span) * span
        chunks.setdefault(offset, []).append(i - offset)
    return sorted(chunks.items())


# ---- cell states --------------------------------------------------------------------------

def submissions(spec):
    path = os.path.join(spec["root"], "submissions.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cell_states(spec, all_cells):
    subs = submissions(spec)
    queued = queued_tasks(sorted({s["job_id"] for s in subs})) if subs else {}
    where = {}  # cell index -> (job id, task id) of its latest submission
    for s in subs:
        for index in s["cells"]:
            where[index] = (str(s["job_id"]), index - s["offset"])
    states = {}
    for c in all_cells:
        run_dir = os.path.join(spec["root"], "runs", c["name"])
        slurm_state = queued.get(where.get(c["index"]))
        if slurm_state is not None:
            state = "running" if slurm_state in ("RUNNING", "COMPLETING", "SUSPENDED") else "pending"
        elif os.path.exists(os.path.join(run_dir, c.get("done", "eval.json"))):
            state = "done"
        elif os.path.exists(os.path.join(run_dir, "FAILED")):
            state = "failed"
        elif os.path.exists(os.path.join(run_dir, "config.json")):
            state = "interrupted"
        else:
            state = "new"
        states[c["index"]] = state
    return states


# ---- commands -----------------------------------------------------------------------------

def stage_spec(spec, stage):
    """The spec of one stage of a search: its own root (cells.tsv, runs/, logs/, submissions)."""
    return dict(spec, root=os.path.join(spec["root"], stage), name=f"{spec['name']}-{stage}")


def search_stages(spec):
    """([(stage spec, cells, states)] of the search's rungs so far, final stage spec or None,
    its cells). A random search has one rung; successive halving adds rung r + 1 once rung r has
    finished (search.promotions). The final stage exists once selection.json does: written when
    the last rung has finished (once: later calls read it back, so a rerun never selects again),
    or copied there (--final-only)."""
    try:
        stages = []
        promoted = None
        earlier = []
        n_rungs = len(search.rungs(spec))
        for rung in range(n_rungs):
            st_spec = stage_spec(spec, search.stage_dir(rung))
            st_cells = search.search_cells(spec, option_args, rung, promoted)
            st_states = (cell_states(st_spec, st_cells) if os.path.isdir(st_spec["root"])
                         else {c["index"]: "new" for c in st_cells})
            st_spec["reuse"] = search.reused_runs(spec, earlier, st_cells)
            stages.append((st_spec, st_cells, st_states))
            earlier.append((st_cells, st_states))
            if rung + 1 < n_rungs:
                promoted = search.promotions(spec, rung + 1, st_cells, st_states)
                if promoted is None:
                    break
        path = os.path.join(spec["root"], "selection.json")
        if os.path.exists(path):
            with open(path) as f:
                selection = json.load(f)
        elif len(stages) < n_rungs:
            return stages, None, []
        else:
            selection, waiting = search.select(spec, earlier)
            if waiting:
                return stages, None, []
            search.write_atomically(path, json.dumps(selection, indent=1))
        f_spec = stage_spec(spec, "final")
        return stages, f_spec, search.final_cells(spec, selection, option_args)
    except search.SearchError as e:
        raise SweepError(str(e))


def start_reused_runs(st_spec, all_cells):
    """Successive halving: a rung's cell whose training an earlier rung did starts as a copy of
    that run, less its evaluation and its launcher's files, so that `croma train --resume` finds
    the run finished and trains nothing, and only the evaluation on this rung's episodes runs."""
    for c in all_cells:
        source = st_spec.get("reuse", {}).get(c["name"])
        target = os.path.join(st_spec["root"], "runs", c["name"])
        if source is None or os.path.exists(target):
            continue
        tmp = target + f".{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(
            "eval-val.json", "eval.json", CELL_LOCK, "job.log", "*.out", "cell-time.json", "FAILED", "croma.lock"))
        os.replace(tmp, target)


def require_selection(spec):
    """--final-only: the final stage needs ROOT/selection.json, written by a finished search or
    copied from a committed results folder."""
    if "search" not in spec:
        raise SweepError("--final-only: this spec is a grid, not a search")
    path = os.path.join(spec["root"], "selection.json")
    if not os.path.exists(path):
        raise SweepError(f"--final-only: no '{path}' (run the search, or copy a committed results "
                         f"folder's selection.json there)")


def cmd_submit(spec, args):
    if "search" not in spec:
        if args.final_only:
            require_selection(spec)
        return submit_cells(spec, cells(spec), args)
    if args.final_only:
        require_selection(spec)
        _, f_spec, f_cells = search_stages(spec)
        return submit_cells(f_spec, f_cells, args)
    stages_, f_spec, f_cells = search_stages(spec)
    wanted = {"new", "interrupted"} | ({"failed"} if args.rerun_failed else set())
    for st_spec, st_cells, st_states in stages_:
        if any(st in wanted for st in st_states.values()):
            return submit_cells(st_spec, st_cells, args)
    if f_spec is None:  # the last rung so far still runs: nothing new to submit
        return submit_cells(stages_[-1][0], stages_[-1][1], args)
    print(f"sweep {spec['name']}: search finished, configurations selected ({spec['root']}/selection.json)",
          file=sys.stderr)
    return submit_cells(f_spec, f_cells, args)


def submit_cells(spec, all_cells, args):
    if not args.dry_run:
        write_cells_file(spec, all_cells)
        start_reused_runs(spec, all_cells)
    states = cell_states(spec, all_cells) if os.path.isdir(spec["root"]) else {c["index"]: "new" for c in all_cells}
    wanted = {"new", "interrupted"} | ({"failed"} if args.rerun_failed else set())
    todo = [c["index"] for c in all_cells if states[c["index"]] in wanted]
    counts = {s: list(states.values()).count(s) for s in sorted(set(states.values()))}
    print(f"sweep {spec['name']}: {len(all_cells)} cells ({', '.join(f'{n} {s}' for s, n in counts.items())}); "
          f"submitting {len(todo)}", file=sys.stderr)
    if not todo:
        print(json.dumps({"command": "submit", "sweep": spec["name"], "submitted": [], "jobs": []}))
        return 0
    slurm = spec.get("slurm", {})
    throttle = args.throttle if args.throttle is not None else spec.get("throttle")
    try:
        max_size = max_array_size()
    except SweepError:
        if not args.dry_run:
            raise
        max_size = 1001  # a dry run away from the cluster: Slurm's default
    if not args.dry_run:
        os.makedirs(os.path.join(spec["root"], "logs"), exist_ok=True)
    jobs = []
    for offset, tasks in array_chunks(todo, max_size):
        array = compress(tasks) + (f"%{throttle}" if throttle else "")
        cmd = ["sbatch", "--parsable", f"--job-name=croma-{spec['name']}", f"--array={array}",
               f"--ntasks={slurm.get('ntasks', 1)}", f"--cpus-per-task={slurm.get('cpus-per-task', 1)}",
               f"--time={slurm.get('time', '01:00:00')}", f"--signal={slurm.get('signal', 'USR1@120')}",
               "--requeue", "--open-mode=append",
               f"--output={os.path.join(spec['root'], 'logs', '%A_%a.out')}",
               f"--export=ALL,CROMA={spec['croma']},CROMA_JOBS_DIR={HERE}"] + list(slurm.get("extra", [])) + \
              [CELL_SCRIPT, spec["root"], str(offset)]
        cell_ids = [offset + t for t in tasks]
        if args.dry_run:
            print(shlex.join(cmd))
            for i in cell_ids:
                print(f"  cell {i}: {all_cells[i - 1]['name']} ({states[i]})")
            continue
        job_id = run(cmd).strip().split(";")[0]
        jobs.append(job_id)
        with open(os.path.join(spec["root"], "submissions.jsonl"), "a") as f:
            f.write(json.dumps({"job_id": job_id, "offset": offset, "cells": cell_ids,
                                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
        print(f"submitted array job {job_id}: cells {compress(cell_ids)}", file=sys.stderr)
    print(json.dumps({"command": "submit", "sweep": spec["name"], "dry_run": args.dry_run,
                      "submitted": todo, "jobs": jobs}))
    return 0


def stages(spec):
    """[(stage spec, cells)] of a grid (one) or a search (its rungs so far, then the final stage
    once it exists; see search_stages)."""
    if "search" not in spec:
        return [(spec, cells(spec))]
    stages_, f_spec, f_cells = search_stages(spec)
    return [(st_spec, st_cells) for st_spec, st_cells, _ in stages_] + ([(f_spec, f_cells)] if f_spec else [])


def cmd_status(spec, args):
    report = {"command": "status", "sweep": spec["name"], "counts": {}, "cells": {}}
    for st_spec, all_cells in stages(spec):
        states = cell_states(st_spec, all_cells) if os.path.isdir(st_spec["root"]) else {c["index"]: "new" for c in all_cells}
        width = max(len(c["name"]) for c in all_cells)
        if "search" in spec:
            print(f"== {st_spec['name']}", file=sys.stderr)
        for c in all_cells:
            print(f"{c['index']:4d}  {c['name']:<{width}}  {states[c['index']]}", file=sys.stderr)
        counts = {s: list(states.values()).count(s) for s in ("pending", "running", "done", "failed", "interrupted", "new")}
        print(" ".join(f"{s}={n}" for s, n in counts.items()), file=sys.stderr)
        for key, n in counts.items():
            report["counts"][key] = report["counts"].get(key, 0) + n
        prefix = "" if "search" not in spec else os.path.basename(st_spec["root"]) + "/"
        report["cells"].update({prefix + c["name"]: states[c["index"]] for c in all_cells})
    print(json.dumps(report))
    return 0


# ---- local launcher -----------------------------------------------------------------------

def run_cell_locally(spec, root, cell):
    """What jobs/cell.sbatch does, as local processes: train (resuming), then evaluate. Leaves
    job.log, train.out, eval.out, cell-time.json (seconds per stage) and FAILED on failure."""
    local = spec.get("local", {})
    ranks, threads = int(local.get("ranks", 1)), int(local.get("threads", 1))
    run_dir = os.path.join(root, "runs", cell["name"])
    os.makedirs(run_dir, exist_ok=True)
    # One launcher per cell at a time (another sweep.py run, a Slurm array task): a cell
    # another live launcher holds is skipped now and waited for at the end of the stage.
    try:
        lock = run_lock.HeldLock(os.path.join(run_dir, CELL_LOCK), "a sweep cell (sweep.py run)")
    except run_lock.LockHeld:
        return cell["name"], "held"
    try:
        if os.path.exists(os.path.join(run_dir, cell.get("done", "eval.json"))):
            return cell["name"], "done"  # by another launcher, since this one looked
        return run_locked_cell(spec, run_dir, cell)
    finally:
        lock.release()


def run_locked_cell(spec, run_dir, cell):
    local = spec.get("local", {})
    ranks, threads = int(local.get("ranks", 1)), int(local.get("threads", 1))
    failed = os.path.join(run_dir, "FAILED")
    if os.path.exists(failed):
        os.remove(failed)
    launch = ["mpirun", "--oversubscribe", "-np", str(ranks)] if ranks > 1 else []
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    times = {"ranks": ranks, "threads": threads}
    with open(os.path.join(run_dir, "job.log"), "a") as log:
        for stage, cmd in (("train", launch + [spec["croma"], "train", "--resume", "--run-dir", run_dir,
                                                "--threads", str(threads)] + cell["train"]),
                           ("eval", [spec["croma"], "eval", "--run-dir", run_dir, "--threads", str(threads)]
                            + cell["eval"])):
            log.write(f"== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {stage}: {shlex.join(cmd)}\n")
            log.flush()
            start = time.time()
            with open(os.path.join(run_dir, f"{stage}.out"), "w") as out:
                rc = subprocess.run(cmd, stdout=out, stderr=log, env=env).returncode
            times[f"{stage}_s"] = round(time.time() - start, 3)
            if rc != 0:
                with open(failed, "w") as f:
                    f.write(f"{stage} {rc} local\n")
                return cell["name"], "failed"
    with open(os.path.join(run_dir, "cell-time.json"), "w") as f:
        json.dump(times, f)
    return cell["name"], "done"


def run_stage_locally(spec, st_spec, all_cells, args):
    write_cells_file(st_spec, all_cells)
    start_reused_runs(st_spec, all_cells)
    states = cell_states(st_spec, all_cells)
    wanted = {"new", "interrupted"} | ({"failed"} if args.rerun_failed else set())
    todo = [c for c in all_cells if states[c["index"]] in wanted]
    print(f"{st_spec['name']}: {len(all_cells)} cells, running {len(todo)} with {args.jobs} at once",
          file=sys.stderr)
    results = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        while todo:
            held = []
            for cell, (name, state) in zip(todo, pool.map(lambda c: run_cell_locally(spec, st_spec["root"], c), todo)):
                print(f"  {state}: {name}", file=sys.stderr)
                if state == "held":
                    held.append(cell)
                else:
                    results.append(state)
            # Cells another launcher runs: wait for it to let go, then run whatever it left
            # unfinished, so that every launcher ends with the stage complete.
            todo = []
            for cell in held:
                path = os.path.join(st_spec["root"], "runs", cell["name"], CELL_LOCK)
                holder = run_lock.read_holder(path)
                while holder is not None and not run_lock.staleness(holder[0], holder[1], socket.gethostname()):
                    time.sleep(1)  # a stale holder: the next attempt takes it over
                    holder = run_lock.read_holder(path)
                states = cell_states(st_spec, [cell])
                if states[cell["index"]] in wanted:
                    todo.append(cell)
                else:
                    print(f"  {states[cell['index']]} by another launcher: {cell['name']}", file=sys.stderr)
                    results.append(states[cell["index"]])
    return results.count("failed")


def cmd_run(spec, args):
    if args.jobs < 1:
        raise SweepError(f"invalid value for --jobs: {args.jobs} (must be >= 1)")
    failed = 0
    if args.final_only:
        require_selection(spec)
        _, f_spec, f_cells = search_stages(spec)
        failed += run_stage_locally(spec, f_spec, f_cells, args)
    elif "search" not in spec:
        failed = run_stage_locally(spec, spec, cells(spec), args)
    else:
        for rung in range(len(search.rungs(spec))):
            stages_, _, _ = search_stages(spec)
            if rung >= len(stages_):
                raise SweepError(f"rung {rung - 1} of the search has unfinished cells; run again")
            st_spec, st_cells, _ = stages_[rung]
            failed += run_stage_locally(spec, st_spec, st_cells, args)
        _, f_spec, f_cells = search_stages(spec)
        if f_spec is None:
            raise SweepError("the search stage has unfinished cells; run again")
        failed += run_stage_locally(spec, f_spec, f_cells, args)
    print(json.dumps({"command": "run", "sweep": spec["name"], "failed": failed}))
    return 1 if failed else 0


def cell_metrics(run_dir):
    """Final metrics of one finished cell: few-shot test accuracy per shot, val and losses."""
    with open(os.path.join(run_dir, "eval.json")) as f:
        ev = json.load(f)
    metrics = {}
    for r in ev["results"]:
        metrics[f"test_acc_{r['shots']}shot"] = r["accuracy_mean"]
    summary_path = os.path.join(run_dir, "summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            s = json.load(f)
        for key in ("best_val_accuracy", "final_align_loss", "final_class_loss"):
            if s.get(key) is not None:
                metrics[key] = s[key]
    return metrics


def mean_std(values):
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def cmd_aggregate(spec, args):
    if "search" in spec:
        return aggregate_search(spec)
    all_cells = cells(spec)
    keys = list(all_cells[0]["params"].keys())
    group_keys = [k for k in keys if k != "seed"]
    rows, missing = [], []
    for c in all_cells:
        run_dir = os.path.join(spec["root"], "runs", c["name"])
        if not os.path.exists(os.path.join(run_dir, "eval.json")):
            missing.append(c["name"])
            continue
        rows.append({**{k: c["params"][k] for k in keys}, **cell_metrics(run_dir)})
    if not rows:
        raise SweepError(f"no finished cell in {spec['root']} (run `status`)")
    metric_names = sorted({m for r in rows for m in r if m not in keys},
                          key=lambda m: (not m.startswith("test_acc"), m))
    root = spec["root"]

    def write_csv(path, header, body):
        with open(path + ".tmp", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(body)
        os.replace(path + ".tmp", path)

    write_csv(os.path.join(root, "cells.csv"), keys + metric_names,
              [[r.get(k, "") for k in keys + metric_names] for r in rows])
    groups = {}
    for r in rows:
        groups.setdefault(tuple(json.dumps(r[k]) for k in group_keys), []).append(r)
    summary = []
    for gkey, members in groups.items():
        entry = {k: members[0][k] for k in group_keys}
        entry["n"] = len(members)
        for m in metric_names:
            values = [r[m] for r in members if m in r]
            entry[m] = mean_std(values) if values else None
        summary.append(entry)
    header = group_keys + ["n"]
    for m in metric_names:
        header += [f"{m}_mean", f"{m}_std"]
    write_csv(os.path.join(root, "summary.csv"), header,
              [[e[k] for k in group_keys] + [e["n"]] +
               [x for m in metric_names for x in (e[m] if e[m] else ("", ""))] for e in summary])
    md = [f"# Sweep {spec['name']}", "",
          f"{len(rows)} of {len(all_cells)} cells finished; mean ± std over seeds "
          f"(sample std; n = seeds per row).", ""]
    md.append("| " + " | ".join(group_keys + ["n"] + metric_names) + " |")
    md.append("|" + "---|" * (len(group_keys) + 1 + len(metric_names)))
    for e in summary:
        cells_md = [str(e[k]) for k in group_keys] + [str(e["n"])]
        cells_md += [f"{e[m][0]:.4f} ± {e[m][1]:.4f}" if e[m] else "" for m in metric_names]
        md.append("| " + " | ".join(cells_md) + " |")
    if missing:
        md += ["", "Not finished: " + ", ".join(missing)]
    with open(os.path.join(root, "summary.md.tmp"), "w") as f:
        f.write("\n".join(md) + "\n")
    os.replace(os.path.join(root, "summary.md.tmp"), os.path.join(root, "summary.md"))
    print("\n".join(md), file=sys.stderr)
    print(json.dumps({"command": "aggregate", "sweep": spec["name"], "cells_done": len(rows),
                      "cells_total": len(all_cells), "groups": len(summary), "missing": missing,
                      "csv": os.path.join(root, "summary.csv"), "markdown": os.path.join(root, "summary.md")}))
    return 0


def aggregate_search(spec):
    """The tables of a search (analysis/search_tables.py), from the runs on disk."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "analysis"))
    import search_tables
    stages_, f_spec, f_cells = search_stages(spec)
    s_cells = [c for _, st_cells, _ in stages_ for c in st_cells]
    if f_spec is None:
        raise SweepError("the search stage has not finished: nothing is selected yet (run `status`)")
    with open(os.path.join(spec["root"], "selection.json")) as f:
        selection = json.load(f)
    summary, written = search_tables.write_tables(spec, selection, s_cells, f_cells)
    with open(written["table2"]) as f:
        print(f.read(), file=sys.stderr)
    control = search_tables.positive_control(summary)
    print(search_tables.control_text(control), file=sys.stderr)
    print(json.dumps({"command": "aggregate", "sweep": spec["name"], "final_done": len(f_cells) - len(summary["missing"]),
                      "final_total": len(f_cells), "missing": summary["missing"], "compute": summary["compute"],
                      "positive_control": {"passes": control["passes"],
                                           "passing": [m["group"] for m in control["methods"] if m["passes"]],
                                           "oracle_passes": None if control["oracle"] is None else control["oracle"]["passes"]},
                      "written": written}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="submit the cells that are not done (job arrays)")
    p.add_argument("spec")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch commands, submit nothing")
    p.add_argument("--rerun-failed", action="store_true", help="also submit cells that failed")
    p.add_argument("--throttle", type=int, help="at most N cells at once (overrides the spec)")
    p.add_argument("--final-only", action="store_true",
                   help="a search's final stage alone, from ROOT/selection.json (no search cell is run)")
    p = sub.add_parser("status", help="list cells as pending / running / done / failed / ...")
    p.add_argument("spec")
    p = sub.add_parser("aggregate", help="collect finished cells into CSV and markdown tables")
    p.add_argument("spec")
    p = sub.add_parser("run", help="run the cells that are not done as local processes (no Slurm)")
    p.add_argument("spec")
    p.add_argument("--jobs", type=int, default=1, help="cells at once (default 1)")
    p.add_argument("--rerun-failed", action="store_true", help="also run cells that failed")
    p.add_argument("--final-only", action="store_true",
                   help="a search's final stage alone, from ROOT/selection.json (no search cell is run)")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        if args.command == "submit" and args.throttle is not None and args.throttle < 1:
            raise SweepError(f"invalid value for --throttle: {args.throttle} (must be >= 1)")
        commands = {"submit": cmd_submit, "status": cmd_status, "aggregate": cmd_aggregate, "run": cmd_run}
        return commands[args.command](spec, args)
    except SweepError as e:
        print(f"sweep.py {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
