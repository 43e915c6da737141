#!/usr/bin/env bash
# What meta-training added on meta-val for chosen search cells: each cell's final checkpoint
# against its own untrained start (same model, same initial parameters, same episodes, paired),
# with the size of the move its hyperparameters allow. The cells are copied first: `croma eval`
# writes eval-val.json into the run directory, and the search's own record must stay as it was.
# Usage: analysis/val_gain_audit.sh CROMA RUNS_DIR OUT_DIR "EVAL OPTIONS" CELL [CELL...]
#   RUNS_DIR: a search's runs folder (SEARCH_ROOT/search/runs); CELL: a run's folder name there,
#   e.g. 'method=oracle,config=12,seed=1'; EVAL OPTIONS: as the search evaluated, e.g.
#   "--eval-shots 1,5 --eval-queries 6 --eval-tasks 100".
# Prints a Markdown table; the move is meta-steps x epsilon x inner steps x inner lr, the distance
# a parameter would travel if every inner Adam step (about inner lr in size) pointed one way.
set -euo pipefail
croma=${1:?usage: val_gain_audit.sh CROMA RUNS_DIR OUT_DIR "EVAL OPTIONS" CELL...}
runs=${2:?RUNS_DIR}
out=${3:?OUT_DIR}
read -r -a eval_options <<< "${4:?EVAL OPTIONS}"
shift 4
[[ $# -gt 0 ]] || { echo "val_gain_audit.sh: no cells named" >&2; exit 2; }
mkdir -p "$out"
for cell in "$@"; do
  [[ -f $runs/$cell/checkpoints/final.h5 ]] || { echo "val_gain_audit.sh: no final checkpoint in $runs/$cell" >&2; exit 1; }
  dest=$out/$cell
  [[ -f $dest/eval-val.json && -f $dest/.audited ]] && continue
  rm -rf "$dest"
  cp -r "$runs/$cell" "$dest"
  rm -f "$dest/eval-val.json"
  "$croma" eval --run-dir "$dest" --threads 1 --split val "${eval_options[@]}" > "$dest/audit.out" 2>&1
  touch "$dest/.audited"
done
/usr/bin/python3 - "$out" "$@" <<'PY'
import json, sys
out, cells = sys.argv[1], sys.argv[2:]
print("| cell | inner lr | inner steps | meta lr | meta-steps | move | " +
      " | ".join(f"{k}-shot: untrained → trained (gain ± 95 %)" for k in ("1", "5")) + " |")
print("|---|---|---|---|---|---|---|---|")
for cell in cells:
    e = json.load(open(f"{out}/{cell}/eval-val.json"))
    m = json.load(open(f"{out}/{cell}/config.json"))["meta"]
    steps = e["checkpoint_step"]
    eps = m.get("meta_lr", float("nan"))
    move = steps * eps * m["inner_steps"] * m["inner_lr"]
    cols = []
    for r in sorted(e["results"], key=lambda r: r["shots"]):
        cols.append(f'{100 * r["initial_accuracy_mean"]:.1f} → {100 * r["accuracy_mean"]:.1f} '
                    f'({100 * r["gain_mean"]:+.1f} ± {100 * r["gain_ci95"]:.1f})')
    print(f'| {cell} | {m["inner_lr"]:.3g} | {m["inner_steps"]} | {eps:.3g} | {steps} | {move:.3g} | ' + " | ".join(cols) + " |")
PY
