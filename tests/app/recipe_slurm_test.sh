#!/usr/bin/env bash
# docs/recipes.md, recipe 2 (on Slurm), every line as it stands, against a stand-in Slurm on
# PATH: `sbatch` parses its options and the script's #SBATCH lines as sbatch does (an option
# sbatch lacks is an error), then runs the job at once on this machine, array tasks one after
# another, with the SLURM_* variables a job sees and --export applied; `srun` runs its command
# under `mpirun -np <tasks>`; `squeue` lists nothing (every job has finished when sbatch
# returns); `scontrol show config` gives MaxArraySize. So train.sbatch, eval.sbatch and
# cell.sbatch run for real, and sweep.py submit goes through both stages of a search. A real
# Slurm runs them in tests/slurm/slurm_sweep_test.sh. The spec is recipe 1's, edited as recipe 1
# says, with the "slurm" block recipe 2 shows; the train line's --steps is cut to 6 by a
# wrapper in the place of build/croma.
# usage: recipe_slurm_test.sh CROMA MPIRUN
set -uo pipefail
croma=$(realpath "$1")
mpirun=${2:-mpirun}
source "$(dirname "$0")/recipes.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=1

# --- the stand-in Slurm ---------------------------------------------------------------------
bin=$work/bin
mkdir -p "$bin"
ln -s /usr/bin/python3 "$bin/python3"
export STUB_LOG=$work/jobs.log STUB_MPIRUN=$mpirun
: >"$STUB_LOG"
cat >"$bin/sbatch" <<'STUB'
#!/bin/bash
short=+n:c:t:N:p:A:J:o:e:a:d:G:
long=ntasks:,cpus-per-task:,time:,nodes:,ntasks-per-node:,partition:,account:,job-name:,output:,error:,array:,signal:,requeue,no-requeue,open-mode:,export:,parsable,dependency:,gpus-per-task:,gpus:,gres:,mem:,mem-per-cpu:,qos:,constraint:,exclusive,mail-type:,mail-user:
declare -A o
take() {  # parses sbatch options into o[...]; leaves the rest in rest[]
  local parsed; parsed=$(getopt -o "$short" -l "$long" -n sbatch -- "$@") || exit 1
  eval set -- "$parsed"
  while [ "$1" != -- ]; do
    case $1 in
      -n|--ntasks) o[ntasks]=$2; shift 2 ;;
      -c|--cpus-per-task) o[cpus]=$2; shift 2 ;;
      -a|--array) o[array]=$2; shift 2 ;;
      -o|--output) o[output]=$2; shift 2 ;;
      --export) o[export]=$2; shift 2 ;;
      --parsable) o[parsable]=1; shift ;;
      --requeue|--no-requeue|--exclusive) shift ;;
      *) shift 2 ;;
    esac
  done
  shift; rest=("$@")
}
take "$@"; cmdline=("${rest[@]}")
script=${cmdline[0]:?sbatch: no batch script}; args=("${cmdline[@]:1}")
[ -f "$script" ] || { echo "sbatch: cannot open $script" >&2; exit 1; }
# #SBATCH lines: parsed as well; the command line wins.
declare -A cl; for k in "${!o[@]}"; do cl[$k]=${o[$k]}; done
mapfile -t lines < <(sed -n 's/^#SBATCH[[:space:]]\+//p' "$script")
[ ${#lines[@]} -eq 0 ] || { eval "take ${lines[*]}"; }
for k in "${!cl[@]}"; do o[$k]=${cl[$k]}; done
id=$(( $(wc -l <"$STUB_LOG") + 1000 ))
tasks=(none)
if [ -n "${o[array]:-}" ]; then
  tasks=(); IFS=, read -ra parts <<<"${o[array]%\%*}"
  for p in "${parts[@]}"; do
    if [[ $p == *-* ]]; then tasks+=($(seq "${p%-*}" "${p#*-}")); else tasks+=("$p"); fi
  done
fi
if [ -n "${o[export]:-}" ]; then
  IFS=, read -ra ex <<<"${o[export]}"
  for e in "${ex[@]}"; do [[ $e == *=* ]] && export "$e"; done
fi
for t in "${tasks[@]}"; do
  out=${o[output]:-slurm-%j.out}
  out=${out//%A/$id}; out=${out//%a/$t}; out=${out//%j/$id}
  (
    export SLURM_JOB_ID=$id SLURM_NTASKS=${o[ntasks]:-1} SLURM_CPUS_PER_TASK=${o[cpus]:-1} SLURM_RESTART_COUNT=0
    [ "$t" = none ] || export SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$t
    bash "$script" "${args[@]}" >>"$out" 2>&1
  )
  echo "$id ${t} rc=$? $script ${args[*]}" >>"$STUB_LOG"
done
if [ -n "${o[parsable]:-}" ]; then echo "$id"; else echo "Submitted batch job $id"; fi
STUB
cat >"$bin/srun" <<'STUB'
#!/bin/bash
parsed=$(getopt -o +n:N: -l ntasks:,nodes:,mpi:,kill-on-bad-exit::,cpus-per-task: -n srun -- "$@") || exit 1
eval set -- "$parsed"
n=${SLURM_NTASKS:-1}
while [ "$1" != -- ]; do
  case $1 in -n|--ntasks) n=$2; shift 2 ;; --kill-on-bad-exit) shift 2 ;; *) shift 2 ;; esac
