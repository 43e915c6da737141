"""analysis/linear_transfer_control.py on feature shards made here: the discriminant of the
meta-train classes helps exactly where the classes share their discriminative directions."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "data_prep"))
sys.path.insert(0, os.path.join(REPO, "analysis"))
import croma_shards  # noqa: E402
import linear_transfer_control as control  # noqa: E402

SCRIPT = os.path.join(REPO, "analysis", "linear_transfer_control.py")


def shards(folder, shared, classes=30, per_class=30, dim=40, seed=0):
    """Class means in the first 4 dims plus noise of std 3 in every dim. shared=False: the
    meta-test classes' means lie in 4 other dims, which no meta-train class uses."""
    rng = np.random.default_rng(seed)
    split = {"meta_train": list(range(20)), "meta_val": list(range(20, 25)), "meta_test": list(range(25, classes))}
    x, y = [], []
    for c in range(classes):
        mean = np.zeros(dim)
        dims = slice(0, 4) if shared or c < 25 else slice(4, 8)
        mean[dims] = 4 * rng.standard_normal(4)
        x.append(mean + 3 * rng.standard_normal((per_class, dim)))
        y += [c] * per_class
    x = np.concatenate(x).astype(np.float32)
    side = lambda: {"features": x, "labels": np.array(y), "ids": [str(i) for i in range(len(y))]}  # noqa: E731
    croma_shards.write_shards(folder, "t", [f"c{c}" for c in range(classes)], split, side(), side(), [], {})
    return os.path.join(folder, "t.shards.txt")


class LinearTransferControl(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def result(self, path, *extra):
        p = subprocess.run([sys.executable, SCRIPT, path, "--episodes", "200", *extra], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_the_discriminant_finds_the_shared_directions(self):
        rng = np.random.default_rng(1)
        x = np.concatenate([np.eye(6)[c % 3] * 5 + rng.standard_normal((50, 6)) for c in range(9)])
        y = np.repeat(np.arange(9), 50)
        directions = control.discriminant(x, y, list(range(9)), shrinkage=0.1)
        self.assertEqual(directions.shape, (6, 6))  # min(C - 1, d) directions
        # The two leading directions lie in the span of dims 0-2, where the means differ.
        lead = directions[:, :2] / np.linalg.norm(directions[:, :2], axis=0)
        self.assertLess(np.abs(lead[3:]).max(), 0.15, lead)

    def test_shared_structure_transfers_and_foreign_structure_does_not(self):
        shared = self.result(shards(os.path.join(self.tmp.name, "a"), shared=True), "--shots", "1,5")
        foreign = self.result(shards(os.path.join(self.tmp.name, "b"), shared=False), "--shots", "5")
        gain = shared["rows"][1]["gain"]
        self.assertGreater(gain["mean"] - gain["ci95"], 0.10, shared["rows"])
        self.assertEqual(shared["classes"], {"meta_train": 20, "meta_val": 5, "meta_test": 5})
        # Test classes that live in directions meta-train never used: projecting them away hurts.
        self.assertLess(foreign["rows"][0]["gain"]["mean"], -0.05, foreign["rows"])
        # The same seed, the same episodes and numbers.
        again = self.result(shards(os.path.join(self.tmp.name, "a"), shared=True), "--shots", "1,5")
        self.assertEqual(again["rows"], shared["rows"])

    def test_raw_accuracy_equals_a_plain_nearest_mean(self):
        x = np.array([[0.0, 0], [0, 1], [5, 5], [5, 6], [0.2, 0.4], [5, 5.4]])
        support, labels, query = np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), np.array([4, 5])
        self.assertEqual(control.nearest_mean(x, support, labels, query, 2).tolist(), [0, 1])

    def test_too_small_classes_are_one_clear_error(self):
        path = shards(os.path.join(self.tmp.name, "c"), shared=True, per_class=8)
        p = subprocess.run([sys.executable, SCRIPT, path, "--shots", "5"], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("need 11 items in 5 meta-test classes; the smallest has 8", p.stderr)

    def test_a_missing_or_foreign_file_is_one_clear_error(self):
        foreign = os.path.join(self.tmp.name, "foreign.h5")
        import h5py
        with h5py.File(foreign, "w") as f:
            f["x"] = np.zeros(3)
        for path, words in ((os.path.join(self.tmp.name, "none.shards.txt"), "No such file"),
                            (foreign, "cannot read feature shards")):
            p = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(words, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
