#!/usr/bin/env bash
# Runs every test on a fresh machine: installs missing Debian packages, checks
# the format (scripts/lint.sh), then builds and runs the whole suite in the
# release, asan-ubsan and tsan presets, and fuzzes the report readers for 30 s
# each (the fuzz preset). Compilation
# goes through ccache, so a second run, or a clean clone on a machine that
# built before, recompiles only what changed.
#   scripts/test.sh            all four presets
#   scripts/test.sh release    only the named presets
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/lint.sh

presets=("$@")
if ((${#presets[@]} == 0)); then presets=(release asan-ubsan tsan fuzz); fi
jobs=$(nproc)

for preset in "${presets[@]}"; do
  echo "=== loopbench: ${preset} ===" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
