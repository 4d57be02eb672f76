#!/usr/bin/env bash
# Fuzzes the report readers (the bench JSON and the conformance matrix) for
# longer than CI does: builds the fuzz preset and runs both libFuzzer
# targets at once, each for SECONDS (default 600), keeping what they find in
# build/fuzz/reports/fuzz/corpus/ and their whole output in
# build/fuzz/fuzz.log. A crash or a hang fails the run and leaves its input
# in build/fuzz/reports/fuzz/artifacts/; keep that input as a regression
# test in reports/tests/fuzz-regressions/ (reports/README.md).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
if [[ ! $seconds =~ ^[1-9][0-9]{0,5}$ ]]; then
  echo "fuzz.sh: expected a number of seconds, e.g. 600 (got '$seconds')" >&2
  exit 2
fi

scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
log=build/fuzz/fuzz.log
echo "fuzz.sh: both targets for ${seconds} s each; output in $log" >&2
status=0
LOOPBENCH_FUZZ_SECONDS=$seconds ctest --preset fuzz -j 2 --verbose --timeout $((seconds + 120)) \
  >"$log" 2>&1 || status=$?
grep -E "^[0-9]+: (stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR)|Test +#[0-9]+:" \
  "$log" >&2 || true
for target in build/fuzz/reports/fuzz/corpus/*; do
  echo "fuzz.sh: $(basename "$target"): $(find "$target" -type f | wc -l) inputs in its corpus" >&2
done
exit "$status"
