"""The hyperparameter registry as a markdown table (docs/evaluation.md "The registry").

    python3 analysis/hparams_table.py build/croma > table.md

One row per option, one column per method: the distribution where the method searches it.
"""
import json
import subprocess
import sys

METHODS = ["croma", "target-autoencoder", "unsup-meta-recon", "unsup-meta-weak", "align-classify",
           "align-meta-classify", "oracle", "shared", "shared-align", "shared-confusion", "shared-target-labels"]


def distribution(d):
    if d["kind"] == "choice":
        return "{" + ", ".join(str(v) for v in d["values"]) + "}"
    return f"{d['kind']} [{d['low']:g}, {d['high']:g}]"


def main(croma):
    rows, used = {}, {}
    for m in METHODS:
        out = subprocess.run([croma, "train", "--method", m, "--print-hparams"], check=True,
                             capture_output=True, text=True).stdout
        for e in json.loads(out)["hyperparameters"]:
            rows.setdefault(e["name"], e)
            used.setdefault(e["name"], []).append(m)
    print("| option | default | paper | search distribution | methods that search it |")
    print("|---|---|---|---|---|")
    for name, e in rows.items():
        methods = "all" if len(used[name]) == len(METHODS) else ", ".join(used[name])
        paper = "" if e["paper"] is None else f"{e['paper']:g}"
        print(f"| `--{name}` | {e['default']} | {paper} | {distribution(e['distribution'])} | {methods} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/croma")