done
shift
exec "$STUB_MPIRUN" --oversubscribe -np "$n" "$@"
STUB
printf '#!/bin/bash\nexit 0\n' >"$bin/squeue"
cat >"$bin/scontrol" <<'STUB'
#!/bin/bash
[ "$1 $2" = "show config" ] && { echo "MaxArraySize            = 1001"; exit 0; }
echo "scontrol (stand-in): $* is not expected here" >&2; exit 1
STUB
chmod +x "$bin"/*
export PATH="$bin:$PATH"

# The stand-in refuses what sbatch refuses.
if sbatch --no-such-option jobs/train.sbatch >/dev/null 2>&1; then fail "the stand-in sbatch accepted an unknown option"; fi

# --- the user's data and spec, as in recipe 1 -------------------------------------------------
scratch_repo "$work/repo" "$croma"
rm "$work/repo/build/croma"
printf '#!/bin/bash\nargs=(); prev=\nfor a in "$@"; do [ "$prev" = --steps ] && a=6; args+=("$a"); prev=$a; done\nexec %q "${args[@]}"\n' \
  "$croma" >"$work/repo/build/croma"
chmod +x "$work/repo/build/croma"
make_features "$work/repo" || fail "could not make the features"
cd "$work/repo"
bash -euo pipefail -c "$(recipe_block own-data | sed -n '1,/^cp jobs\/searches\//p')" >"$work/prep.out" 2>&1 \
  || fail "recipe 1, first part: $(tail -n 20 "$work/prep.out")"
spec=jobs/searches/mydata.json
edit_search_spec "$spec" || fail "editing the spec as recipe 1 says"

block=$(recipe_block slurm)
[ -n "$block" ] || fail "no block after <!-- recipe:slurm --> in docs/recipes.md"
/usr/bin/python3 - "$spec" "$block" <<'PY' || fail "the \"slurm\" block recipe 2 shows"
import json, re, sys
path, block = sys.argv[1], sys.argv[2]
edit = " ".join(l.lstrip("# ") for l in block.splitlines() if l.startswith("#"))
m = re.search(r'"slurm": (\{.*?\})', edit)
shown = json.loads(m.group(1))
spec = json.load(open(path))
assert set(spec["slurm"]) <= set(shown), (spec["slurm"], shown)
spec["slurm"] = shown
json.dump(spec, open(path, "w"), indent=1)
PY

# --- recipe 2, as written ---------------------------------------------------------------------
bash -euo pipefail -c "$block" >"$work/recipe.out" 2>"$work/recipe.err" \
  || fail "recipe 2: $(tail -n 30 "$work/recipe.err")"
if grep -v ' rc=0 ' "$STUB_LOG" | grep -q .; then
  fail "a job failed: $(grep -v ' rc=0 ' "$STUB_LOG" | head -3); $(tail -n 20 croma-*.out runs/*/*/runs/*/job.log 2>/dev/null | tail -n 30)"
fi
grep -q "train.sbatch --run-dir runs/mydata-croma" "$STUB_LOG" || fail "train.sbatch did not run: $(cat "$STUB_LOG")"
[ -s runs/mydata-croma/eval.json ] || fail "eval.sbatch wrote no eval.json: $(tail -n 20 croma-eval-*.out)"
/usr/bin/python3 - <<'PY' || fail "the train.sbatch run"
import json
c = json.load(open("runs/mydata-croma/config.json"))
assert c["runtime"]["world_size"] == 4, c["runtime"]          # --ntasks=4: four ranks
assert c["meta"]["pairs"] == "weak" and c["seed"] == 1, (c["meta"]["pairs"], c["seed"])
ev = json.load(open("runs/mydata-croma/eval.json"))
assert sorted(r["shots"] for r in ev["results"]) == [1, 5], ev["results"]
PY
grep -q "cell.sbatch" "$STUB_LOG" || fail "sweep.py submit ran no cell.sbatch"
for f in selection.json table2.md gains.md results.json; do
  [ -s runs/search-mydata/$f ] || fail "no runs/search-mydata/$f: $(tail -n 20 "$work/recipe.err")"
done
[ "$(ls -d runs/search-mydata/final/runs/*/ | wc -l)" -eq 4 ] || fail "expected 4 final runs"
grep -q -- "--partition=cpu" "$work/recipe.out" || fail "the dry run's sbatch line lacks the spec's extra option"
echo "recipe_slurm_test: ok ($(wc -l <"$STUB_LOG") jobs)"
