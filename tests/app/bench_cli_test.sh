#!/usr/bin/env bash
# croma bench as users meet it: it times the method it is given (its own phases and tasks,
# on its own model, on the inner loop --inner-loop asks for), prints one JSON line whose mixed
# rate is the phases' rates weighted by their share of training, with the floor of that
# method's own products, and refuses an unknown method with one clear line.
# usage: bench_cli_test.sh CROMA MPIRUN
set -uo pipefail
croma=$1
source "$(dirname "$0")/harness.sh"
py=/usr/bin/python3
small=(--steps 10 --source-dim 48 --target-dim 24 --hidden 32 --embed-dim 16 --classifier-hidden 16)

expect_error "invalid value for --method" bench --method nonsense "${small[@]}"

# --help names the command it belongs to (bench reads the training options).
help_head=$("$croma" bench --help 2>&1 | head -n 1)
[ "$help_head" = "usage: croma bench [options]" ] && ok || fail "bench --help begins with '$help_head'"

for m in croma shared-align align-classify oracle; do
  env -u CROMA_BENCH_NO_FLOOR "$croma" bench --method "$m" "${small[@]}" >"$work/$m.out" 2>"$work/$m.err" \
    || fail "bench --method $m failed: $(cat "$work/$m.err")"
done
env -u CROMA_BENCH_NO_FLOOR "$croma" bench --method oracle --inner-loop autograd "${small[@]}" \
  >"$work/oracle-autograd.out" 2>"$work/oracle-autograd.err" || fail "bench --inner-loop autograd failed"

"$py" - "$work" <<'PY' && ok || fail "bench JSON does not describe the method it was given"
import json, sys
d = sys.argv[1]
run = {m: json.loads(open(f"{d}/{m}.out").read().strip().splitlines()[-1])
       for m in ("croma", "shared-align", "align-classify", "oracle", "oracle-autograd")}
c, s, a = run["croma"], run["shared-align"], run["align-classify"]
o, og = run["oracle"], run["oracle-autograd"]
# Each run names its method and times that method's phases.
assert [r["method"] for r in (c, s, a)] == ["croma", "shared-align", "align-classify"], [r["method"] for r in (c, s, a)]
assert len(c["phases"]) == 1 and len(s["phases"]) == 1, (c["phases"], s["phases"])
assert len(a["phases"]) == 2, a["phases"]
# Every method's tasks take the fused loop; the shared-encoder baseline's model (one shared
# encoder after a linear input map) has another size.
assert c["inner_loop"] == "fused" and s["inner_loop"] == "fused", (c["inner_loop"], s["inner_loop"])
assert s["parameters"] != c["parameters"], (s["parameters"], c["parameters"])
# --inner-loop is honoured: the oracle's target classification runs fused by default.
assert o["inner_loop"] == "fused" and og["inner_loop"] == "autograd", (o["inner_loop"], og["inner_loop"])
assert [p["inner_loop"] for p in og["phases"]] == ["autograd"], og["phases"]
# The floor counts each method's own products: per inner step a forward, a weight gradient and
# (between layers, and into a head that e_t feeds) an input gradient per layer, each
# 2 rows in out FLOPs; frozen-e_s embeddings once per episode. Bench shapes of `small`: e_s
# 48-32-16, e_t 24-32-16, phi 16-16-5, minibatch 8, episodes 5 x 5, 5 inner steps.
def train(dims, rows, input_grad):
    return 5 * sum((2 + (l > 0 or input_grad)) * 2 * rows * i * o
                   for l, (i, o) in enumerate(zip(dims, dims[1:])))
def forward(dims, rows):
    return sum(2 * rows * i * o for i, o in zip(dims, dims[1:]))
es, et, phi = [48, 32, 16], [24, 32, 16], [16, 16, 5]
# Shared + Align: the target path is the input map (24 -> 48) and then e_s, whose input
# gradient feeds the map; its source task adapts e_s under phi.
shared_target = train([24, 48], 8, False) + train(es, 8, True)
want = {"croma": train(es, 8, False) + train(et, 8, False) + train(phi, 8, False) + forward(es, 25),
        "oracle": train(et, 8, False) + train(phi, 8, True),
        "shared-align": train(es, 8, False) + shared_target + train(es, 8, False) + train(phi, 8, True)}
for name, r in (("croma", c), ("oracle", o), ("shared-align", s)):
    got = r["machine_floor"]["products_gflop"] * 1e9
    assert abs(got - want[name]) < 1e-6 * want[name], (name, got, want[name])
    assert r["machine_floor"]["floor_ms"] > 0
# Every phase of Align + Classify runs fused: it has a floor.
assert a["machine_floor"] is not None and a["machine_floor"]["floor_ms"] > 0, a["machine_floor"]
# A method of several phases: shares sum to one, and the mixed time per meta-iteration is the
# shares' weighted sum of the phases' times.
shares = [p["share_of_steps"] for p in a["phases"]]
assert abs(sum(shares) - 1) < 1e-12 and all(0 < x < 1 for x in shares), shares
mixed = sum(x / p["meta_iterations_per_s"] for x, p in zip(shares, a["phases"]))
assert abs(mixed * a["meta_iterations_per_s"] - 1) < 1e-9, (mixed, a["meta_iterations_per_s"])
for r in (c, s, a, o, og):
    assert r["meta_iterations_per_s"] > 0 and r["meta_iterations_per_cpu_s"] > 0
    assert all(v >= 0 for v in r["phase_ms_per_iteration"].values()), r["phase_ms_per_iteration"]
PY

echo "bench_cli_test: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
