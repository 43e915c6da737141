"""A stand-in for croma in the search tools' tests (jobs/sweep.py, analysis/regret_study.py):
`croma train --method M ... --print-hparams` prints a fixed hyperparameter registry, which is
all a search needs from croma to draw its configurations, and every call is appended to
croma.log so that a test can count what reached croma."""
import json
import os


def install(folder, registry):
    """Writes FOLDER/registry.json and FOLDER/bin/croma (which prints it); returns the bin folder."""
    bindir = os.path.join(folder, "bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(folder, "registry.json"), "w") as f:
        json.dump(registry, f)
    with open(os.path.join(bindir, "croma"), "w") as f:
        f.write('#!/bin/bash\necho "$@" >> "$(dirname "$0")/../croma.log"\ncat "$(dirname "$0")/../registry.json"\n')
    os.chmod(os.path.join(bindir, "croma"), 0o755)
    return bindir
