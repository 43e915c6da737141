#!/usr/bin/python3
"""Hyperparameter and seed sweeps of croma on Slurm, resumable.

    jobs/sweep.py submit    SPEC.json [--dry-run] [--rerun-failed] [--throttle N]
    jobs/sweep.py status    SPEC.json
    jobs/sweep.py aggregate SPEC.json

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
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CELL_SCRIPT = os.path.join(HERE, "cell.sbatch")


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
    for key in ("name", "root", "grid"):
        if key not in spec:
            raise SweepError(f"sweep spec '{path}' lacks \"{key}\"")
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
    with open(path + ".tmp", "w") as f:
        f.write(lines)
    os.replace(path + ".tmp", path)


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
        elif os.path.exists(os.path.join(run_dir, "eval.json")):
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

def cmd_submit(spec, args):
    all_cells = cells(spec)
    if not args.dry_run:
        write_cells_file(spec, all_cells)
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
               f"--export=ALL,CROMA={spec['croma']}"] + list(slurm.get("extra", [])) + \
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


def cmd_status(spec, args):
    all_cells = cells(spec)
    states = cell_states(spec, all_cells) if os.path.isdir(spec["root"]) else {c["index"]: "new" for c in all_cells}
    width = max(len(c["name"]) for c in all_cells)
    for c in all_cells:
        print(f"{c['index']:4d}  {c['name']:<{width}}  {states[c['index']]}", file=sys.stderr)
    counts = {s: list(states.values()).count(s) for s in ("pending", "running", "done", "failed", "interrupted", "new")}
    print(" ".join(f"{s}={n}" for s, n in counts.items()), file=sys.stderr)
    print(json.dumps({"command": "status", "sweep": spec["name"], "counts": counts,
                      "cells": {c["name"]: states[c["index"]] for c in all_cells}}))
    return 0


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="submit the cells that are not done (job arrays)")
    p.add_argument("spec")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch commands, submit nothing")
    p.add_argument("--rerun-failed", action="store_true", help="also submit cells that failed")
    p.add_argument("--throttle", type=int, help="at most N cells at once (overrides the spec)")
    p = sub.add_parser("status", help="list cells as pending / running / done / failed / ...")
    p.add_argument("spec")
    p = sub.add_parser("aggregate", help="collect finished cells into CSV and markdown tables")
    p.add_argument("spec")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        if args.command == "submit" and args.throttle is not None and args.throttle < 1:
            raise SweepError(f"invalid value for --throttle: {args.throttle} (must be >= 1)")
        return {"submit": cmd_submit, "status": cmd_status, "aggregate": cmd_aggregate}[args.command](spec, args)
    except SweepError as e:
        print(f"sweep.py {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
