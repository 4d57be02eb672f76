#!/usr/bin/env bash
# The main job: installs missing Debian packages, builds the release preset,
# runs the conformance suite (writing its matrix) and every scenario on every
# available backend at default sizes, and leaves all results in one folder.
#   scripts/run-all.sh [OUTPUT_DIR]      (default: out/<date-time>)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

scripts/install-deps.sh
echo "loopbench: building (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null

bin=build/release
echo "loopbench: conformance suite -> $out/conformance.json" >&2
"$bin/conformance/conformance_tests" --matrix="$out/conformance.json" --gtest_brief=1 \
  >"$out/conformance.log" 2>&1 || echo "loopbench: some conformance rules failed (see conformance.log)" >&2

scenarios=$("$bin/cli/loopbench" list | awk '/^Scenarios/ {on = 1; next} on && /^  [a-z_]+$/ {print $1}')
status=0
for scenario in $scenarios; do
  echo "loopbench: scenario $scenario on every backend" >&2
  "$bin/cli/loopbench" run "$scenario" --backend all --json >>"$out/scenarios.jsonl" || status=1
done

echo "$out"
exit "$status"
