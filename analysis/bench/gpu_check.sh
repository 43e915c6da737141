#!/usr/bin/env bash
# The GPU check: on a GPU node that has a CUDA LibTorch (a pip PyTorch), CMake and a compiler
# but no network and none of croma's other dependencies, build croma against the Debian
# packages that travel with the tree (scripts/gpu_deps_download.sh, gpu_deps_unpack.sh,
# gpu_deps_env.sh), run the device-dependent tests (ctest -L gpu) and `croma bench` on the
# GPU and on the node's CPU. docs/performance.md ("The GPU check") says how to run it and
# what each line means.
#
# usage: analysis/bench/gpu_check.sh OUT_DIR [--cpu-rehearsal] [--no-bench]
#   --cpu-rehearsal  the same check on a machine without a GPU: the device under test is the
#                    CPU, LibTorch is Debian's (CMake config of libtorch-dev), and, where
#                    `unshare -m` works (root), the system's own Open MPI/HDF5/Boost/
#                    GoogleTest/nlohmann development files are hidden for the whole run, so
#                    that only the unpacked packages can be found.
#   --no-bench       stop after the tests (CI runs the rehearsal so).
# Each result is one JSON line appended to OUT_DIR/results.jsonl the moment it is known, so
# a run cut off leaves every line of what ran; OUT_DIR/build.log, tests.log and bench.log
# hold the commands' output.
# Environment: CROMA_DEPS_PREFIX (default .gpu-deps/root; unpacked from .gpu-deps/debs when
# absent), CROMA_GPU_BUILD (build folder, default build-gpu, or build-gpu-rehearsal).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd -P)

out=${1:-}
[ -n "$out" ] && [ "${out:0:1}" != - ] || { echo "usage: $0 OUT_DIR [--cpu-rehearsal] [--no-bench]" >&2; exit 2; }
shift
rehearsal=0 bench=1
for a in "$@"; do
  case $a in
    --cpu-rehearsal) rehearsal=1 ;;
    --no-bench) bench=0 ;;
    *) echo "gpu_check: unknown option $a (usage: $0 OUT_DIR [--cpu-rehearsal] [--no-bench])" >&2; exit 2 ;;
  esac
done
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd -P)

# The rehearsal hides the system's development files in a mount namespace of its own.
if [ $rehearsal = 1 ] && [ -z "${CROMA_CHECK_IN_NAMESPACE:-}" ] && [ "$(id -u)" = 0 ] &&
   unshare -m true 2>/dev/null; then
  CROMA_CHECK_IN_NAMESPACE=1 exec unshare -m bash "$0" "$out" "$@"
fi

results=$out/results.jsonl
start_s=$(date +%s)
cores=$(getconf _NPROCESSORS_ONLN)
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')  # control characters JSON refuses
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
  printf '"%s"' "$s"
}
emit() {  # one JSON object (without braces' closing fields): emit 'k": v, ...'
  printf '{"elapsed_s": %d, %s}\n' $(($(date +%s) - start_s)) "$1" >> "$results"
  printf '{"elapsed_s": %d, %s}\n' $(($(date +%s) - start_s)) "$1" >&2
}
die() {  # stage, message
  emit "\"kind\": \"error\", \"stage\": $(json_str "$1"), \"message\": $(json_str "$2")"
  exit 1
}

# --- the device, and the LibTorch to build against -------------------------------------
if [ $rehearsal = 1 ]; then
  device=cpu
  torch_dir=${Torch_DIR:-/usr/lib/x86_64-linux-gnu/cmake/Torch}
  [ -f "$torch_dir/TorchConfig.cmake" ] ||
    die torch "no LibTorch at $torch_dir (the rehearsal builds against Debian's libtorch-dev: scripts/setup.sh)"
  torch_lib=$(dirname "$(dirname "$torch_dir")")
  torch_version=$(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo unknown)
  torch_cuda=null
