"""analysis/paper_claims.py: the verdict rule on small synthetic searches, and the committed
paper-claims.md (and README.md's results table, once README.md has its markers) against what the
committed results give."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "analysis", "paper_claims.py")
sys.path.insert(0, os.path.join(REPO, "analysis"))
import paper_claims as pc  # noqa: E402
import search_tables as st  # noqa: E402

BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
SEEDS = ["1", "2", "3", "4", "5"]


def search(per_seed, gains, noise=0.0, refused=()):
    """A search summary and selection from per-seed 5-shot accuracies {method: [5 values]} and
    5-shot gains {method: (mean, ci95)}, paired against croma as search_tables.summarise does."""
    key = f"5|{noise}"
    rows, paired = {}, {}
    for m, accs in per_seed.items():
        group = f"method={m},label-noise={noise:g}"
        mean, half, n = st.t_interval(accs)
        g = gains.get(m, (0.0, 0.01))
        rows[group] = {"method": m, "point": {"label-noise": noise}, "seeds": [int(s) for s in SEEDS],
                       "cells": {key: {"shots": 5, "label_noise": noise, "mean": mean, "ci95": half, "n_seeds": n,
                                       "initial_mean": 0.5, "initial_ci95": 0.01, "gain_mean": g[0], "gain_ci95": g[1],
                                       "per_seed": dict(zip(SEEDS, accs))}},
                       "target_samples_used": 1, "target_labels_used": 0, "episodes": 600, "ways": 5}
    for group, r in rows.items():
        if r["method"] == "croma":
            continue
        diffs = [a - b for a, b in zip(per_seed["croma"], per_seed[r["method"]])]
        mean, half, n = st.t_interval(diffs)
        paired[group] = {key: {"mean": mean, "ci95": half, "n_seeds": n, "excludes_zero": abs(mean) > half}}
    selection = {f"method={m}": {"method": m, "point": {}, "refused": "each weak cluster lies inside one class"}
                 for m in refused}
    summary = {"name": "t", "train": {"pairs": "weak"}, "eval": {}, "rows": rows, "paired_vs_croma": paired,
               "missing": [], "selected": {}}
    return summary, selection


CROMA = [0.70, 0.72, 0.68, 0.71, 0.69]
LEARNS = {"croma": (0.10, 0.02), "oracle": (0.08, 0.02)}


def shifted(by, wobble=0.002):
    return [a - by + (wobble if i % 2 else -wobble) for i, a in enumerate(CROMA)]


def claim(cid):
    return next(c for c in pc.CLAIMS if c["id"] == cid)


class Rule(unittest.TestCase):
    def verdict(self, per_seed, gains, cid, refused=()):
        ds = pc.data_set(*search(per_seed, gains, refused=refused))
        return pc.paired_claim(claim(cid), ds)

    def test_each_verdict_is_reachable(self):
        base = {"croma": CROMA, "oracle": shifted(0.05)}
        # CroMA clearly above every listed baseline: supported.
        ev, v = self.verdict(dict(base, **{"shared": shifted(0.05), "shared-align": shifted(0.03)}), LEARNS, "separate")
        self.assertTrue(v.startswith("**supported** (2 comparisons: 2 supported)"), v)
        self.assertIn("Shared +5.0 ± 0.3 *", ev)
        # One of them clearly above CroMA: not supported, whatever the other does.
        _, v = self.verdict(dict(base, **{"shared": shifted(0.05), "shared-align": shifted(-0.03)}), LEARNS, "separate")
        self.assertTrue(v.startswith("**not supported**"), v)
        # One tie (an interval around zero), the rest supported: not separable for an "every" claim.
        tie = [a + d for a, d in zip(CROMA, [0.01, -0.01, 0.005, -0.004, -0.001])]
        _, v = self.verdict(dict(base, **{"shared": shifted(0.05), "shared-align": tie}), LEARNS, "separate")
        self.assertTrue(v.startswith("**not separable** (2 comparisons: 1 supported, 1 not separable)"), v)
        # Clear differences, but nothing learned on the data: uninformative.
        _, v = self.verdict(dict(base, **{"shared": shifted(0.05), "shared-align": shifted(0.03)}),
                            {"croma": (0.015, 0.005), "oracle": (0.03, 0.04)}, "separate")
        self.assertTrue(v.startswith("**uninformative**: the data set's positive control fails"), v)

    def test_control_thresholds(self):
        per_seed = {"croma": CROMA, "oracle": shifted(0.05)}
        for gains, passes in (({"croma": (0.021, 0.02)}, True), ({"croma": (0.019, 0.001)}, False),
                              ({"croma": (0.05, 0.051)}, False), ({"oracle": (0.03, 0.01)}, True)):
            ds = pc.data_set(*search(per_seed, gains))
            self.assertEqual(ds["control"]["passes"], passes, gains)

    def test_oracle_claim_needs_the_oracle_to_learn(self):
        per_seed = {"croma": CROMA, "oracle": shifted(0.05)}
        _, v = self.verdict(per_seed, LEARNS, "oracle")
        self.assertTrue(v.startswith("**supported**"), v)
        _, v = self.verdict(per_seed, {"croma": (0.10, 0.02), "oracle": (0.0, 0.001)}, "oracle")
        self.assertTrue(v.startswith("**uninformative**: the oracle's own gain fails the control"), v)
        self.assertIn("the comparisons alone: supported", v)
        # A claim not about the oracle is judged there all the same.
        _, v = self.verdict(dict(per_seed, shared=shifted(0.05), **{"shared-align": shifted(0.05)}),
                            {"croma": (0.10, 0.02), "oracle": (0.0, 0.001)}, "separate")
        self.assertTrue(v.startswith("**supported**"), v)

    def test_refused_methods_are_named_and_left_out(self):
        per_seed = {"croma": CROMA, "oracle": shifted(0.05), "shared": shifted(0.05)}
        ev, v = self.verdict(per_seed, LEARNS, "baselines", refused=["unsup-meta-weak"])
        self.assertIn("unsup. meta (weak labels): refused on these data", ev)
        self.assertTrue(v.startswith("**supported** (1 comparisons: 1 supported)"), v)

    def test_combine(self):
        S, N, X = pc.SUPPORTED, pc.NOT_SUPPORTED, pc.NOT_SEPARABLE
        self.assertEqual(pc.combine([S, S], "every"), S)
        self.assertEqual(pc.combine([S, X], "every"), X)
        self.assertEqual(pc.combine([S, X], "some"), S)
        self.assertEqual(pc.combine([X, X], "some"), X)
        self.assertEqual(pc.combine([S, N], "some"), N)
        self.assertIsNone(pc.combine([], "every"))

    def noise_search(self, leads, per_seed_kept=True):
        """CroMA and the oracle at p = 0, 0.2, 0.4 with the oracle `leads[p]` behind per seed."""
        summary = {"rows": {}, "paired_vs_croma": {}}
        for p, lead in leads.items():
            s, _ = search({"croma": CROMA, "oracle": shifted(lead)}, LEARNS, noise=p)
            summary["rows"].update(s["rows"])
            summary["paired_vs_croma"].update(s["paired_vs_croma"])
        if not per_seed_kept:
            for r in summary["rows"].values():
                for c in r["cells"].values():
                    del c["per_seed"]
        return pc.data_set(summary, {})

    def test_noise_claim(self):
        ev, v = pc.noise_claim(claim("robust"), self.noise_search({0.0: 0.05, 0.2: 0.08, 0.4: 0.10}))
        self.assertTrue(v.startswith("**supported** (2 comparisons: 2 supported)"), v)
        self.assertIn("p = 0.2 / 0.4: +3.0 ± 0.0 * / +5.0 ± 0.0 *", ev)
        _, v = pc.noise_claim(claim("robust"), self.noise_search({0.0: 0.05, 0.2: 0.08, 0.4: 0.02}))
        self.assertTrue(v.startswith("**not supported**"), v)
        _, v = pc.noise_claim(claim("robust"), self.noise_search({0.0: 0.05, 0.2: 0.08}, per_seed_kept=False))
        self.assertEqual(v, "no verdict: the per-seed data are not committed")


class Files(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)

    def readme_with_markers(self):
        with open(os.path.join(REPO, "README.md")) as f:
            text = f.read()
        if BEGIN not in text:
            text += f"\n{BEGIN}\n{END}\n"
        path = os.path.join(self.tmp, "README.md")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_committed_paper_claims_are_what_the_results_give(self):
        readme = self.readme_with_markers()
        claims = os.path.join(self.tmp, "paper-claims.md")
        p = self.run_script("--claims", claims, "--readme", readme)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(claims) as f, open(os.path.join(REPO, "docs", "results", "paper-claims.md")) as g:
            self.assertEqual(f.read(), g.read(), "docs/results/paper-claims.md is stale: run analysis/paper_claims.py")
        self.assertIn("text → speech (search-text_to_speech): control passes", p.stdout)
        with open(readme) as f:
            table = f.read().split(BEGIN)[1].split(END)[0]
        self.assertEqual(table.count("\n| ["), 4, table)
        self.assertLessEqual(len(table.strip().splitlines()), 10, table)
        self.assertEqual(self.run_script("--claims", claims, "--readme", readme, "--check").returncode, 0)
        with open(claims, "a") as f:
            f.write("edited by hand\n")
        p = self.run_script("--claims", claims, "--readme", readme, "--check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("stale: " + claims, p.stderr)

    def test_readme_table_is_current_once_the_markers_exist(self):
        with open(os.path.join(REPO, "README.md")) as f:
            if BEGIN not in f.read():
                self.skipTest("README.md has no results-table markers yet")
        p = self.run_script("--check")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing_markers_are_one_clear_error_and_nothing_is_written(self):
        readme = os.path.join(self.tmp, "README.md")
        with open(readme, "w") as f:
            f.write("# no markers\n")
        claims = os.path.join(self.tmp, "paper-claims.md")
        p = self.run_script("--claims", claims, "--readme", readme)
        self.assertEqual(p.returncode, 2)
        self.assertIn(BEGIN, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertFalse(os.path.exists(claims))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.wasSuccessful() else 0)
