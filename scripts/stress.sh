#!/usr/bin/env bash
# Runs the whole ctest of one preset N times in a row while `stress-ng --cpu 2`
# keeps both cores busy, and reports every failure: the proof that no test
# depends on a window of a few tens of milliseconds. Logs go to
# build/PRESET/stress/ (one per run, and summary.txt).
#   scripts/stress.sh PRESET [N]     N defaults to 20
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "stress.sh: $1 (usage: scripts/stress.sh PRESET [RUNS], e.g. scripts/stress.sh release 20)" >&2
  exit 2
}
(($# >= 1 && $# <= 2)) || usage "expected a preset and optionally a number of runs"
preset=$1
runs=${2:-20}
[[ $runs =~ ^[1-9][0-9]{0,3}$ ]] || usage "runs: expected a count from 1 to 9999, got '$runs'"
[[ $preset =~ ^(release|debug|asan-ubsan|tsan)$ ]] ||
  usage "unknown preset '$preset' (valid: release, debug, asan-ubsan, tsan)"

scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"

logs=build/$preset/stress
mkdir -p "$logs"
stress-ng --cpu 2 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null' EXIT

failed_runs=0
: >"$logs/failures.txt"
for ((run = 1; run <= runs; run++)); do
  start=$SECONDS
  status=0
  ctest --preset "$preset" -j 2 >"$logs/run-$run.log" 2>&1 || status=$?
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  summary=$(grep -E "tests passed|tests failed" "$logs/run-$run.log" | tail -1)
  echo "stress.sh: $preset run $run/$runs: ${summary:-no summary} in $((SECONDS - start)) s (load $load)" >&2
  if ((status != 0)); then
    failed_runs=$((failed_runs + 1))
    # Only the list under "tests FAILED:"; the one before it lists skipped tests.
    awk '/tests FAILED:/ { failed = 1; next } failed && /^[[:space:]]+[0-9]+ - /' "$logs/run-$run.log" |
      sed "s/^/run $run: /" >>"$logs/failures.txt"
  fi
done
{
  echo "$preset: $runs runs under stress-ng --cpu 2, $failed_runs with failures"
  sort -k3 "$logs/failures.txt" | awk '{ $1 = $2 = ""; print }' | sort | uniq -c | sort -rn
} | tee "$logs/summary.txt" >&2
((failed_runs == 0))
