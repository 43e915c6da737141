#!/usr/bin/env bash
# The modules' includes run one way (app -> eval -> meta -> tasks -> model -> data -> io, each
# also free to use config, distributed and util): no circle between modules, and no test
# outside tests/app reaches into app/ (the commands). A module is a folder of include/croma/
# and src/; an edge is an #include "croma/<other>/..." in any file of the module.
# With --self-test, also checks that a planted circle and a planted include are found.
# usage: layering_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
check() {  # check ROOT: exit 0 when ROOT's tree is layered
  /usr/bin/python3 - "$1" <<'PY'
import os, re, sys
root = sys.argv[1]
edges, where = {}, {}
for base in ("include/croma", "src"):
    top = os.path.join(root, base)
    for dirpath, _, files in os.walk(top):
        rel = os.path.relpath(dirpath, top).split(os.sep)
        if rel[0] == ".":
            continue
        for f in files:
            path = os.path.join(dirpath, f)
            for other in re.findall(r'#include "croma/([a-z_]+)/', open(path, errors="replace").read()):
                if other != rel[0]:
                    edges.setdefault(rel[0], set()).add(other)
                    where.setdefault((rel[0], other), os.path.relpath(path, root))
problems = []
# A circle: depth-first search for a back edge.
state, stack = {}, []
def visit(m):
    state[m] = "open"; stack.append(m)
    for n in sorted(edges.get(m, ())):
        if state.get(n) == "open":
            cycle = stack[stack.index(n):] + [n]
            problems.append("circle between modules: " + " -> ".join(cycle) + " (" +
                            ", ".join(where[(a, b)] for a, b in zip(cycle, cycle[1:])) + ")")
        elif n not in state:
            visit(n)
    stack.pop(); state[m] = "done"
for m in sorted(edges):
    if m not in state:
        visit(m)
for dirpath, _, files in os.walk(os.path.join(root, "tests")):
    if os.path.relpath(dirpath, root).split(os.sep)[:2] == ["tests", "app"]:
        continue
    for f in files:
        if f.endswith((".cpp", ".h")):
            path = os.path.join(dirpath, f)
            if re.search(r'#include "croma/app/', open(path, errors="replace").read()):
                problems.append(f"{os.path.relpath(path, root)} includes app/ (only tests/app may)")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
}
failures=0
check "$here" || failures=$((failures + 1))
# The check can fail: a copy of the headers with a planted circle and a planted include.
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/include/croma/io" "$scratch/include/croma/model" "$scratch/tests/eval"
echo '#include "croma/model/param_layout.h"' >"$scratch/include/croma/io/a.h"
echo '#include "croma/io/hdf5_util.h"' >"$scratch/include/croma/model/b.h"
echo '#include "croma/app/commands.h"' >"$scratch/tests/eval/c_test.cpp"
out=$(check "$scratch")
grep -q "circle between modules: io -> model -> io" <<<"$out" && grep -q "tests/eval/c_test.cpp includes app/" <<<"$out" ||
  { echo "FAIL: the check missed a planted circle or include: $out"; failures=$((failures + 1)); }
echo "layering: $((2 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
