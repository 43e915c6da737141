"""Tests of jobs/sweep.py that need no Slurm: fake sbatch/scontrol/squeue on PATH record
what would reach the cluster."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

SWEEP = sys.argv.pop(1)
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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
