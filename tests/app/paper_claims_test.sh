#!/usr/bin/env bash
# analysis/paper_claims.py: the verdict rule on synthetic searches, and the committed
# docs/results/paper-claims.md (and README.md's results table) against the committed results
# (tests/jobs/paper_claims_test.py).
# usage: paper_claims_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$here/tests/jobs/paper_claims_test.py"
