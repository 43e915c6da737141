#!/usr/bin/env bash
# analysis/regret_study.py: the replay of selection procedures on synthetic pools with known
# answers (regret, CPU, promotion against an independent replay, errors), and a tiny real pool
# on the built-in world, trained and evaluated by croma (tests/jobs/regret_study_test.py).
# usage: regret_study_test.sh CROMA MPIRUN
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$here/tests/jobs/regret_study_test.py" "$1"