else
  device=cuda
  torch_info=$(env -u LD_LIBRARY_PATH python3 -c '
import torch
print(torch.utils.cmake_prefix_path)
print(torch.__version__)
print(torch.version.cuda)
print(int(torch.cuda.is_available()))
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
' 2>&1) || die torch "python3 cannot import torch: $torch_info"
  mapfile -t t <<<"$torch_info"
  torch_dir=${t[0]}/Torch
  torch_lib=$(dirname "$(dirname "${t[0]}")")/lib
  torch_version=${t[1]} torch_cuda=$(json_str "${t[2]}")
  [ "${t[3]}" = 1 ] || die torch "torch ${t[1]} sees no GPU (torch.cuda.is_available() is False)"
  [ "${t[4]}" = 1 ] || die abi "torch ${t[1]} is built with the pre-C++11 std::string ABI (torch._C._GLIBCXX_USE_CXX11_ABI = 0); Debian's Boost.Program_options and GoogleTest use the C++11 ABI and cannot link with it. Use a LibTorch built with _GLIBCXX_USE_CXX11_ABI=1"
fi
# The ABI as the library itself shows it: C++11-ABI builds export std::__cxx11 symbols.
c10=$(ls "$torch_lib"/libc10.so* 2>/dev/null | head -n 1)
if [ -n "$c10" ] && [ "$(nm -D --defined-only "$c10" 2>/dev/null | grep -c __cxx11)" = 0 ]; then
  die abi "$c10 exports no std::__cxx11 symbols: this LibTorch uses the pre-C++11 std::string ABI, which Debian's Boost.Program_options and GoogleTest (C++11 ABI) cannot link with"
fi
gpu_name=null
if [ $rehearsal = 0 ] && command -v nvidia-smi >/dev/null; then
  gpu_name=$(json_str "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1)")
fi
emit "\"kind\": \"start\", \"mode\": \"$([ $rehearsal = 1 ] && echo cpu-rehearsal || echo gpu)\", \"device\": \"$device\", \"cores\": $cores, \"gpu\": $gpu_name, \"torch\": $(json_str "$torch_version"), \"torch_cuda\": $torch_cuda, \"torch_dir\": $(json_str "$torch_dir"), \"cxx11_abi\": true, \"glibc\": $(json_str "$(getconf GNU_LIBC_VERSION)"), \"commit\": $(json_str "$(git rev-parse --short HEAD 2>/dev/null || echo none)")"

# --- the Debian packages, unpacked into their own prefix -------------------------------
hidden=()
if [ -n "${CROMA_CHECK_IN_NAMESPACE:-}" ]; then
  empty=$(mktemp -d)
  for d in /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 /usr/share/openmpi /etc/openmpi \
           /usr/include/hdf5 /usr/lib/x86_64-linux-gnu/hdf5 /usr/include/boost /usr/include/gtest \
           /usr/include/gmock /usr/include/nlohmann /usr/lib/x86_64-linux-gnu/cmake/GTest \
           /usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0 /usr/lib/x86_64-linux-gnu/cmake/boost_program_options-1.74.0 \
           /usr/lib/x86_64-linux-gnu/cmake/boost_headers-1.74.0 /usr/share/cmake/nlohmann_json; do
    [ -d "$d" ] && mount --bind "$empty" "$d" && hidden+=("$d")
  done
fi
prefix=${CROMA_DEPS_PREFIX:-$repo/.gpu-deps/root}
# Unpacked every time (seconds): the unpack also checks this machine's glibc and libstdc++.
t0=$(date +%s)
bash scripts/gpu_deps_unpack.sh "$repo/.gpu-deps/debs" "$prefix" >>"$out/build.log" 2>&1 ||
  die unpack "$(tail -n 5 "$out/build.log")"
runtime_check=$(grep '^gpu_deps_unpack: ' "$out/build.log" | tail -n 1 | sed 's/^gpu_deps_unpack: //')
# shellcheck source=../../scripts/gpu_deps_env.sh
source scripts/gpu_deps_env.sh "$prefix" || die unpack "cannot use the prefix $prefix"
source scripts/env.sh
emit "\"kind\": \"deps\", \"prefix\": $(json_str "$CROMA_DEPS_PREFIX"), \"packages\": $(ls "$repo"/.gpu-deps/debs/*.deb 2>/dev/null | wc -l), \"unpack_seconds\": $(($(date +%s) - t0)), \"runtime_check\": $(json_str "$runtime_check"), \"system_dev_files_hidden\": ${#hidden[@]}"

# --- configure and build what the check runs --------------------------------------------
build=${CROMA_GPU_BUILD:-$repo/build-gpu$([ $rehearsal = 1 ] && echo -rehearsal)}
generator=()
command -v ninja >/dev/null && [ ! -f "$build/Makefile" ] && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}  # the H200; skips the probe of the GPU
cuda_hint=()
if [ $rehearsal = 0 ]; then
  # The CUDA LibTorch's CMake config looks for the CUDA toolkit: name the one nvcc belongs to.
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
  if [ -n "$nvcc" ]; then
    export CUDACXX=$nvcc
    cuda_hint=(-DCUDAToolkit_ROOT="$(dirname "$(dirname "$(readlink -f "$nvcc")")")")
  fi
