#!/usr/bin/env bash
# Every baseline's own defaults are the evidence of the tuning searches:
#  1. docs/results/method-defaults.json is what analysis/defaults_evidence.py --json computes from
#     the committed searches it names (their selection.json files);
#  2. `croma train --method M --print-hparams` resolves each option that file lists for M to the
#     listed value, and every other option of M's registry that croma's registry also has to
#     croma's default (a method without an entry there runs on croma's defaults);
#  3. an option given on the command line still wins.
# usage: method_defaults_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }

evidence="$here/docs/results/method-defaults.json"
[ -f "$evidence" ] || fail "no $evidence"
mapfile -t folders < <("$py" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["folders"]))' "$evidence")
[ "${#folders[@]}" -ge 1 ] || fail "$evidence names no search folders"
(cd "$here" && "$py" analysis/defaults_evidence.py --json "$work/again.json" "${folders[@]}" >/dev/null) \
  || fail "defaults_evidence.py on ${folders[*]}"
cmp -s "$evidence" "$work/again.json" || fail "$evidence is not what defaults_evidence.py computes from ${folders[*]}: $(diff "$evidence" "$work/again.json" | head -5)"

for method in croma target-autoencoder unsup-meta-recon unsup-meta-weak align-classify align-meta-classify \
              oracle shared shared-align shared-confusion shared-target-labels; do
  "$croma" train --method "$method" --print-hparams >"$work/$method.json" || fail "$method --print-hparams"
done
"$py" - "$evidence" "$work" <<'PY' || fail "resolved defaults"
import json, sys
evidence, work = json.load(open(sys.argv[1])), sys.argv[2]
def entries(m):
    return {e["name"]: e["default"] for e in json.load(open(f"{work}/{m}.json"))["hyperparameters"]}
croma = entries("croma")
for m in ("target-autoencoder", "unsup-meta-recon", "unsup-meta-weak", "align-classify", "align-meta-classify",
          "oracle", "shared", "shared-align", "shared-confusion", "shared-target-labels"):
    own = evidence["methods"].get(m, {}).get("options", {})
    got = entries(m)
    for name, value in own.items():
        assert name in got, (m, name, sorted(got))
        assert got[name] == value, (m, name, got[name], value)
    for name, value in got.items():
        if name not in own and name in croma:
            assert value == croma[name], (m, name, value, croma[name])
assert not evidence["methods"].get("croma", {}).get("options"), "croma's defaults are the structs'; see method_defaults.h"
PY

# The command line wins over a method's own default.
"$py" - "$evidence" >"$work/pick" <<'PY' || fail "no method with its own defaults in the evidence"
import json, sys
methods = {m: v["options"] for m, v in json.load(open(sys.argv[1]))["methods"].items() if v["options"] and m != "croma"}
m = sorted(methods)[0]
name = sorted(methods[m])[0]
print(m, name, methods[m][name])
PY
read -r method option value <"$work/pick"
"$croma" train --method "$method" "--$option" 7 --print-hparams >"$work/given.json" 2>/dev/null \
  || "$croma" train --method "$method" "--$option" 0.07 --print-hparams >"$work/given.json" || fail "--$option given"
"$py" - "$work/given.json" "$option" "$value" <<'PY' || fail "--$option given on the command line did not win"
import json, sys
got = {e["name"]: e["default"] for e in json.load(open(sys.argv[1]))["hyperparameters"]}[sys.argv[2]]
assert got in (7, 0.07) and str(got) != sys.argv[3], got
PY
echo "method_defaults_test: ok"
