#!/usr/bin/env bash
# analysis/linear_transfer_control.py, the data-level check of whether meta-train classes teach
# anything about meta-test classes (tests/jobs/linear_transfer_control_test.py).
# usage: linear_transfer_control_test.sh CROMA MPIRUN
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$here/tests/jobs/linear_transfer_control_test.py"
