#!/usr/bin/env bash
# jobs/sweep.py away from a cluster: cells, names, array chunks, dry runs, states and the
# aggregated tables (jobs/sweep_tool_test.py). The real-Slurm test is tests/slurm/.
# usage: sweep_tool_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$here/tests/jobs/sweep_tool_test.py" "$here/jobs/sweep.py"
