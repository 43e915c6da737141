"""Tests of analysis/regret_study.py: the replay of selection procedures on a densely evaluated
pool. Synthetic pools (files written as croma writes them) give known answers; one tiny real
pool runs end to end with the croma binary given as the first argument."""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

CROMA = os.path.abspath(sys.argv.pop(1))
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "analysis", "regret_study.py")
spec_ = importlib.util.spec_from_file_location("regret_study", SCRIPT)
regret = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(regret)
sys.path.insert(0, HERE)
import fake_croma  # noqa: E402  (tests/jobs/fake_croma.py)

REGISTRY = {"method": "croma", "hyperparameters": [
    {"name": "inner-lr", "json_pointer": "/meta/inner_lr", "default": 0.01, "paper": None,
     "distribution": {"kind": "log-uniform", "low": 0.001, "high": 0.1}, "note": ""}]}


class SyntheticPool(unittest.TestCase):
    """A pool whose files are written by hand: accuracy of config c, seed s, episode i is
    quality(c, s, i); the reference (meta-test) accuracy is reference(c)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        fake_croma.install(self.dir, REGISTRY)
        self.spec_path = os.path.join(self.dir, "spec.json")

    def tearDown(self):
        self.tmp.cleanup()

    def write_pool(self, configs, seeds, episodes, quality, reference, train_s=10.0, eval_s=60.0, **search):
        s = {"methods": ["croma"], "configurations": configs, "trial_seeds": seeds, "final_seeds": [9],
             "val_eval": {"eval-tasks": episodes}}
        s.update(search)
        s = {k: v for k, v in s.items() if v is not None}
        with open(self.spec_path, "w") as f:
            json.dump({"name": "pool", "root": "pool", "croma": "bin/croma", "train": {"steps": 5},
                       "eval": {"eval-shots": "1,5"}, "search": s}, f)
        spec = regret.sweep.load_spec(self.spec_path)
        if "halving" in s:
            return spec
        _, cells = regret.pool_stage(spec)
        for c in cells:
            run = os.path.join(spec["root"], "search", "runs", c["name"])
            os.makedirs(run, exist_ok=True)
            acc = [quality(c["config"], c["seed"], i) for i in range(episodes)]
            # Two shot counts whose mean per episode is acc: k=1 lower, k=5 higher by the same amount.
            val = {"split": "meta-val", "results": [
                {"shots": k, "accuracy_mean": float(np.mean(acc)) + d,
                 "trained": {"seeds": [{"seed": c["seed"], "task_accuracy": [a + d for a in acc]}]}}
                for k, d in ((1, -0.1), (5, 0.1))]}
            with open(os.path.join(run, "eval-val.json"), "w") as f:
                json.dump(val, f)
            ref = reference(c["config"], c["seed"])
            with open(os.path.join(run, "eval.json"), "w") as f:
                json.dump({"split": "meta-test", "results": [
                    {"shots": 1, "trained": {"seeds": [{"seed": c["seed"], "task_accuracy": [ref] * 4}]}}]}, f)
            with open(os.path.join(run, "cell-time.json"), "w") as f:
                json.dump({"ranks": 1, "threads": 1, "train_s": train_s, "eval_s": eval_s}, f)
        return spec

    def test_a_noiseless_pool_is_solved_by_every_procedure(self):
        q = {c: 0.4 + 0.01 * ((7 * c) % 9) for c in range(9)}
        spec = self.write_pool(9, [1, 2, 3], 600, lambda c, s, i: q[c], lambda c, s: q[c])
        result = regret.study(regret.load_pool(spec), regret.DEFAULT_PROCEDURES, 5, None)
        g = result["method=croma"]
        self.assertEqual(g["best"], max(q, key=q.get))
        for row in g["procedures"]:
            self.assertAlmostEqual(row["regret"], 0.0, places=9)
            self.assertEqual(row["picks_best"], 1.0)

    def test_cpu_counts_each_training_once_and_every_rung_evaluation(self):
        spec = self.write_pool(9, [1, 2, 3], 600, lambda c, s, i: 0.5 + 0.01 * c, lambda c, s: 0.5)
        pool = regret.load_pool(spec)
        procedures = [{"name": "random", "keep": 1, "rungs": [[1, 100]]},
                      {"name": "halving", "keep": 3, "rungs": [[1, 100], [3, 300], [3, 600]]}]
        rows = regret.study(pool, procedures, 3, None)["method=croma"]["procedures"]
        train, per_episode = 10.0, 60.0 / 600
        random_s = 9 * (train + 100 * per_episode)
        # Rung 0: 9 configs x 1 seed; rung 1: 3 configs x 3 seeds (2 new trainings each);
        # rung 2: 1 config x 3 seeds, all trained before.
        halving_s = (9 * (train + 100 * per_episode) + 3 * (2 * train + 3 * 300 * per_episode)
                     + 3 * 600 * per_episode)
        self.assertAlmostEqual(rows[0]["cpu_hours"], random_s / 3600)
        self.assertAlmostEqual(rows[1]["cpu_hours"], halving_s / 3600)

    def test_selection_and_promotion_equal_an_independent_replay(self):
        rng = np.random.default_rng(5)
        noise = {(c, s): rng.normal(0, 0.15, 600) for c in range(12) for s in (1, 2, 3)}
        q = {c: 0.5 + 0.004 * c for c in range(12)}
        spec = self.write_pool(12, [1, 2, 3], 600, lambda c, s, i: q[c] + noise[(c, s)][i],
                               lambda c, s: q[c] - 0.002 * s)
        pool = regret.load_pool(spec)
        g = pool["method=croma"]
        procedure = {"name": "halving", "keep": 2, "rungs": [[1, 50], [2, 200], [3, 600]]}
        for d in range(20):
            configs, seeds, perms = regret.draw_once(g, 8, np.random.default_rng([1, d]))
            chosen, _ = regret.replay(g, procedure, configs, seeds, perms)
            # Independently: rank by mean over the rung's seeds of each seed's mean over its episodes,
            # keep the better half (rounded up), ties to the lower index.
            alive = configs
            for r, (n_seeds, n_eps) in enumerate(procedure["rungs"]):
                score = {c: np.mean([np.mean((q[c] + noise[(c, s)])[perms[s][:n_eps]]) for s in seeds[:n_seeds]])
                         for c in alive}
                order = sorted(alive, key=lambda c: (-score[c], c))
                alive = order[:math.ceil(len(order) / 2)] if r + 1 < len(procedure["rungs"]) else order[:1]
            self.assertEqual(chosen, alive[0], f"draw {d}")
            self.assertIn(0, configs)
            self.assertEqual(len(set(configs)), 8)

    def test_reference_regret_is_the_pools_best_minus_the_choice(self):
        # Meta-val prefers config 2 at every fidelity; the reference prefers config 1.
        val = {0: 0.5, 1: 0.6, 2: 0.7}
        ref = {0: 0.55, 1: 0.75, 2: 0.65}
        spec = self.write_pool(3, [1, 2], 100, lambda c, s, i: val[c], lambda c, s: ref[c])
        procedures = [{"name": "random", "keep": 1, "rungs": [[1, 10]]},
                      {"name": "halving", "keep": 2, "rungs": [[1, 10], [2, 100]]}]
        g = regret.study(regret.load_pool(spec), procedures, 4, None)["method=croma"]
        self.assertEqual(g["best"], 1)
        for row in g["procedures"]:
            self.assertAlmostEqual(row["regret"], 10.0)
            self.assertEqual(row["picks_best"], 0.0)

    def test_more_fidelity_lowers_regret_on_a_noisy_pool(self):
        rng = np.random.default_rng(11)
        q = {c: 0.5 + 0.005 * rng.standard_normal() for c in range(20)}
        shift = {(c, s): rng.normal(0, 0.004) for c in range(20) for s in (1, 2, 3)}
        noise = {(c, s): rng.normal(0, 0.12, 600) for c in range(20) for s in (1, 2, 3)}
        spec = self.write_pool(20, [1, 2, 3], 600, lambda c, s, i: q[c] + shift[(c, s)] + noise[(c, s)][i],
                               lambda c, s: q[c])
        procedures = [{"name": "1x100", "keep": 1, "rungs": [[1, 100]]},
                      {"name": "3x600", "keep": 1, "rungs": [[3, 600]]}]
        rows = regret.study(regret.load_pool(spec), procedures, 60, None)["method=croma"]["procedures"]
        self.assertGreater(rows[0]["regret"], rows[1]["regret"])
        self.assertGreater(rows[1]["regret_below_first"] - rows[1]["regret_below_first_ci95"], 0)
        self.assertGreater(rows[1]["cpu_hours"], rows[0]["cpu_hours"])

    def test_goal_rule(self):
        first = {"regret": 2.0, "cpu_hours": 3.0}
        self.assertTrue(regret.goal_met(first, {"regret": 1.0, "cpu_hours": 3.0}))
        self.assertFalse(regret.goal_met(first, {"regret": 1.1, "cpu_hours": 3.0}))
        self.assertTrue(regret.goal_met(first, {"regret": 2.0, "cpu_hours": 1.0}))
        self.assertFalse(regret.goal_met(first, {"regret": 2.0, "cpu_hours": 1.1}))

    def test_cli_writes_the_report_and_bad_input_is_one_line(self):
        q = {c: 0.4 + 0.01 * c for c in range(4)}
        spec = self.write_pool(4, [1, 2], 50, lambda c, s, i: q[c] + (0.05 if i % 2 else -0.05), lambda c, s: q[c])
        out = os.path.join(self.dir, "out")
        p = subprocess.run([sys.executable, SCRIPT, "study", self.spec_path, "--draws", "3", "--out", out,
                            "--procedures", self.procedures_file([{"name": "one", "keep": 1, "rungs": [[1, 50]]}])],
                           capture_output=True, text=True, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(out, "regret.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["groups"]["method=croma"]["best"], 3)
        with open(os.path.join(out, "regret.md")) as f:
            self.assertIn("| one | 0.00 | 100 % |", f.read())
        one = self.procedures_file([{"name": "one", "keep": 1, "rungs": [[1, 50]]}])
        bad = [(["--procedures", self.procedures_file([{"name": "x", "keep": 1, "rungs": [[3, 50]]}])],
                "rung [3, 50] needs more than the pool holds (2 seeds x 50 episodes)"),
               (["--draws", "1"], "at least 2 draws"),
               (["--searched", "9", "--procedures", one], "holds 4 configurations"),
               (["--procedures", self.procedures_file([{"name": "y", "keep": 1, "rungs": "ab"}])],
                "procedure 'y': \"rungs\" must be a non-empty list of [seeds, episodes], each an integer >= 1"),
               (["--procedures", self.procedures_file([{"name": "z", "keep": 1, "rungs": [[1, 10], [2, 50]]}])],
                "procedure 'z': \"keep\" must be >= 2 with several rungs"),
               (["--procedures", self.procedures_file([{"name": "w", "keep": 0, "rungs": [[1, 10]]}])],
                "procedure 'w': \"keep\" must be an integer >= 1"),
               (["--procedures", self.text_file("{bad")], "is not valid JSON")]
        for extra, message in bad:
            p = subprocess.run([sys.executable, SCRIPT, "study", self.spec_path, "--out", out] + extra,
                               capture_output=True, text=True, cwd=self.dir)
            self.assertEqual(p.returncode, 1)
            self.assertIn(message, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # A pool cell without its reference names the cell and what to run.
        os.remove(os.path.join(spec["root"], "search", "runs", "method=croma,config=02,seed=2", "eval.json"))
        with self.assertRaisesRegex(regret.StudyError, "config=02,seed=2/eval.json' is missing.*regret_study.py pool"):
            regret.load_pool(spec)

    def test_a_halving_spec_is_no_pool(self):
        spec = self.write_pool(4, [1], 10, None, None, trial_seeds=None,
                               halving={"keep": 2, "rungs": [{"seeds": [1]}, {"seeds": [1, 2]}]})
        with self.assertRaisesRegex(regret.StudyError, "successive halving"):
            regret.pool_stage(spec)

    def text_file(self, text):
        path = os.path.join(self.dir, f"text-{len(os.listdir(self.dir))}.json")
        with open(path, "w") as f:
            f.write(text)
        return path

    def procedures_file(self, procedures):
        path = os.path.join(self.dir, f"procedures-{len(os.listdir(self.dir))}.json")
        with open(path, "w") as f:
            json.dump(procedures, f)
        return path


class RealPool(unittest.TestCase):
    """A tiny pool on the built-in world, trained and evaluated by croma itself."""

    def test_pool_then_study_end_to_end_and_a_rerun_runs_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            spec_path = os.path.join(d, "spec.json")
            with open(spec_path, "w") as f:
                json.dump({"name": "tiny", "root": "pool", "croma": CROMA,
                           "train": {"steps": 5, "quiet": True, "checkpoint-every": 0},
                           "eval": {"eval-shots": "1", "eval-queries": 3},
                           "search": {"methods": ["croma"], "configurations": 2, "trial_seeds": [1, 2],
                                      "final_seeds": [9], "val_eval": {"eval-tasks": 8}}}, f)
            run = lambda *a: subprocess.run([sys.executable, SCRIPT, *a], capture_output=True, text=True, cwd=d)
            p = run("pool", spec_path, "--jobs", "2")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout.strip().splitlines()[-1])["trained"], 4)
            runs = os.path.join(d, "pool", "search", "runs")
            for name in os.listdir(runs):
                with open(os.path.join(runs, name, "eval.json")) as f:
                    ev = json.load(f)
                self.assertEqual(ev["split"], "meta-test")
                self.assertEqual(len(ev["results"][0]["trained"]["seeds"][0]["task_accuracy"]), 8)
                self.assertTrue(os.path.exists(os.path.join(runs, name, "reference-time.json")))
            # The replay reads a rung of e episodes as the first e of the pool's: croma's
            # evaluation with fewer tasks (same seed) gives exactly those first episodes.
            one = os.path.join(runs, sorted(os.listdir(runs))[0])
            with open(os.path.join(one, "eval-val.json")) as f:
                full = json.load(f)["results"][0]["trained"]["seeds"][0]["task_accuracy"]
            copy = os.path.join(d, "copy")
            shutil.copytree(one, copy)
            p = subprocess.run([CROMA, "eval", "--run-dir", copy, "--split", "val", "--skip-untrained",
                                "--eval-shots", "1", "--eval-queries", "3", "--eval-tasks", "3"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(copy, "eval-val.json")) as f:
                self.assertEqual(json.load(f)["results"][0]["trained"]["seeds"][0]["task_accuracy"], full[:3])
            stamps = {n: os.path.getmtime(os.path.join(runs, n, "eval.json")) for n in os.listdir(runs)}
            p = run("pool", spec_path)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(stamps, {n: os.path.getmtime(os.path.join(runs, n, "eval.json")) for n in os.listdir(runs)})
            p = run("study", spec_path, "--draws", "4", "--procedures", os.path.join(d, "p.json"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("p.json' is missing", p.stderr)
            with open(os.path.join(d, "p.json"), "w") as f:
                json.dump([{"name": "a", "keep": 1, "rungs": [[1, 4]]}, {"name": "b", "keep": 2, "rungs": [[1, 4], [2, 8]]}], f)
            p = run("study", spec_path, "--draws", "4", "--procedures", os.path.join(d, "p.json"))
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(d, "pool", "regret", "regret.json")) as f:
                doc = json.load(f)
            rows = doc["groups"]["method=croma"]["procedures"]
            self.assertTrue(all(r["regret"] >= 0 for r in rows))
            # Halving trains both seeds of the promoted configuration: more CPU than one rung.
            self.assertGreater(rows[1]["cpu_hours"], rows[0]["cpu_hours"])


if __name__ == "__main__":
    unittest.main()
