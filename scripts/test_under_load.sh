#!/usr/bin/env bash
# The runtime suite, RUNS times in a row (default 3), beside one busy Python loop per CPU core
# (issue 22: timing tests must hold on a busy machine). Prints each run's result and time;
# exits non-zero if any run fails. Usage: scripts/test_under_load.sh [RUNS] [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
make --quiet runtime-venv
loops=()
for _ in $(seq "$(nproc)"); do
  # bounded: ends by itself after an hour even if this script is killed
  python3 -c "import time
end = time.monotonic() + 3600
while time.monotonic() < end: pass" &
  loops+=($!)
done
trap 'kill "${loops[@]}" 2>/dev/null' EXIT
failed=0
for run in $(seq "$runs"); do
  start=$(date +%s)
  if .venv-runtime/bin/pytest -q -p no:cacheprovider test "$@" > "/tmp/test_under_load_$run.log" 2>&1; then
    result=passed
  else
    result=FAILED
    failed=1
  fi
  echo "run $run: $result in $(( $(date +%s) - start )) s, $(tail -1 "/tmp/test_under_load_$run.log")"
done
exit $failed
