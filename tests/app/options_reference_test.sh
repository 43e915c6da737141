#!/usr/bin/env bash
# docs/options-reference.md is what scripts/options_reference.sh writes from this croma's
# --help-markdown: an option added, removed or changed in the registry without regenerating
# the page fails here, with the difference and the command that updates it.
# usage: options_reference_test.sh CROMA [MPIRUN]
set -uo pipefail
croma=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/app/harness.sh"

bash "$src/scripts/options_reference.sh" "$croma" "$work/page.md" || fail "scripts/options_reference.sh failed"
for command in train eval bench study advise; do
  grep -qx "## croma $command" "$work/page.md" && ok || fail "the page has no section for croma $command"
done
# Every option of --help is a row of --help-markdown, and nothing else is.
for command in train eval bench study advise; do
  help_names=$("$croma" "$command" --help | grep -oE '^  (-h \[ )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort)
  md_names=$("$croma" "$command" --help-markdown | grep -oE '^\| `--[a-z0-9-]+`' | grep -oE -- '--[a-z0-9-]+' | sort)
  [ -n "$help_names" ] && [ "$help_names" = "$md_names" ] && ok ||
    fail "croma $command: --help and --help-markdown list different options: $(diff <(echo "$help_names") <(echo "$md_names") | tr '\n' ' ')"
done
grep -qF '| `--eval-ways` | `5` | integer >= 2 | classes per evaluation task |' "$work/page.md" && ok ||
  fail "the page lacks the --eval-ways row as declared"
if diff -u "$src/docs/options-reference.md" "$work/page.md" >"$work/diff"; then
  ok
else
  fail "docs/options-reference.md is stale; regenerate it: bash scripts/options_reference.sh $croma"
  head -40 "$work/diff"
fi

echo "options_reference_test: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