fi
t0=$(date +%s)
# shellcheck disable=SC2086  # CROMA_DEPS_CMAKE_ARGS is a list of -D words
cmake -S . -B "$build" "${generator[@]}" "${launcher[@]}" "${cuda_hint[@]}" -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
  $CROMA_DEPS_CMAKE_ARGS >>"$out/build.log" 2>&1 || die configure "$(tail -n 30 "$out/build.log")"
cmake --build "$build" -j "$cores" --target croma croma_gpu_tests >>"$out/build.log" 2>&1 ||
  die build "$(tail -n 30 "$out/build.log")"
# Every library croma links from the five packages must come from the prefix.
bad=""
links=""
for lib in libmpi.so libhdf5_serial.so libboost_program_options.so; do
  path=$(ldd "$build/croma" | awk -v l="$lib" 'index($1, l) == 1 { print $3; exit }')
  links="$links$(json_str "$lib"): $(json_str "$path"), "
  case $path in "$CROMA_DEPS_PREFIX"/*) ;; *) bad="$bad $lib=>${path:-missing}" ;; esac
done
for var in MPI_CXX_HEADER_DIR HDF5_C_INCLUDE_DIR Boost_DIR GTest_DIR nlohmann_json_DIR; do
  path=$(grep -m1 "^$var:" "$build/CMakeCache.txt" | cut -d= -f2-)
  case $path in "$CROMA_DEPS_PREFIX"/*) ;; *) bad="$bad $var=${path:-unset}" ;; esac
done
[ -z "$bad" ] || die deps_check "found outside $CROMA_DEPS_PREFIX:$bad"
emit "\"kind\": \"build\", \"seconds\": $(($(date +%s) - t0)), \"targets\": [\"croma\", \"croma_gpu_tests\"], \"linked\": {${links%, }}"

# --- the device-dependent tests, one line each -------------------------------------------
export CROMA_TEST_DEVICE=$device
# By number (ctest -I N,N): a parameterised test's name holds its printed parameter.
mapfile -t tests < <(cd "$build" && ctest -N -L gpu | sed -n 's/^ *Test *#\([0-9]*\): /\1 /p')
[ ${#tests[@]} -gt 0 ] || die tests "ctest -L gpu lists no tests in $build"
failed=0
for entry in "${tests[@]}"; do
  number=${entry%% *} name=${entry#* }
  name=${name%%  #*}
  t0=$(date +%s.%N)
  log=$(cd "$build" && ctest -I "$number,$number" -V 2>&1)
  rc=$?
  grep -q "^ *1/1 Test" <<<"$log" || rc=1  # ran nothing: a failure, not a pass
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  printf '=== %s\n%s\n' "$name" "$log" >>"$out/tests.log"
  if grep -q "\*\*\*Skipped\|Not Run (Disabled)" <<<"$log" || grep -q "tests passed, 0 tests failed out of 0" <<<"$log"; then
    result=skipped
  elif [ $rc = 0 ]; then
    result=passed
  else
    result=failed; failed=$((failed + 1))
  fi
  measured=$(grep -o 'measured: .*' <<<"$log" | head -n 3 | sed 's/^measured: //' | paste -sd ';' -)
  # A GoogleTest skip prints "file:line: Skipped" and the reason on the next line.
  reason=$(awk '/: Skipped$/ { getline; sub(/^[0-9]+: /, ""); print; exit } /SKIPPED: / { sub(/.*SKIPPED: /, ""); print; exit }' <<<"$log")
  emit "\"kind\": \"test\", \"name\": $(json_str "$name"), \"device\": \"$device\", \"result\": \"$result\", \"seconds\": $secs, \"measured\": $(json_str "$measured"), \"note\": $(json_str "$reason")"
done
emit "\"kind\": \"tests_done\", \"count\": ${#tests[@]}, \"failed\": $failed"
[ $bench = 1 ] || { emit '"kind": "done"'; [ $failed = 0 ]; exit; }

# --- croma bench: task slots 1, 8, 64 at the bench configuration and a 10x larger model ----
# The larger model: every width 1024 (the bench configuration's 256 and 256): 10.5x the
# parameters. Steps shrink with the work per step so that each run takes seconds; each run
# has a time limit and a cut-off run is recorded as such (with "error").
# Each run stops after run_limit_s, and none starts after budget_s from the check's start
# (the whole check must fit 10 minutes on the node, build included).
larger=(--hidden 1024 --embed-dim 1024 --classifier-hidden 1024)
run_limit_s=${CROMA_CHECK_RUN_LIMIT_S:-45}
budget_s=${CROMA_CHECK_BUDGET_S:-540}
bench_run() {  # device, model (bench|larger), slots, steps, ranks
  local dev=$1 model=$2 slots=$3 steps=$4 ranks=$5 args=() line rc
  [ "$model" = larger ] && args=("${larger[@]}")
  local per_rank=$((slots / ranks))
  local cmd=("$build/croma" bench --device "$dev" --steps "$steps" --tasks-per-rank "$per_rank" "${args[@]}")
  [ "$ranks" -gt 1 ] && cmd=(mpirun --oversubscribe --bind-to none -np "$ranks" "${cmd[@]}")
  local head="\"kind\": \"bench\", \"device\": \"$dev\", \"model\": \"$model\", \"task_slots\": $slots, \"ranks\": $ranks, \"steps\": $steps"
  if [ $(($(date +%s) - start_s)) -gt "$budget_s" ]; then
    emit "$head, \"error\": \"not run: the check is past its $budget_s s budget\""
    return
  fi
  echo "=== ${cmd[*]}" >>"$out/bench.log"
  line=$(CROMA_BENCH_NO_FLOOR=1 timeout "$run_limit_s" "${cmd[@]}" 2>>"$out/bench.log" | tail -n 1)
  rc=$?
  echo "$line" >>"$out/bench.log"
  if [ $rc = 0 ] && [ "${line:0:1}" = "{" ]; then
    emit "$head, \"bench\": $line"
  else
    emit "$head, \"error\": $(json_str "exit $rc$([ $rc = 124 ] && echo ": over $run_limit_s s"); $(tail -n 2 "$out/bench.log")")"
  fi
}
# steps for each (model, slots): about the same work per run
steps_for() {
  local s
  case "$1:$2" in
    bench:1) s=300 ;; bench:8) s=100 ;; bench:64) s=20 ;;
    larger:1) s=40 ;; larger:8) s=10 ;; larger:64) s=3 ;;
  esac
  [ $rehearsal = 1 ] && s=$(( (s + 9) / 10 ))
  echo "$s"
}
for model in bench larger; do
  for slots in 1 8 64; do bench_run "$device" "$model" "$slots" "$(steps_for "$model" "$slots")" 1; done
done
# The node's CPU for the ratio: one core for one slot, every core (one rank each) for 64.
if [ $rehearsal = 0 ]; then
  for model in bench larger; do
    bench_run cpu "$model" 1 "$(steps_for "$model" 1)" 1
    ranks=$cores; [ $((64 % ranks)) = 0 ] || ranks=16
    bench_run cpu "$model" 64 "$(steps_for "$model" 64)" "$ranks"
  done
else
  ranks=$cores; [ $((64 % ranks)) = 0 ] || ranks=2
  bench_run cpu bench 64 "$(steps_for bench 64)" "$ranks"
fi
emit '"kind": "done"'
[ $failed = 0 ]
