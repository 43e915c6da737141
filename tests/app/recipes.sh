# Shared by tests/app/recipe_*_test.sh (sourced, not run): the blocks of docs/recipes.md, run
# as they stand in a scratch copy of the repository's user-facing folders.
#   recipe_block NAME      the ```sh block after the line <!-- recipe:NAME --> of docs/recipes.md
#   scratch_repo DIR CROMA a folder laid out like the repository root: copies of data_prep/,
#                          jobs/ and analysis/, and build/croma linking to CROMA
#   edit_search_spec SPEC  the hand edit of recipe 1 on exactly the fields its comment names
#                          (they must exist in the copied spec), plus sizes for a test
#   make_features DIR      text.npz and audio.npz as a user brings them: 30 classes x 24 items,
#                          features [n, d] (20-d text, 10-d audio, off unit scale) and labels
recipes_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

recipe_block() {
  awk -v m="<!-- recipe:$1 -->" '
    $0 == m { found = 1; next }
    found && !inside && /^```/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }' "$recipes_src/docs/recipes.md"
}

scratch_repo() {
  mkdir -p "$1/build"
  cp -r "$recipes_src/data_prep" "$recipes_src/jobs" "$recipes_src/analysis" "$1/"
  ln -s "$2" "$1/build/croma"
}

make_features() {
  /usr/bin/python3 - "$1" <<'PY'
import sys, numpy as np
w = sys.argv[1]; r = np.random.default_rng(5)
classes = np.array([f"word{k:02d}" for k in range(30)])
lab = np.repeat(np.arange(30), 24)
centres = r.normal(size=(30, 6))
def modality(d, scale, offset):
    x = centres[lab] @ r.normal(size=(6, d)) + 0.3 * r.normal(size=(len(lab), d))
    return (scale * x + offset).astype(np.float32)
np.savez(f"{w}/text.npz", features=modality(20, 3.0, 5.0), labels=classes[lab])
np.savez(f"{w}/audio.npz", features=modality(10, 0.5, -2.0), labels=classes[lab])
PY
}

edit_search_spec() {
  /usr/bin/python3 - "$1" "$(recipe_block own-data)" <<'PY'
import json, re, sys
path, block = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
edit = "\n".join(l for l in block.splitlines() if l.startswith("#"))
for key in ("name", "root", "train", "search", "local"):
    assert f'"{key}"' in edit, f"recipe 1 no longer names {key}"
    assert key in spec, f"the copied spec has no {key}"
for key in ("data", "pairs"):
    assert f'"{key}"' in edit and key in spec["train"], key
for key in ("methods", "configurations", "final_seeds"):
    assert f'"{key}"' in edit and key in spec["search"], key
# The values the recipe shows.
for key in ("name", "root"):
    spec[key] = re.search(rf'"{key}": "([^"]+)"', edit).group(1)
spec["train"]["data"] = re.search(r'"data": "([^"]+)"', edit).group(1)
spec["train"]["pairs"] = re.search(r'"pairs": "([^"]+)"', edit).group(1)
# The budget and sizes of a test (a user keeps the spec's sizes).
spec["search"].update(methods=["croma", "align-meta-classify"], configurations=2, final_seeds=[2, 3],
                      val_eval={"eval-tasks": 8})
spec["local"] = {"ranks": 1, "threads": 1}
spec["train"].update({"steps": 6, "hidden": 32, "embed-dim": 16, "classifier-hidden": 16, "ways": 3,
                      "shots": 2, "eval-ways": 3, "eval-shots": "1,3", "eval-queries": 4})
spec["eval"] = {"eval-ways": 3, "eval-shots": "1,3", "eval-queries": 4, "eval-tasks": 10, "eval-steps": 3}
json.dump(spec, open(path, "w"), indent=1)
PY
}
