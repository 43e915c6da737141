#!/usr/bin/env bash
# docs/recipes.md, recipe 1 (your own data to a fair comparison), run as it stands in a scratch
# copy of the repository's folders: a user's text.npz / audio.npz -> import_features.py ->
# croma inspect -> a copy of jobs/searches/text_to_speech.json -> sweep.py run -> aggregate ->
# the tables. The one step a user does by hand, editing the spec, is done here on exactly the
# fields the recipe names (which must exist in the copied spec), plus sizes small enough for a
# test: 2 methods, 2 configurations, 2 fresh seeds, a few meta-steps. The README's import line
# must be the recipe's.
# usage: recipe_own_data_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
source "$(dirname "$0")/recipes.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work/bin" && ln -s /usr/bin/python3 "$work/bin/python3"
export PATH="$work/bin:$PATH"

block=$(recipe_block own-data)
[ -n "$block" ] || fail "no block after <!-- recipe:own-data --> in docs/recipes.md"
import_line=$(grep -m1 '^python3 data_prep/import_features.py' <<<"$block")
grep -qxF -- "$import_line" "$recipes_src/README.md" || fail "README.md does not show the recipe's import line: $import_line"
scratch_repo "$work/repo" "$croma"
make_features "$work/repo" || fail "could not make the features"
cd "$work/repo"

# Up to and including the copy of the spec, as written.
bash -euo pipefail -c "$(sed -n '1,/^cp jobs\/searches\//p' <<<"$block")" >"$work/part1.out" 2>"$work/part1.err" \
  || fail "recipe, first part: $(tail -n 20 "$work/part1.err")"
tail -n 1 "$work/part1.out" | /usr/bin/python3 -c 'import json, sys; json.loads(sys.stdin.read())' \
  || fail "croma inspect did not end with its JSON summary: $(cat "$work/part1.out")"
spec=$(grep -m1 -o 'jobs/searches/[a-z_]*\.json$' <<<"$(grep '^cp ' <<<"$block")")
[ -f "$spec" ] || fail "the recipe's cp did not make $spec"

# The hand edit: the fields the recipe names, then test sizes.
edit_search_spec "$spec" || fail "editing the spec as the recipe says"

# The rest, as written.
bash -euo pipefail -c "$(sed -n '/^cp jobs\/searches\//,$p' <<<"$block" | tail -n +2)" >"$work/part2.out" 2>"$work/part2.err" \
  || fail "recipe, second part: $(tail -n 30 "$work/part2.err")"
root=runs/search-mydata
for f in table2.md gains.md selected.md search.md results.json selection.json; do
  [ -s "$root/$f" ] || fail "no $root/$f"
done
grep -q "| croma |" "$work/part2.out" && grep -q "| align-meta-classify |" "$work/part2.out" \
  || fail "the tables the recipe prints lack a method: $(tail -n 30 "$work/part2.out")"
[ "$(ls -d "$root"/final/runs/*/ | wc -l)" -eq 4 ] || fail "expected 4 final runs: $(ls "$root/final/runs")"
echo "recipe_own_data_test: ok"
