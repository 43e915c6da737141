"""Tests of jobs/sweep.py that need no Slurm: fake sbatch/scontrol/squeue on PATH record
what would reach the cluster."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SWEEP = sys.argv.pop(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_croma  # noqa: E402  (tests/jobs/fake_croma.py)
spec_ = importlib.util.spec_from_file_location("sweep", SWEEP)
sweep = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(sweep)

FAKE_SLURM = {
    "sbatch": '#!/bin/bash\necho "$@" >> "$FAKE_LOG"; n=$(wc -l < "$FAKE_LOG"); echo $((100 + n))\n',
    "scontrol": '#!/bin/bash\necho "MaxArraySize            = ${FAKE_MAX_ARRAY:-1001}"\n',
    "squeue": '#!/bin/bash\ncat "$FAKE_QUEUE" 2>/dev/null\n',
}


class SweepTool(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        for name, text in FAKE_SLURM.items():
            with open(os.path.join(bindir, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(bindir, name), 0o755)
        self.env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"],
                        FAKE_LOG=os.path.join(self.dir, "sbatch.log"),
                        FAKE_QUEUE=os.path.join(self.dir, "queue"))
        self.spec_path = os.path.join(self.dir, "spec.json")
        self.write_spec({"shots": [1, 3], "meta-lr": [0.1], "seed": [1, 2]})

    def tearDown(self):
        self.tmp.cleanup()

    def write_spec(self, grid, **extra):
        spec = {"name": "t", "root": "sw", "croma": "bin/croma", "train": {"steps": 5, "quiet": True},
                "grid": grid, "eval": {"eval-shots": "1,3"}, "slurm": {"ntasks": 2}}
        spec.update(extra)
        with open(self.spec_path, "w") as f:
            json.dump(spec, f)

    def tool(self, *args, ok=True):
        p = subprocess.run([sys.executable, SWEEP, *args], capture_output=True, text=True, env=self.env)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def sbatch_calls(self):
        path = self.env["FAKE_LOG"]
        return open(path).read().splitlines() if os.path.exists(path) else []

    def test_cells_are_named_from_parameters_with_the_seed_last(self):
        spec = sweep.load_spec(self.spec_path)
        names = [c["name"] for c in sweep.cells(spec)]
        self.assertEqual(names, ["shots=1,meta-lr=0.1,seed=1", "shots=1,meta-lr=0.1,seed=2",
                                 "shots=3,meta-lr=0.1,seed=1", "shots=3,meta-lr=0.1,seed=2"])
        c = sweep.cells(spec)[2]
        self.assertEqual(c["train"], ["--steps", "5", "--quiet", "--shots", "3", "--meta-lr", "0.1", "--seed", "1"])
        self.assertEqual(spec["croma"], os.path.join(self.dir, "bin", "croma"))

    def test_array_specs_respect_max_array_size(self):
        self.assertEqual(sweep.compress([1, 2, 3, 5, 7, 8]), "1-3,5,7-8")
        # MaxArraySize 4: task ids 1..3 per array, the offset picks the line.
        self.assertEqual(sweep.array_chunks([1, 2, 3, 4, 5, 7], 4), [(0, [1, 2, 3]), (3, [1, 2]), (6, [1])])

    def test_dry_run_prints_and_submits_nothing(self):
        p = self.tool("submit", self.spec_path, "--dry-run", "--throttle", "2")
        self.assertIn("--array=1-4%2", p.stdout)
        self.assertIn("shots=3,meta-lr=0.1,seed=2", p.stdout)
        self.assertEqual(self.sbatch_calls(), [])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "sw", "cells.tsv")))

    def test_submit_skips_done_and_queued_cells_and_failed_ones_unless_asked(self):
        self.env["FAKE_MAX_ARRAY"] = "3"
        p = self.tool("submit", self.spec_path)
        calls = self.sbatch_calls()
        self.assertEqual(len(calls), 2, calls)  # 4 cells, task ids below 3: two arrays
        self.assertIn("--array=1-2", calls[0])
        self.assertTrue(calls[0].endswith(" 0") and calls[1].endswith(" 2"), calls)
        self.assertEqual(json.loads(p.stdout.splitlines()[-1])["jobs"], ["101", "102"])
        lines = open(os.path.join(self.dir, "sw", "cells.tsv")).read().splitlines()
        self.assertEqual(lines[1].split("\t")[0], "shots=1,meta-lr=0.1,seed=2")
        # Nothing is queued any more: cell 1 done, 2 failed, 3 interrupted, 4 still queued.
        runs = os.path.join(self.dir, "sw", "runs")
        names = [l.split("\t")[0] for l in lines]
        for n in names:
            os.makedirs(os.path.join(runs, n))
        open(os.path.join(runs, names[0], "eval.json"), "w").write("{}")
        open(os.path.join(runs, names[1], "FAILED"), "w").write("train 1 101")
        open(os.path.join(runs, names[2], "config.json"), "w").write("{}")
        open(self.env["FAKE_QUEUE"], "w").write("102|2|RUNNING\n")  # cell 4 = offset 2 + task 2
        status = json.loads(self.tool("status", self.spec_path).stdout.splitlines()[-1])
        self.assertEqual(status["cells"], {names[0]: "done", names[1]: "failed",
                                           names[2]: "interrupted", names[3]: "running"})
        p = self.tool("submit", self.spec_path)
        self.assertEqual(json.loads(p.stdout.splitlines()[-1])["submitted"], [3])
        p = self.tool("submit", self.spec_path, "--rerun-failed")
        self.assertEqual(json.loads(p.stdout.splitlines()[-1])["submitted"], [2, 3])

    def test_a_changed_grid_is_refused_for_an_existing_sweep(self):
        self.tool("submit", self.spec_path)
        self.write_spec({"shots": [1, 5], "meta-lr": [0.1], "seed": [1, 2]})
        p = self.tool("submit", self.spec_path, ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("was written for another grid", p.stderr)

    def test_bad_specs_give_one_clear_error(self):
        with open(self.spec_path, "w") as f:
            f.write("{not json")
        p = self.tool("status", self.spec_path, ok=False)
        self.assertIn("is not valid JSON", p.stderr)
        self.write_spec({"shots": []})
        p = self.tool("status", self.spec_path, ok=False)
        self.assertIn('grid "shots" must be a non-empty list', p.stderr)

    def test_aggregate_groups_over_seeds(self):
        spec = sweep.load_spec(self.spec_path)
        accs = {1: (0.5, 0.7), 3: (0.8, 0.9)}  # shots -> per-seed 1-shot accuracy
        for c in sweep.cells(spec):
            if c["params"]["shots"] == 3 and c["params"]["seed"] == 2:
                continue  # not finished
            run = os.path.join(spec["root"], "runs", c["name"])
            os.makedirs(run)
            acc = accs[c["params"]["shots"]][c["params"]["seed"] - 1]
            json.dump({"results": [{"shots": 1, "accuracy_mean": acc}]}, open(os.path.join(run, "eval.json"), "w"))
            json.dump({"best_val_accuracy": acc / 2}, open(os.path.join(run, "summary.json"), "w"))
        p = self.tool("aggregate", self.spec_path)
        out = json.loads(p.stdout.splitlines()[-1])
        self.assertEqual((out["cells_done"], out["cells_total"], out["groups"]), (3, 4, 2))
        self.assertEqual(out["missing"], ["shots=3,meta-lr=0.1,seed=2"])
        rows = open(os.path.join(spec["root"], "summary.csv")).read().splitlines()
        self.assertEqual(rows[0], "shots,meta-lr,n,test_acc_1shot_mean,test_acc_1shot_std,"
                                  "best_val_accuracy_mean,best_val_accuracy_std")
        first = rows[1].split(",")
        self.assertEqual(first[:3], ["1", "0.1", "2"])
        self.assertAlmostEqual(float(first[3]), 0.6)
        self.assertAlmostEqual(float(first[4]), 0.1414213562, places=6)  # sample std of 0.5, 0.7
        self.assertEqual(rows[2].split(",")[:5], ["3", "0.1", "1", "0.8", "0.0"])
        md = open(os.path.join(spec["root"], "summary.md")).read()
        self.assertIn("| 1 | 0.1 | 2 | 0.6000 ± 0.1414 |", md)
        self.assertIn("3 of 4 cells finished", md)
        self.plot(spec["root"])

    def plot(self, root):
        """analysis/plot_sweep.py draws the aggregated table (needs python3-matplotlib)."""
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("note: python3-matplotlib missing; plot_sweep.py not exercised")
            return
        plot = os.path.join(os.path.dirname(os.path.dirname(SWEEP)), "analysis", "plot_sweep.py")
        p = subprocess.run([sys.executable, plot, root, "--x", "shots"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.strip()
        self.assertEqual(out, os.path.join(root, "test_acc_1shot_vs_shots.png"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        p = subprocess.run([sys.executable, plot, root, "--x", "seed"], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--x seed is not a grid parameter of this sweep (shots, meta-lr)", p.stderr)


REGISTRY = {"method": "m", "hyperparameters": [
    {"name": "inner-lr", "json_pointer": "/meta/inner_lr", "default": 0.01, "paper": 0.001,
     "distribution": {"kind": "log-uniform", "low": 1e-4, "high": 3e-2}, "note": ""},
    {"name": "first-phase-fraction", "json_pointer": "/meta/first_phase_fraction", "default": 0.5, "paper": None,
     "distribution": {"kind": "uniform", "low": 0.2, "high": 0.8}, "note": ""},
    {"name": "inner-steps", "json_pointer": "/meta/inner_steps", "default": 5, "paper": None,
     "distribution": {"kind": "choice", "values": [1, 3, 5, 10]}, "note": ""}]}


class SearchTool(unittest.TestCase):
    """The tuning protocol's draws and selection, with a fake croma that prints a registry."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        fake_croma.install(self.dir, REGISTRY)
        self.spec_path = os.path.join(self.dir, "spec.json")
        self.write_spec()

    def tearDown(self):
        self.tmp.cleanup()

    def write_spec(self, **search):
        s = {"methods": ["croma", "oracle"], "configurations": 4, "trial_seeds": [1, 2], "final_seeds": [7, 8, 9]}
        s.update(search)
        with open(self.spec_path, "w") as f:
            json.dump({"name": "s", "root": "sr", "croma": "bin/croma", "train": {"steps": 5},
                       "eval": {"eval-shots": "1,5"}, "search": s}, f)

    def test_draws_are_deterministic_within_range_and_config_0_is_the_defaults(self):
        first = [sweep.search.draw(REGISTRY, 0, "croma", i) for i in range(30)]
        again = [sweep.search.draw(REGISTRY, 0, "croma", i) for i in range(30)]
        self.assertEqual(first, again)
        self.assertEqual(first[0], {"inner-lr": 0.01, "first-phase-fraction": 0.5, "inner-steps": 5})
        self.assertEqual(len({json.dumps(d, sort_keys=True) for d in first}), 30)
        for d in first[1:]:
            self.assertTrue(1e-4 <= d["inner-lr"] <= 3e-2, d)
            self.assertTrue(0.2 <= d["first-phase-fraction"] <= 0.8, d)
            self.assertIn(d["inner-steps"], [1, 3, 5, 10])
        # Log-uniform: about half of the draws below the geometric middle of the range.
        below = sum(d["inner-lr"] < (1e-4 * 3e-2) ** 0.5 for d in first[1:])
        self.assertTrue(6 <= below <= 23, below)
        # Another method or draw seed, other draws; the same (seed, method, index), the same draw
        # whatever else the search holds.
        self.assertNotEqual(sweep.search.draw(REGISTRY, 0, "oracle", 3), first[3])
        self.assertNotEqual(sweep.search.draw(REGISTRY, 1, "croma", 3), first[3])

    def test_search_cells_equal_budgets_and_the_registry_is_read_once(self):
        spec = sweep.load_spec(self.spec_path)
        cells = sweep.search.search_cells(spec, sweep.option_args)
        self.assertEqual(len(cells), 2 * 4 * 2)
        self.assertEqual(cells[0]["name"], "method=croma,config=00,seed=1")
        self.assertEqual(cells[0]["eval"], ["--eval-shots", "1,5", "--split", "val", "--skip-untrained"])
        self.write_spec(val_eval={"eval-shots": "5", "eval-tasks": 10})
        self.assertEqual(sweep.search.search_cells(sweep.load_spec(self.spec_path), sweep.option_args)[0]["eval"],
                         ["--eval-shots", "5", "--eval-tasks", "10", "--split", "val", "--skip-untrained"])
        # Selection reads few-shot accuracy only: retrieval (Table 4) is left to the final cells.
        with open(self.spec_path) as f:
            raw = json.load(f)
        raw["eval"]["retrieval"] = True
        with open(self.spec_path, "w") as f:
            json.dump(raw, f)
        spec_r = sweep.load_spec(self.spec_path)
        cells_r = sweep.search.search_cells(spec_r, sweep.option_args)
        self.assertNotIn("--retrieval", cells_r[0]["eval"])
        chosen = {f"method={m}": {"config": 0, "hparams": {}} for m in ("croma", "oracle")}
        self.assertIn("--retrieval", sweep.search.final_cells(spec_r, chosen, sweep.option_args)[0]["eval"])
        self.assertEqual(cells[0]["train"][:4], ["--steps", "5", "--method", "croma"])
        self.assertEqual(cells[0]["train"][-2:], ["--seed", "1"])
        # Every method: the same steps and the same number of configurations and seeds.
        for m in ("croma", "oracle"):
            mine = [c for c in cells if c["method"] == m]
            self.assertEqual(len(mine), 8)
            self.assertTrue(all(c["train"][:2] == ["--steps", "5"] for c in mine))
        sweep.search.search_cells(spec, sweep.option_args)
        calls = open(os.path.join(self.dir, "croma.log")).read().splitlines()
        self.assertEqual(len(calls), 2, calls)  # once per method, then from ROOT/search/registry
        self.assertIn("--print-hparams", calls[0])

    def test_selection_reads_meta_val_only(self):
        spec = sweep.load_spec(self.spec_path)
        cells = sweep.search.search_cells(spec, sweep.option_args)
        states = {}
        for c in cells:
            run = os.path.join(spec["root"], "search", "runs", c["name"])
            os.makedirs(run)
            # Meta-val: config 2 best for croma; config 1 fails a seed (excluded) though its other
            # seed is the highest of all. Meta-test (poison): config 3 best by far.
            val = {0: 0.40, 1: 0.90, 2: 0.60, 3: 0.30}[c["config"]] + 0.01 * c["seed"]
            if c["method"] == "croma" and c["config"] == 1 and c["seed"] == 2:
                open(os.path.join(run, "FAILED"), "w").write("train 1 local")
                states[c["index"]] = "failed"
                continue
            json.dump({"split": "meta-val", "results": [{"shots": 1, "accuracy_mean": val},
                                                  {"shots": 5, "accuracy_mean": val + 0.1}]},
                      open(os.path.join(run, "eval-val.json"), "w"))
            json.dump({"split": "meta-test", "results": [{"shots": 1, "accuracy_mean": 1.0 if c["config"] == 3 else 0.0}]},
                      open(os.path.join(run, "eval.json"), "w"))
            states[c["index"]] = "done"
        chosen, waiting = sweep.search.select(spec, [(cells, states)])
        self.assertEqual(waiting, [])
        self.assertEqual(chosen["method=croma"]["config"], 2)
        self.assertAlmostEqual(chosen["method=croma"]["val_accuracy"], (0.61 + 0.71 + 0.62 + 0.72) / 4)
        self.assertEqual(chosen["method=oracle"]["config"], 1)
        self.assertIsNone(chosen["method=croma"]["configurations"][1]["val_accuracy"])
        # A group with an unfinished cell waits.
        states[cells[-1]["index"]] = "running"
        chosen, waiting = sweep.search.select(spec, [(cells, states)])
        self.assertEqual(waiting, ["method=oracle"])
        # The final cells train the selected configuration with the fresh seeds, on meta-test.
        final = sweep.search.final_cells(spec, {**chosen, "method=oracle": chosen["method=croma"]}, sweep.option_args)
        self.assertEqual([c["name"] for c in final[:3]], ["method=croma,seed=7", "method=croma,seed=8", "method=croma,seed=9"])
        self.assertEqual(final[0]["hparams"], cells[4]["hparams"])  # croma config 2
        self.assertNotIn("--split", final[0]["eval"])

    def test_aggregate_writes_holm_marks_and_prints_the_positive_control(self):
        spec = sweep.load_spec(self.spec_path)
        cells = sweep.search.search_cells(spec, sweep.option_args)
        for c in cells:
            run = os.path.join(spec["root"], "search", "runs", c["name"])
            os.makedirs(run)
            with open(os.path.join(run, "eval-val.json"), "w") as f:
                json.dump({"split": "meta-val", "results": [{"shots": 1, "accuracy_mean": 0.3 + 0.01 * c["config"]}]}, f)
        _, _, final = sweep.search_stages(spec)
        # CroMA learns 10 points over its start; the oracle 0.5: the data set passes its control,
        # the oracle fails it. CroMA is ahead of the oracle by about 4 points at both k.
        for c in final:
            croma = c["method"] == "croma"
            results = []
            for k in (1, 5):
                start = [a + (0.0 if croma else 0.055) for a in (0.40, 0.50, 0.45, 0.55)]
                wobble = 0.002 * (c["seed"] - 8) * (1 if croma else -1)
                trained = [a + (0.10 if croma else 0.005) + wobble for a in start]
                mean = lambda v: sum(v) / len(v)
                results.append({"shots": k, "label_noise": 0.0, "accuracy_mean": mean(trained),
                                "initial_accuracy_mean": mean(start),
                                "gain_mean": mean(trained) - mean(start),
                                "trained": {"seeds": [{"task_accuracy": trained}]}})
            run = os.path.join(spec["root"], "final", "runs", c["name"])
            os.makedirs(run)
            with open(os.path.join(run, "eval.json"), "w") as f:
                json.dump({"results": results, "eval_seed": 1, "episodes": 4, "ways": 5,
                           "target_samples_used": 10, "target_labels_used": 10 if not croma else 0,
                           "target_labels_class_pure": 7 if croma else 10}, f)
        p = subprocess.run([sys.executable, SWEEP, "aggregate", self.spec_path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(out["positive_control"], {"passes": True, "passing": ["method=croma"], "oracle_passes": False})
        self.assertIn("Positive control (", p.stderr)
        self.assertIn("1 of 2 methods pass: croma +10.0 ± 0.5.", p.stderr)
        self.assertIn("claims about the oracle are uninformative here", p.stderr)
        with open(out["written"]["table2"]) as f:
            table = f.read()
        self.assertIn("over all 2 paired comparisons of this table", table)
        self.assertIn("| oracle | 53.5 ± 0.5 | 53.5 ± 0.5 | 4.0 ± 1.0 * | 4.0 ± 1.0 * |", table)
        # eval.json's class-pure count reaches results.json and Table 2 as the runs recorded it.
        with open(out["written"]["results"]) as f:
            rows = json.load(f)["rows"]
        self.assertEqual({g: (r["target_labels_used"], r["target_labels_class_pure"]) for g, r in rows.items()},
                         {"method=croma": (0, 7), "method=oracle": (10, 10)})
        self.assertIn("| #target (labels; class-pure) |", table)
        self.assertRegex(table, r"\| croma \|.*\| 10 \(0; 7\) \|\n")
        self.assertRegex(table, r"\| oracle \|.*\| 10 \(10; 10\) \|\n")
        self.assertNotIn("predate the class-pure count", table)

    def test_frozen_heads_and_per_method_options_reach_the_final_cells_only(self):
        self.write_spec(final_eval_by_method={"croma": {"head-features": "trained,initial,raw"}})
        with open(self.spec_path) as f:
            raw = json.load(f)
        raw["eval"].update({"head": "finetune,prototype,logistic", "head-features": "trained,initial"})
        with open(self.spec_path, "w") as f:
            json.dump(raw, f)
        spec = sweep.load_spec(self.spec_path)
        # Selection reads the fine-tuned accuracy only: no frozen head in a search cell.
        for c in sweep.search.search_cells(spec, sweep.option_args):
            self.assertNotIn("--head", c["eval"])
            self.assertNotIn("--head-features", c["eval"])
        chosen = {f"method={m}": {"config": 0, "hparams": {}} for m in ("croma", "oracle")}
        final = {c["name"]: c["eval"] for c in sweep.search.final_cells(spec, chosen, sweep.option_args)}
        self.assertEqual(final["method=croma,seed=7"], ["--eval-shots", "1,5", "--head", "finetune,prototype,logistic",
                                                        "--head-features", "trained,initial,raw"])
        self.assertEqual(final["method=oracle,seed=7"], ["--eval-shots", "1,5", "--head", "finetune,prototype,logistic",
                                                         "--head-features", "trained,initial"])
        for by_method, message in (({"nosuch": {}}, 'names nosuch, not in "methods"'),
                                   ({"croma": 3}, '"final_eval_by_method" must be an object'),
                                   ({"croma": {"split": "val"}}, '"split" is set by the search stages')):
            self.write_spec(final_eval_by_method=by_method)
            p = subprocess.run([sys.executable, SWEEP, "status", self.spec_path], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(message, p.stderr)

    def test_final_only_runs_the_final_stage_of_a_copied_selection(self):
        for command in (["submit", "--dry-run"], ["run"]):
            p = subprocess.run([sys.executable, SWEEP, *command, "--final-only", self.spec_path],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("--final-only: no '", p.stderr)
            self.assertIn("copy a committed results folder's selection.json", p.stderr)
        root = os.path.join(self.dir, "sr")
        os.makedirs(root)
        with open(os.path.join(root, "selection.json"), "w") as f:
            json.dump({f"method={m}": {"method": m, "point": {}, "config": 2, "hparams": {"inner-lr": 0.003}}
                       for m in ("croma", "oracle")}, f)
        p = subprocess.run([sys.executable, SWEEP, "submit", "--dry-run", "--final-only", self.spec_path],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--job-name=croma-s-final", p.stdout)
        self.assertNotIn("croma-s-search", p.stdout)
        self.assertEqual(re.findall(r"cell \d+: (\S+)", p.stdout),
                         [f"method={m},seed={s}" for m in ("croma", "oracle") for s in (7, 8, 9)])
        self.assertFalse(os.path.exists(os.path.join(root, "search", "runs")))

    def test_frozen_head_rows_and_the_episodes_reproduce_the_tables(self):
        repo = os.path.dirname(os.path.dirname(SWEEP))
        sys.path.insert(0, os.path.join(repo, "analysis"))
        import check_episodes
        import search_tables
        spec = sweep.load_spec(self.spec_path)
        for c in sweep.search.search_cells(spec, sweep.option_args):
            run = os.path.join(spec["root"], "search", "runs", c["name"])
            os.makedirs(run)
            with open(os.path.join(run, "eval-val.json"), "w") as f:
                json.dump({"split": "meta-val", "results": [{"shots": 1, "accuracy_mean": 0.3 + 0.01 * c["config"]}]}, f)
        _, _, final = sweep.search_stages(spec)
        expected = {}
        for c in final:
            croma, seed = c["method"] == "croma", c["seed"]
            results, heads = [], []
            for k in (1, 5):
                start = [0.40, 0.50, 0.45, 0.55]
                trained = [a + (0.10 if croma else 0.02) + 0.01 * (seed - 8) for a in start]
                mean = lambda v: sum(v) / len(v)
                results.append({"shots": k, "label_noise": 0.0, "accuracy_mean": mean(trained),
                                "initial_accuracy_mean": mean(start), "gain_mean": mean(trained) - mean(start),
                                "trained": {"seeds": [{"task_accuracy": trained}]}})
                for head, shift in (("prototype", 0.03), ("logistic", 0.05)):
                    cell = {"head": head, "shots": k, "label_noise": 0.0,
                            "trained": {"accuracy_mean": mean(trained) + shift},
                            "initial": {"accuracy_mean": 0.3 + 0.01 * seed,
                                        "trained_minus_this_mean": mean(trained) + shift - 0.3 - 0.01 * seed}}
                    if croma:  # the raw row in one method's runs only (final_eval_by_method)
                        cell["raw"] = {"accuracy_mean": 0.2 + shift + 0.02 * seed}
                    heads.append(cell)
                    expected.setdefault((c["method"], head, k), []).append(mean(trained) + shift)
            run = os.path.join(spec["root"], "final", "runs", c["name"])
            os.makedirs(run)
            with open(os.path.join(run, "eval.json"), "w") as f:
                json.dump({"results": results, "frozen_heads": heads, "eval_seed": 1, "episodes": 4, "ways": 5,
                           "target_samples_used": 10, "target_labels_used": 10, "run_dir": run,
                           "checkpoint": run + "/final.h5"}, f)
        p = subprocess.run([sys.executable, SWEEP, "aggregate", self.spec_path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        written = json.loads(p.stdout.strip().splitlines()[-1])["written"]
        with open(written["results"]) as f:
            summary = json.load(f)
        # Each head's trained accuracy: the mean over the seeds, against an independent mean.
        for (method, head, k), values in expected.items():
            cell = summary["rows"][f"method={method}"]["heads"][f"{head}|{k}|0.0"]["trained"]
            self.assertAlmostEqual(cell["mean"], sum(values) / len(values), places=12)
            self.assertEqual(cell["n_seeds"], 3)
        # The raw row: one value per seed (0.2 + 0.03 + 0.02 * seed at prototype).
        raw = summary["raw_heads"]["prototype|1|0.0"]
        self.assertAlmostEqual(raw["mean"], 0.23 + 0.02 * 8, places=12)
        self.assertEqual(sorted(raw["per_seed"]), ["7", "8", "9"])
        with open(written["heads"]) as f:
            heads_md = f.read()
        self.assertIn("| method=croma | prototype | 60.5 ± 2.5 | 38.0 ± 2.5 | +22.5 ± 0.0 |", heads_md)
        self.assertIn("| raw standardised features (no network) | logistic | 41.0 ± 5.0 |  |  |", heads_md)
        # The episodes file: no machine path, the same bytes when written again, and the tables
        # reproduce from it alone.
        folder = os.path.join(self.dir, "committed")
        os.makedirs(folder)
        for name in ("results.json", "selection.json", "table2.md", "gains.md", "heads.md", "selected.md",
                     "search.md", "episodes.json.gz"):
            with open(os.path.join(spec["root"], name), "rb") as src, open(os.path.join(folder, name), "wb") as dst:
                dst.write(src.read())
        cells, runs = search_tables.read_episodes(os.path.join(folder, "episodes.json.gz"))
        self.assertEqual(len(cells), 6)
        self.assertNotIn("run_dir", runs[("method=croma", 7)])
        before = open(written["episodes"], "rb").read()
        subprocess.run([sys.executable, SWEEP, "aggregate", self.spec_path], capture_output=True, check=True)
        self.assertEqual(open(written["episodes"], "rb").read(), before)
        self.assertEqual(check_episodes.check(folder), [])
        # One episode changed: the check names the table that no longer reproduces.
        import gzip
        with gzip.open(os.path.join(folder, "episodes.json.gz"), "rt") as f:
            document = json.load(f)
        document["runs"][0]["eval"]["results"][0]["accuracy_mean"] += 0.01
        search_tables.write_episodes(os.path.join(folder, "episodes.json.gz"), document)
        names = [name for name, _ in check_episodes.check(folder)]
        self.assertIn("results.json", names)
        self.assertIn("table2.md", names)
        p = subprocess.run([sys.executable, os.path.join(repo, "analysis", "check_episodes.py"), folder],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("table2.md: does not reproduce from the episodes: line", p.stderr)
        os.remove(os.path.join(folder, "episodes.json.gz"))
        p = subprocess.run([sys.executable, os.path.join(repo, "analysis", "check_episodes.py"), folder],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot check, no episodes.json.gz", p.stderr)

    def halving_spec(self, **extra):
        spec = dict(methods=["croma", "oracle"], configurations=7, final_seeds=[7, 8],
                    halving={"keep": 3, "rungs": [{"seeds": [1], "val_eval": {"eval-tasks": 10}},
                                                  {"seeds": [1, 2], "val_eval": {"eval-tasks": 30}},
                                                  {"seeds": [1, 2, 3], "val_eval": {"eval-tasks": 60}}]})
        spec.update(extra)
        with open(self.spec_path, "w") as f:
            json.dump({"name": "s", "root": "sr", "croma": "bin/croma", "train": {"steps": 5},
                       "eval": {"eval-shots": "1,5"}, "search": spec}, f)

    def finish(self, spec, cells, score):
        """Every cell of a rung done, with meta-val accuracy score(cell) and a final checkpoint."""
        for c in cells:
            run = os.path.join(spec["root"], c["stage"], "runs", c["name"])
            os.makedirs(os.path.join(run, "checkpoints"), exist_ok=True)
            with open(os.path.join(run, "config.json"), "w") as f:
                f.write("{}")
            with open(os.path.join(run, "checkpoints", "final.h5"), "w") as f:
                f.write(f"trained {c['name']}")
            with open(os.path.join(run, "eval-val.json"), "w") as f:
                json.dump({"split": "meta-val", "results": [{"shots": 1, "accuracy_mean": score(c)}]}, f)

    def test_successive_halving_promotes_the_best_third_and_reuses_trained_runs(self):
        self.halving_spec()
        spec = sweep.load_spec(self.spec_path)
        stages, final_spec, _ = sweep.search_stages(spec)
        self.assertEqual(len(stages), 1)  # rung 1 exists once rung 0 has finished
        self.assertIsNone(final_spec)
        rung0 = stages[0][1]
        self.assertEqual(len(rung0), 2 * 7)
        self.assertEqual(rung0[0]["eval"], ["--eval-shots", "1,5", "--eval-tasks", "10", "--split", "val", "--skip-untrained"])
        # Scores with ties: croma's configs 2 and 5 tie at the top, then 6; the oracle's best is 0.
        val0 = {"croma": [0.30, 0.35, 0.60, 0.20, 0.40, 0.60, 0.50], "oracle": [0.70, 0.1, 0.2, 0.3, 0.3, 0.1, 0.2]}
        self.finish(spec, rung0, lambda c: val0[c["method"]][c["config"]])
        stages, final_spec, _ = sweep.search_stages(spec)
        self.assertEqual(len(stages), 2)
        rung1 = stages[1][1]
        # An independent promotion: the best ceil(7 / 3) = 3 by score, ties to the lower index.
        for method, scores in val0.items():
            order = sorted(range(7), key=lambda i: (-scores[i], i))[:3]
            self.assertEqual(sorted({c["config"] for c in rung1 if c["method"] == method}), sorted(order), method)
        self.assertEqual(sorted({c["config"] for c in rung1 if c["method"] == "croma"}), [2, 5, 6])
        self.assertEqual({c["seed"] for c in rung1}, {1, 2})
        self.assertTrue(all(c["stage"] == "search-rung1" for c in rung1))
        with open(os.path.join(spec["root"], "promotions.json")) as f:
            self.assertEqual(json.load(f)["rung1"]["method=croma"], [2, 5, 6])
        # Submitting: one array for rung 1, whose seed-1 cells start as copies of rung 0's trained
        # runs, without their evaluation (made by submit and run before the cells start).
        p = subprocess.run([sys.executable, SWEEP, "submit", "--dry-run", self.spec_path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(re.findall(r"--job-name=(\S+)", p.stdout), ["croma-s-search-rung1"])
        self.assertEqual(len(re.findall(r"cell \d+: ", p.stdout)), 2 * 3 * 2)
        sweep.start_reused_runs(stages[1][0], rung1)
        copy = os.path.join(spec["root"], "search-rung1", "runs", "method=croma,config=05,seed=1")
        with open(os.path.join(copy, "checkpoints", "final.h5")) as f:
            self.assertEqual(f.read(), "trained method=croma,config=05,seed=1")
        self.assertFalse(os.path.exists(os.path.join(copy, "eval-val.json")))
        self.assertFalse(os.path.exists(os.path.join(spec["root"], "search-rung1", "runs", "method=croma,config=05,seed=2")))
        # Rung 1 scores (mean over 2 seeds) reorder croma: config 6 first, then 2; rung 2 runs ceil(3 / 3) = 1.
        val1 = {2: 0.55, 5: 0.45, 6: 0.65}
        self.finish(spec, rung1, lambda c: val1[c["config"]] + 0.01 * c["seed"] if c["method"] == "croma" else 0.5)
        stages, final_spec, _ = sweep.search_stages(spec)
        rung2 = stages[2][1]
        self.assertEqual(sorted({c["config"] for c in rung2 if c["method"] == "croma"}), [6])
        self.assertEqual(sorted({c["config"] for c in rung2 if c["method"] == "oracle"}), [0])  # a 3-way tie: lowest
        self.assertIsNone(final_spec)
        self.finish(spec, rung2, lambda c: 0.7)
        stages, final_spec, final = sweep.search_stages(spec)
        with open(os.path.join(spec["root"], "selection.json")) as f:
            selection = json.load(f)
        croma = selection["method=croma"]
        self.assertEqual((croma["config"], croma["rung"]), (6, 2))
        self.assertAlmostEqual(croma["val_accuracy"], 0.7, places=12)
        by_config = {c["config"]: c for c in croma["configurations"]}
        self.assertEqual(len(by_config), 7)
        for got, want in zip(by_config[6]["rung_val_accuracy"], [0.5, 0.665, 0.7], strict=True):
            self.assertAlmostEqual(got, want, places=12)
        self.assertEqual(by_config[2]["rung"], 1)
        self.assertAlmostEqual(by_config[2]["val_accuracy"], 0.565)
        self.assertEqual((by_config[3]["rung"], by_config[3]["val_accuracy"]), (0, 0.2))
        self.assertEqual([c["name"] for c in final if c["method"] == "croma"], ["method=croma,seed=7", "method=croma,seed=8"])
        # Promotions are read back, never redone: a changed score of rung 0 changes nothing now.
        self.finish(spec, rung0, lambda c: 1.0 - val0[c["method"]][c["config"]])
        stages_again, _, _ = sweep.search_stages(spec)
        self.assertEqual([c["name"] for c in stages_again[1][1]], [c["name"] for c in rung1])

    def test_bad_halving_specs_give_one_clear_error(self):
        rungs = [{"seeds": [1]}, {"seeds": [1, 2]}]
        for extra, message in ((dict(trial_seeds=[1]), 'either "trial_seeds"'),
                               (dict(halving={"keep": 1, "rungs": rungs}), '"keep" must be an integer >= 2'),
                               (dict(halving={"keep": 3, "rungs": rungs[:1]}), "at least 2 rung objects"),
                               (dict(halving={"keep": 3, "rungs": [{"seeds": [1], "steps": 3}, rungs[1]]}),
                                "rung 0: unknown key(s) steps"),
                               (dict(halving={"keep": 3, "rungs": [rungs[0], {"seeds": [1, 7]}]}), "must be fresh"),
                               (dict(halving={"keep": 3, "rungs": [rungs[0], {"seeds": [1], "train": {"seed": 2}}]}),
                                '"seed" is set by the search')):
            self.halving_spec(**extra)
            p = subprocess.run([sys.executable, SWEEP, "status", self.spec_path], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, extra)
            self.assertIn(message, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_compare_results_of_a_rerun(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(SWEEP)), "analysis"))
        import compare_results
        cell = lambda m, h: {"mean": m, "ci95": h}
        old = {"name": "x", "rows": {"method=croma": {"cells": {"1|0.0": cell(0.50, 0.02), "5|0.0": cell(0.70, 0.01)}},
                                     "method=oracle": {"cells": {"1|0.0": cell(0.40, 0.03)}}},
               "paired_vs_croma": {"method=oracle": {"1|0.0": {"mean": 0.10, "ci95": 0.04, "excludes_zero": True}}}}
        new = {"name": "x", "rows": {"method=croma": {"cells": {"1|0.0": cell(0.50, 0.02), "5|0.0": cell(0.73, 0.01)}},
                                     "method=oracle": {"cells": {"1|0.0": cell(0.42, 0.02)}}},
               "paired_vs_croma": {"method=oracle": {"1|0.0": {"mean": 0.08, "ci95": 0.09, "excludes_zero": False}}}}
        s = compare_results.compare(old, new)["summary"]
        self.assertEqual((s["cells"], s["identical"], s["inside_old_interval"]), (3, 1, 2))
        self.assertAlmostEqual(s["largest_abs_difference"], 0.03)
        self.assertEqual((s["paired"], s["paired_inside_old_interval"], s["paired_same_verdict"]), (1, 1, 0))
        with self.assertRaises(ValueError):
            compare_results.compare(old, dict(new, name="y"))

    def test_class_splits_run_every_seed_on_every_split_and_nest_the_interval(self):
        repo = os.path.dirname(os.path.dirname(SWEEP))
        sys.path.insert(0, os.path.join(repo, "analysis"))
        import check_episodes
        import search_tables
        from scipy import stats
        self.write_spec(class_split_seeds=[0, 4, 5], final_seeds=[7, 8])
        spec = sweep.load_spec(self.spec_path)
        for c in sweep.search.search_cells(spec, sweep.option_args):
            # The search itself reads the data's own split: no cell of it redraws the classes.
            self.assertNotIn("--class-split-seed", c["train"])
            run = os.path.join(spec["root"], "search", "runs", c["name"])
            os.makedirs(run)
            with open(os.path.join(run, "eval-val.json"), "w") as f:
                json.dump({"split": "meta-val", "results": [{"shots": 1, "accuracy_mean": 0.3 + 0.01 * c["config"]}]}, f)
        _, _, final = sweep.search_stages(spec)
        self.assertEqual(len(final), 2 * 3 * 2)
        self.assertEqual(final[0]["name"], "method=croma,split=0,seed=7")
        self.assertEqual(final[0]["train"][-4:], ["--seed", "7", "--class-split-seed", "0"])
        self.assertEqual({(c["split"], c["seed"]) for c in final if c["method"] == "oracle"},
                         {(k, sd) for k in (0, 4, 5) for sd in (7, 8)})
        acc = {}
        for c in final:
            # A split effect (class sampling) larger than the seed effect, and a method effect.
            episodes = [0.4 + 0.05 * c["split"] + 0.01 * c["seed"] + (0.03 if c["method"] == "croma" else 0.0) + 0.01 * i
                        + 0.002 * c["split"] * (c["method"] == "croma") * i for i in range(4)]
            acc[(c["method"], c["split"], c["seed"])] = episodes
            run = os.path.join(spec["root"], "final", "runs", c["name"])
            os.makedirs(run)
            m = sum(episodes) / 4
            with open(os.path.join(run, "eval.json"), "w") as f:
                json.dump({"results": [{"shots": 1, "label_noise": 0.0, "accuracy_mean": m, "initial_accuracy_mean": 0.2,
                                        "gain_mean": m - 0.2, "trained": {"seeds": [{"task_accuracy": episodes}]}}],
                           "eval_seed": 1, "episodes": 4, "ways": 5, "class_split_seed": c["split"]}, f)
        p = subprocess.run([sys.executable, SWEEP, "aggregate", self.spec_path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        written = json.loads(p.stdout.strip().splitlines()[-1])["written"]
        with open(written["results"]) as f:
            summary = json.load(f)

        def nested(values_by_split):
            means = [sum(v) / len(v) for v in values_by_split]
            sd = stats.tstd(means)
            return sum(means) / len(means), stats.t.ppf(0.975, len(means) - 1) * sd / len(means) ** 0.5

        mean = lambda v: sum(v) / len(v)  # noqa: E731
        cell = summary["rows"]["method=oracle"]["cells"]["1|0.0"]
        want = nested([[mean(acc[("oracle", k, sd)]) for sd in (7, 8)] for k in (0, 4, 5)])
        self.assertAlmostEqual(cell["mean"], want[0], places=12)
        self.assertAlmostEqual(cell["ci95"], want[1], places=12)
        self.assertEqual(cell["n_seeds"], 3)  # the interval is over the 3 split means, not 6 runs
        self.assertEqual(sorted(cell["per_seed"]), sorted(f"split={k},seed={sd}" for k in (0, 4, 5) for sd in (7, 8)))
        # Paired by split, seed and episode, then over split means.
        d = summary["paired_vs_croma"]["method=oracle"]["1|0.0"]
        want = nested([[mean([a - b for a, b in zip(acc[("croma", k, sd)], acc[("oracle", k, sd)])]) for sd in (7, 8)]
                       for k in (0, 4, 5)])
        self.assertAlmostEqual(d["mean"], want[0], places=12)
        self.assertAlmostEqual(d["ci95"], want[1], places=12)
        with open(written["table2"]) as f:
            self.assertIn("Class splits resampled: each selected configuration ran 2 fresh seeds on each of 3 class splits",
                          f.read())
        # The episodes file keeps the replicates apart, and the tables reproduce from it.
        folder = os.path.join(self.dir, "committed")
        os.makedirs(folder)
        for name in ("results.json", "selection.json", "table2.md", "gains.md", "selected.md", "search.md",
                     "episodes.json.gz"):
            with open(os.path.join(spec["root"], name), "rb") as src, open(os.path.join(folder, name), "wb") as dst:
                dst.write(src.read())
        _, runs = search_tables.read_episodes(os.path.join(folder, "episodes.json.gz"))
        self.assertEqual(len(runs), 12)
        self.assertEqual(runs[("method=croma", "split=4,seed=8")]["class_split_seed"], 4)
        self.assertEqual(check_episodes.check(folder), [])
        for search, message in ((dict(class_split_seeds=[]), '"class_split_seeds" must be a non-empty list'),
                                (dict(class_split_seeds=[1, 1]), '"class_split_seeds" must be a non-empty list'),
                                (dict(class_split_seeds=[-1]), '"class_split_seeds" must be a non-empty list')):
            self.write_spec(**search)
            p = subprocess.run([sys.executable, SWEEP, "status", self.spec_path], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(message, p.stderr)

    def test_bad_search_specs_give_one_clear_error(self):
        for search, message in ((dict(final_seeds=[1, 9]), "must be fresh"),
                                (dict(configurations=0), '"configurations" must be an integer >= 1'),
                                (dict(methods=[]), '"methods" must be a non-empty list'),
                                (dict(typo=1), "unknown search key(s) typo")):
            self.write_spec(**search)
            p = subprocess.run([sys.executable, SWEEP, "status", self.spec_path], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(message, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


class SearchSpread(unittest.TestCase):
    """analysis/search_tables.py's search.md: how each method's configurations spread."""

    def test_defaults_selection_median_worst_and_near_chance(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(SWEEP)), "analysis"))
        import search_tables
        configs = [{"config": i, "val_accuracy": v} for i, v in enumerate([0.5, 0.21, 0.7, None, 0.3])]
        selection = {"method=a": {"config": 2, "val_accuracy": 0.7, "configurations": configs},
                     "method=b": {"refused": "no weak clusters"}}
        rows = search_tables.search_spread(selection, chance=0.2)
        a, b = rows
        self.assertEqual((a["default"], a["selected"], a["selected_config"], a["worst"]), (0.5, 0.7, 2, 0.21))
        self.assertAlmostEqual(a["median"], (0.3 + 0.5) / 2)  # of 0.21, 0.3, 0.5, 0.7: the failed one left out
        self.assertEqual((a["near_chance"], a["failed"], a["configurations"]), (1, 1, 5))
        self.assertEqual(b, {"group": "method=b", "refused": "no weak clusters"})
        md = search_tables.search_table(rows, 0.2)
        self.assertIn("| method=a | 50.0 | 70.0 (2) | 40.0 | 21.0 | 1 of 4 | 1 |", md)
        self.assertIn("| method=b | refused: no weak clusters |", md)


class DefaultsEvidence(unittest.TestCase):
    """analysis/defaults_evidence.py: each method's configurations scored across data sets."""

    def setUp(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(SWEEP)), "analysis"))
        import defaults_evidence
        self.ev = defaults_evidence
        h = [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}]
        conf = lambda accs: [{"config": i, "hparams": h[i], "val_accuracy": a} for i, a in enumerate(accs)]
        # Data set A favours config 1, B config 2; config 1 is close to the best on both.
        self.a = {"method=m": {"config": 1, "configurations": conf([0.50, 0.70, 0.60])},
                  "method=w": {"config": 0, "configurations": conf([0.40, 0.30, 0.20])}}
        self.b = {"method=m": {"config": 2, "configurations": conf([0.55, 0.64, 0.66])},
                  "method=w": {"refused": "weak clusters inside classes"}}

    def test_smallest_mean_shortfall_wins_and_refusals_are_left_out(self):
        m, w = self.ev.evidence([("A", self.a), ("B", self.b)])
        by = {r["config"]: r for r in m["rows"]}
        self.assertAlmostEqual(by[0]["mean_shortfall"], (20 + 11) / 2)
        self.assertAlmostEqual(by[1]["mean_shortfall"], (0 + 2) / 2)
        self.assertAlmostEqual(by[2]["worst_shortfall"], 10)
        self.assertEqual(m["chosen"]["config"], 1)  # best on neither, closest on both
        self.assertEqual(m["own_best"], {"A": (1, 0.70), "B": (2, 0.66)})
        self.assertEqual((w["data_sets"], w["refused"], w["chosen"]["config"]), (["A"], ["B"], 0))
        md = self.ev.report([m, w], ["A", "B"])
        self.assertIn("| method=m | A, B | 15.5 / 20.0 | 1, 1.0 / 2.0 | --lr 0.2 | A: 1 (70.0), B: 2 (66.0) |", md)
        self.assertIn("| method=w | A (refused: B) |", md)

    def test_chosen_defaults_hold_only_what_differs_from_config_0(self):
        results = self.ev.evidence([("A", self.a), ("B", self.b)])
        chosen = self.ev.chosen_defaults(results, ["A", "B"], ["dir/a", "dir/b"])
        self.assertEqual(chosen["folders"], ["dir/a", "dir/b"])
        self.assertEqual(chosen["methods"]["m"]["options"], {"lr": 0.2})
        self.assertEqual(chosen["methods"]["m"]["config"], 1)
        # w runs on A only (B refuses it): one data set is no evidence for a default.
        self.assertNotIn("w", chosen["methods"])
        self.assertIn("1 data set(s) only", chosen["kept_struct_defaults"]["w"])
        self.a["method=w"]["configurations"][2]["val_accuracy"] = 0.9
        self.b["method=w"] = {"config": 0, "configurations": [dict(c, val_accuracy=0.5)
                                                             for c in self.a["method=w"]["configurations"]]}
        both = self.ev.chosen_defaults(self.ev.evidence([("A", self.a), ("B", self.b)]), ["A", "B"])
        self.assertEqual(both["methods"]["w"]["options"], {"lr": 0.3})
        self.assertEqual(self.ev.cpp_table(chosen), '      {"m", {{"lr", "0.2"}}},\n')

    def test_a_failed_configuration_is_no_candidate(self):
        self.b["method=m"]["configurations"][1]["val_accuracy"] = None
        m = self.ev.evidence([("A", self.a), ("B", self.b)])[0]
        self.assertIsNone(next(r for r in m["rows"] if r["config"] == 1)["mean_shortfall"])
        self.assertEqual(m["chosen"]["config"], 2)  # shortfalls (10, 0) against config 0's (20, 11)

    def test_different_draws_under_one_index_are_an_error(self):
        self.b["method=m"]["configurations"][2]["hparams"] = {"lr": 0.9}
        with self.assertRaisesRegex(self.ev.EvidenceError, "configuration 2 of method=m"):
            self.ev.evidence([("A", self.a), ("B", self.b)])
        p = subprocess.run([sys.executable, self.ev.__file__, "/nonexistent/search"], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/search: not a search's results folder", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


class HolmMarks(unittest.TestCase):
    """analysis/search_tables.py: the paired p-values, Holm's step-down correction inside one table,
    and the positive control, against independent computations."""

    def setUp(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(SWEEP)), "analysis"))
        import search_tables
        self.st = search_tables

    def test_holm_by_hand(self):
        # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06 (monotone).
        adjusted = self.st.holm_adjusted([0.01, 0.04, 0.03, 0.005])
        for got, want in zip(adjusted, [0.03, 0.06, 0.06, 0.02]):
            self.assertAlmostEqual(got, want, places=12)
        # Step-down stops at the first failure: 0.04 < 0.05 alone, but not after 0.03 failed.
        self.assertEqual([a <= 0.05 for a in adjusted], [True, False, False, True])
        self.assertEqual(self.st.holm_adjusted([0.5, 0.9]), [1.0, 1.0])
        self.assertEqual(self.st.holm_adjusted([]), [])

    def test_holm_equals_statsmodels(self):
        try:
            from statsmodels.stats.multitest import multipletests
        except ImportError:
            self.skipTest("python3-statsmodels is not installed")
        import random
        rng = random.Random(7)
        for m in (1, 2, 5, 16, 30):
            for _ in range(20):
                p = [rng.random() ** 3 for _ in range(m)]
                p[rng.randrange(m)] = p[0]  # a tie
                reject, adjusted, _, _ = multipletests(p, alpha=0.05, method="holm")
                mine = self.st.holm_adjusted(p)
                for a, b in zip(mine, adjusted):
                    self.assertAlmostEqual(a, float(b), places=12)
                self.assertEqual([a <= 0.05 for a in mine], [bool(r) for r in reject])

    def test_p_value_of_an_interval_equals_a_paired_t_test(self):
        from scipy.stats import ttest_1samp
        for diffs in ([0.031, 0.012, 0.05, 0.02, 0.041], [-0.01, 0.02, 0.003, -0.004, 0.001], [0.2, 0.25]):
            mean, half, n = self.st.t_interval(diffs)
            self.assertAlmostEqual(self.st.paired_p_value(mean, half, n), float(ttest_1samp(diffs, 0.0).pvalue), places=10)
        self.assertIsNone(self.st.paired_p_value(0.1, None, 1))
        self.assertEqual(self.st.paired_p_value(0.1, 0.0, 5), 0.0)

    def summary(self, paired, gains=None):
        """A search summary with CroMA and the given methods: paired {method: (mean, ci95)} at 5 shots."""
        gains = gains or {}
        cell = lambda m: {"shots": 5, "label_noise": 0.0, "mean": 0.6, "ci95": 0.01, "n_seeds": 5,
                          "initial_mean": 0.5, "initial_ci95": 0.01,
                          "gain_mean": gains.get(m, (0.1, 0.01))[0], "gain_ci95": gains.get(m, (0.1, 0.01))[1]}
        rows = {f"method={m}": {"method": m, "point": {}, "seeds": [1, 2, 3, 4, 5], "cells": {"5|0.0": cell(m)},
                                "target_samples_used": 10, "target_labels_used": 0, "episodes": 600, "ways": 5}
                for m in ["croma"] + list(paired)}
        return {"name": "t", "train": {}, "eval": {}, "selection_rule": "r", "missing": [], "selected": {},
                "search": {"final_seeds": [1, 2, 3, 4, 5], "trial_seeds": [1], "configurations": 3},
                "rows": rows,
                "paired_vs_croma": {f"method={m}": {"5|0.0": {"mean": d[0], "ci95": d[1], "n_seeds": 5,
                                                              "excludes_zero": abs(d[0]) > d[1]}}
                                    for m, d in paired.items()}}

    def test_table2_stars_only_what_survives_holm(self):
        # Three comparisons whose unadjusted intervals all exclude zero: a strong one, and two
        # at p about 0.03, which Holm (x 2, then x 1 after the first 0.03 fails x 2) drops.
        from scipy.stats import t
        q = t.ppf(0.975, 4)
        half_at = lambda mean, p: mean / t.isf(p / 2, 4) * q   # the half-width whose p-value is p
        s = self.summary({"a": (0.1, 0.01), "b": (0.02, half_at(0.02, 0.03)), "c": (-0.02, half_at(0.02, 0.031))})
        holm = self.st.holm_family(s["paired_vs_croma"], self.st.table2_comparisons(s))
        self.assertAlmostEqual(holm[("method=b", "5|0.0")]["p"], 0.03, places=9)
        self.assertEqual({g: h["survives"] for (g, _), h in holm.items()},
                         {"method=a": True, "method=b": False, "method=c": False})
        md = self.st.table2(s)
        self.assertIn("over all 3 paired comparisons of this table", md)
        self.assertIn("| a | 60.0 ± 1.0 | 10.0 ± 1.0 * |", md)
        self.assertRegex(md, r"\| b \| 60.0 ± 1.0 \| 2.0 ± 1.\d \|")
        self.assertRegex(md, r"\| c \| 60.0 ± 1.0 \| -2.0 ± 1.\d \|")
        # Alone in its table, b survives: the family is the table's.
        alone = self.summary({"b": (0.02, half_at(0.02, 0.03))})
        self.assertRegex(self.st.table2(alone), r"\| b \| 60.0 ± 1.0 \| 2.0 ± 1.\d \* \|")

    def test_positive_control(self):
        # Passing needs the interval above zero and the mean above 2 points.
        s = self.summary({"oracle": (0.0, 0.01), "m": (0.0, 0.01)},
                         gains={"croma": (0.025, 0.03), "oracle": (0.019, 0.005), "m": (0.03, 0.02)})
        c = self.st.positive_control(s)
        self.assertEqual([(m["method"], m["passes"]) for m in c["methods"]],
                         [("croma", False), ("oracle", False), ("m", True)])
        self.assertTrue(c["passes"])
        self.assertFalse(c["oracle"]["passes"])
        self.assertIn("**passes**; 1 of 3 methods pass: m +3.0 ± 2.0.", self.st.control_text(c))
        self.assertIn("claims about the oracle are uninformative", self.st.control_text(c))
        s["rows"]["method=m"]["cells"]["5|0.0"]["gain_ci95"] = 0.031
        c = self.st.positive_control(s)
        self.assertFalse(c["passes"])
        self.assertIn("**fails: this data set is uninformative**", self.st.table2(s))

    def label_summary(self, train, methods, selected=None, carried=None):
        """A summary whose rows read 10 target items, the oracle's all labelled; `carried`: {method:
        target_labels_class_pure} recorded by the runs."""
        s = self.summary({m: (0.0, 0.01) for m in methods})
        s["train"] = train
        s["selected"] = selected or {}
        for group, row in s["rows"].items():
            row["target_labels_used"] = row["target_samples_used"] if row["method"] == "oracle" else 0
            if row["method"] in (carried or {}):
                row["target_labels_class_pure"] = carried[row["method"]]
        return s

    def test_class_pure_count_derived_where_the_runs_lack_it(self):
        st = self.st
        methods = ["align-classify", "shared-align", "shared", "oracle", "unsup-meta-recon"]
        counts = lambda s: {r["method"]: st.class_pure_count(s, g)[0] for g, r in s["rows"].items()}
        labels = lambda s: {r["method"]: r["target_labels_used"] for r in s["rows"].values()}
        items = lambda s: {r["method"]: r["target_samples_used"] for r in s["rows"].values()}
        aligning = {"croma", "align-classify", "shared-align"}
        # Built-in world, default sub-concept clusters (each inside one class), weak pairs: the
        # aligning methods read every item they saw as a class label; the others their labels.
        weak = self.label_summary({"pairs": "weak"}, methods)
        want = {m: items(weak)[m] if m in aligning else labels(weak)[m] for m in items(weak)}
        self.assertEqual(counts(weak), want)
        self.assertNotEqual(want, labels(weak))  # the case tells the two counts apart
        self.assertEqual(st.weak_clusters_class_pure(weak, weak["train"])[0], True)
        # Strong pairs (given, or croma's default): the labels read, for every method.
        for train in ({"pairs": "strong"}, {}):
            self.assertEqual(counts(self.label_summary(train, methods)), labels(self.label_summary(train, methods)))
        # Weak pairs through the selected configuration (pairs searched) count as weak pairs.
        searched = self.label_summary({}, methods, selected={"method=croma": {"method": "croma", "point": {},
                                                                              "hparams": {"pairs": "weak"}}})
        self.assertEqual(counts(searched)["croma"], items(searched)["croma"])
        self.assertEqual(counts(searched)["align-classify"], labels(searched)["align-classify"])
        # Clusters of several classes: the count cannot be derived, and Table 2 says '?'.
        coarse = self.label_summary({"pairs": "weak", "classes-per-cluster": 3}, methods)
        self.assertEqual(st.weak_clusters_class_pure(coarse, coarse["train"])[0], False)
        self.assertEqual({m for m, c in counts(coarse).items() if c is None}, aligning)
        self.assertRegex(st.table2(coarse), r"\| croma \|.*\| 10 \(0; \?\) \|\n")
        self.assertIn("'?': the count of a method that aligns with weak pairs cannot be derived", st.table2(coarse))
        # Imported data: pure where croma refused unsup-meta-weak for that reason, unknown otherwise.
        refusal = {"method=unsup-meta-weak": {"method": "unsup-meta-weak", "point": {}, "refused":
                   "croma train: error: --method unsup-meta-weak: each of the 3 weak clusters of the meta-train "
                   "target items lies inside one class, so its cluster ids are class labels"}}
        data = {"pairs": "weak", "data": "d.shards.txt"}
        refused = self.label_summary(data, methods, selected=refusal)
        self.assertEqual(counts(refused), want)
        self.assertEqual({m for m, c in counts(self.label_summary(data, methods)).items() if c is None}, aligning)
        elsewhere = self.label_summary(data, methods, selected={
            "method=unsup-meta-weak": {**refusal["method=unsup-meta-weak"], "point": {"data": "other.shards.txt"}}})
        self.assertIsNone(counts(elsewhere)["croma"])
        # A row that carries the count keeps it, whatever the derivation would give.
        carried = self.label_summary({"pairs": "weak"}, methods, carried={"croma": 3, "oracle": 4})
        self.assertEqual((counts(carried)["croma"], counts(carried)["oracle"]), (3, 4))
        self.assertIsNone(st.class_pure_count(carried, "method=croma")[1])

    def test_table2_label_column_and_footnote(self):
        st = self.st
        self.assertEqual(st.target_cell(12, 0, 9), "12 (0; 9)")
        self.assertEqual(st.target_cell(12, 0, None), "12 (0; ?)")
        s = self.label_summary({"pairs": "weak"}, ["oracle", "shared"])
        md = st.table2(s)
        header = [line for line in md.splitlines() if line.startswith("| method |")]
        self.assertEqual(len(header), 1)
        self.assertTrue(header[0].endswith("| #target (labels; class-pure) |"), header)
        for row in s["rows"].values():
            n, l = row["target_samples_used"], row["target_labels_used"]
            pure = n if row["method"] == "croma" else l
            self.assertRegex(md, rf"\| {row['method']} \|.*\| {n} \({l}; {pure}\) \|\n")
        self.assertRegex(md, r"\| untrained start .*\| 0 \(0; 0\) \|\n")
        # The footnote explains both counts, and that these were derived, and from what.
        for text in ("a weak pair reads none", "whose weak cluster lies inside one class, since that cluster id is "
                     "the class label", "These runs predate the class-pure count, so it is derived",
                     "croma aligns with weak pairs", "--classes-per-cluster 1"):
            self.assertIn(text, md)
        strong = st.table2(self.label_summary({}, ["oracle"]))
        self.assertIn("no method here aligns with weak pairs", strong)
        recorded = st.table2(self.label_summary({"pairs": "weak"}, ["oracle"], carried={"croma": 5, "oracle": 10}))
        self.assertIn("a weak pair reads none", recorded)
        self.assertNotIn("predate the class-pure count", recorded)
        self.assertRegex(recorded, r"\| croma \|.*\| 10 \(0; 5\) \|\n")

    def test_committed_tables_are_what_the_committed_results_give(self):
        repo = os.path.dirname(os.path.dirname(SWEEP))
        folders = sorted(os.path.join(repo, "docs", "results", d) for d in os.listdir(os.path.join(repo, "docs", "results"))
                         if os.path.exists(os.path.join(repo, "docs", "results", d, "results.json"))
                         and os.path.exists(os.path.join(repo, "docs", "results", d, "selection.json")))
        self.assertGreaterEqual(len(folders), 5, folders)
        for folder in folders:  # every committed table can be audited from its episodes
            self.assertTrue(os.path.exists(os.path.join(folder, "episodes.json.gz")), folder)
        for folder in folders:
            self.assertEqual(self.st.retabulate(folder, check=True), [], f"{folder}: run analysis/search_tables.py {folder}")
        with open(os.path.join(repo, "docs", "results", "search-text_to_speech", "table2.md")) as f:
            t2s = f.read()
        # At 1 shot CroMA's 3.5 over Align + Meta Classify excludes zero unadjusted, not after Holm;
        # Align + Classify's 2.8 over CroMA survives Holm.
        self.assertIn("| align-meta-classify | 57.2 ± 1.8 | 80.2 ± 1.6 | 3.5 ± 2.6 | 0.6 ± 1.9 |", t2s)
        self.assertIn("| align-classify | 63.6 ± 1.7 | 82.3 ± 0.9 | -2.8 ± 1.3 * | -1.5 ± 1.8 |", t2s)
        # The final stages of text -> speech, image -> audio and text -> image ran again with the
        # count recorded. Weak pairs on data whose weak clusters are the classes: CroMA read as many
        # class labels as items; strong pairs: its class-pure count is its labels read, 0. Either
        # way it is what the derivation for older runs gives from the results alone.
        for name, weak in (("search-text_to_speech", True), ("search-image_to_audio", True),
                           ("search-text_to_image", False)):
            folder = os.path.join(repo, "docs", "results", name)
            with open(os.path.join(folder, "results.json")) as f:
                summary = json.load(f)
            self.assertEqual(summary["train"].get("pairs", "strong") == "weak", weak, name)
            row = summary["rows"]["method=croma"]
            self.assertEqual(row["target_labels_class_pure"], row["target_samples_used"] if weak else 0, name)
            self.assertEqual(row["target_labels_used"], 0, name)
            recorded = row.pop("target_labels_class_pure")
            self.assertEqual(self.st.class_pure_count(summary, "method=croma")[0], recorded, name)
            with open(os.path.join(folder, "table2.md")) as f:
                self.assertNotIn("predate the class-pure count", f.read())
        # The built-in search's final stage was run again with the count recorded (strong pairs:
        # CroMA's class-pure count is its labels read, 0), the sanity rows and the episodes: its
        # results.json and every table reproduce from its committed episodes alone.
        sys.path.insert(0, os.path.join(repo, "analysis"))
        import check_episodes
        for name in ("search-text_to_speech", "search-image_to_audio", "search-text_to_image", "search-builtin-fig7"):
            self.assertEqual(check_episodes.check(os.path.join(repo, "docs", "results", name)), [], name)
        builtin = os.path.join(repo, "docs", "results", "search-builtin")
        with open(os.path.join(builtin, "results.json")) as f:
            summary = json.load(f)
        row = summary["rows"]["method=croma"]
        self.assertEqual((row["target_labels_used"], row["target_labels_class_pure"]), (0, 0))
        self.assertEqual(summary["rows"]["method=oracle"]["target_labels_class_pure"],
                         summary["rows"]["method=oracle"]["target_labels_used"])
        with open(os.path.join(builtin, "table2.md")) as f:
            self.assertNotIn("predate the class-pure count", f.read())
        with open(os.path.join(builtin, "heads.md")) as f:
            self.assertIn("| raw standardised features (no network) | logistic |", f.read())
        self.assertEqual(check_episodes.check(builtin), [])


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
