#!/usr/bin/env bash
# Meta-iterations per CPU second of every method, its fused inner loop against autograd, side by
# side: ROUNDS rounds, each running every method with --inner-loop auto and --inner-loop
# autograd one after the other, then the median per (method, loop) as a Markdown table, with
# the median machine floor of the method (croma bench's "machine_floor") and the share of it
# the auto runs reach.
# Usage: analysis/bench/methods.sh CROMA [ROUNDS] [extra croma bench options...]
set -euo pipefail
croma=${1:?usage: methods.sh CROMA [ROUNDS] [options...]}
rounds=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
methods=(croma target-autoencoder unsup-meta-recon unsup-meta-weak align-classify align-meta-classify oracle
         shared shared-align shared-confusion shared-target-labels)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  for m in "${methods[@]}"; do
    extra=()
    # On the default world every weak cluster lies inside one class: the method refuses to run.
    [[ $m == unsup-meta-weak ]] && extra=(--classes-per-cluster 3)
    for loop in auto autograd; do
      "$croma" bench --method "$m" --inner-loop "$loop" --threads 1 "${extra[@]}" "$@" > "$out/$m.$loop.$round.json"
    done
  done
done
/usr/bin/python3 - "$out" "$rounds" "${methods[@]}" <<'PY'
import json, statistics, sys
out, rounds, methods = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| method | inner loop (auto) | meta-it. / CPU s, auto | autograd | auto / autograd | floor, meta-it. / s | auto / floor |")
print("|---|---|---|---|---|---|---|")
for m in methods:
    rate = {}
    for loop in ("auto", "autograd"):
        runs = [json.load(open(f"{out}/{m}.{loop}.{r}.json")) for r in range(1, rounds + 1)]
        rate[loop] = statistics.median(r["meta_iterations_per_cpu_s"] for r in runs)
        if loop == "auto":
            kind = ", ".join(f'{p["phase"]}: {p["inner_loop"]}' for p in runs[0]["phases"])
            floors = [r["machine_floor"]["floor_meta_iterations_per_s"] for r in runs if r["machine_floor"]]
    floor = statistics.median(floors) if floors else None
    floor_cells = f"{floor:.0f} | {rate['auto'] / floor:.2f}" if floor else "none | -"
    print(f"| {m} | {kind} | {rate['auto']:.0f} | {rate['autograd']:.0f} | {rate['auto'] / rate['autograd']:.2f} | {floor_cells} |")
PY
