#!/usr/bin/env bash
# Two croma builds side by side against the eager-PyTorch reference: RUNS rounds, each round
# `OLD bench`, `NEW bench` and the eager reference, alternating so that a shared machine's
# load hits all three alike. Prints the median meta-iterations per CPU second and per wall
# second of each, the median per-round ratios against eager, and NEW / OLD.
# Extra arguments go to both `croma bench` calls (e.g. --hidden 1024 ... for a larger model;
# then pass NO_EAGER=1, the eager reference only knows the bench configuration).
# usage: analysis/bench/before_after.sh OLD_CROMA NEW_CROMA [RUNS=5] [STEPS=200] [bench args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
old=$1 new=$2 runs=${3:-5} steps=${4:-200}
shift $(( $# < 4 ? $# : 4 ))
rates() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); p=d["phase_ms_per_iteration"]; print(d["meta_iterations_per_s"], d["meta_iterations_per_cpu_s"], p["reptile_update"], p["allreduce"])'; }
median() { /usr/bin/python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 3))' "$@"; }
ow=() oc=() nw=() nc=() ew=() ec=() ro=() rn=() orep=() nrep=() oall=() nall=()
for _ in $(seq "$runs"); do
  read -r a b c d < <(CROMA_BENCH_NO_FLOOR=1 "$old" bench --steps "$steps" "$@" | rates)
  ow+=("$a"); oc+=("$b"); orep+=("$c"); oall+=("$d")
  read -r a b c d < <(CROMA_BENCH_NO_FLOOR=1 "$new" bench --steps "$steps" "$@" | rates)
  nw+=("$a"); nc+=("$b"); nrep+=("$c"); nall+=("$d")
  if [ -z "${NO_EAGER:-}" ]; then
    read -r a b < <(/usr/bin/python3 analysis/bench/eager_reference.py --steps "$steps" |
                    /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d["meta_iterations_per_s"], d["meta_iterations_per_cpu_s"])')
    ew+=("$a"); ec+=("$b")
    ro+=("$(/usr/bin/python3 -c "print(${oc[-1]} / $b)")"); rn+=("$(/usr/bin/python3 -c "print(${nc[-1]} / $b)")")
  fi
done
echo "{\"runs\": $runs, \"steps\": $steps, \"bench_args\": \"$*\"," \
     "\"old_cpu_median\": $(median "${oc[@]}"), \"new_cpu_median\": $(median "${nc[@]}")," \
     "\"old_wall_median\": $(median "${ow[@]}"), \"new_wall_median\": $(median "${nw[@]}")," \
     "\"old_reptile_ms\": $(median "${orep[@]}"), \"new_reptile_ms\": $(median "${nrep[@]}")," \
     "\"old_allreduce_ms\": $(median "${oall[@]}"), \"new_allreduce_ms\": $(median "${nall[@]}")," \
     "\"new_over_old_cpu\": $(/usr/bin/python3 -c "print(round($(median "${nc[@]}") / $(median "${oc[@]}"), 4))")" \
     "$( [ -z "${NO_EAGER:-}" ] && echo ", \"eager_cpu_median\": $(median "${ec[@]}"), \"ratio_cpu_old\": $(median "${ro[@]}"), \"ratio_cpu_new\": $(median "${rn[@]}")")}"
