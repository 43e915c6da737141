#!/usr/bin/env bash
# croma bench as users meet it: it times the method it is given (its own phases and tasks,
# on its own model), prints one JSON line whose mixed rate is the phases' rates weighted by
# their share of training, and refuses an unknown method with one clear line.
# usage: bench_cli_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
source "$(dirname "$0")/harness.sh"
py=/usr/bin/python3
small=(--steps 10 --source-dim 48 --target-dim 24 --hidden 32 --embed-dim 16 --classifier-hidden 16)

expect_error "invalid value for --method" bench --method nonsense "${small[@]}"

for m in croma shared-align align-classify; do
  env -u CROMA_BENCH_NO_FLOOR "$croma" bench --method "$m" "${small[@]}" >"$work/$m.out" 2>"$work/$m.err" \
    || fail "bench --method $m failed: $(cat "$work/$m.err")"
done

"$py" - "$work" <<'PY' && ok || fail "bench JSON does not describe the method it was given"
import json, sys
d = sys.argv[1]
run = {m: json.loads(open(f"{d}/{m}.out").read().strip().splitlines()[-1])
       for m in ("croma", "shared-align", "align-classify")}
c, s, a = run["croma"], run["shared-align"], run["align-classify"]
# Each run names its method and times that method's phases.
assert [r["method"] for r in (c, s, a)] == ["croma", "shared-align", "align-classify"], [r["method"] for r in (c, s, a)]
assert len(c["phases"]) == 1 and len(s["phases"]) == 1, (c["phases"], s["phases"])
assert len(a["phases"]) == 2, a["phases"]
# CroMA's tasks take the fused loop; the shared-encoder baseline's do not, and its model
# (one shared encoder after a linear input map) has another size.
assert c["inner_loop"] == "fused", c["inner_loop"]
assert s["inner_loop"] == "autograd", s["inner_loop"]
assert s["parameters"] != c["parameters"], (s["parameters"], c["parameters"])
# The floor is computed for CroMA's products only.
assert c["machine_floor"] is not None and c["machine_floor"]["floor_ms"] > 0, c["machine_floor"]
assert s["machine_floor"] is None and a["machine_floor"] is None
# A method of several phases: shares sum to one, and the mixed time per meta-iteration is the
# shares' weighted sum of the phases' times.
shares = [p["share_of_steps"] for p in a["phases"]]
assert abs(sum(shares) - 1) < 1e-12 and all(0 < x < 1 for x in shares), shares
mixed = sum(x / p["meta_iterations_per_s"] for x, p in zip(shares, a["phases"]))
assert abs(mixed * a["meta_iterations_per_s"] - 1) < 1e-9, (mixed, a["meta_iterations_per_s"])
for r in (c, s, a):
    assert r["meta_iterations_per_s"] > 0 and r["meta_iterations_per_cpu_s"] > 0
    assert all(v >= 0 for v in r["phase_ms_per_iteration"].values()), r["phase_ms_per_iteration"]
PY

echo "bench_cli_test: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
