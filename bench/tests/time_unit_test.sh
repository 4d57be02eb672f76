#!/usr/bin/env bash
# loopbench_bench honours --benchmark_time_unit: each unit (and ms without
# the flag) is the JSON's time_unit, and the time in it is the run's own
# (real_time in that unit times its scale equals ns_per_callback x callbacks),
# so that Google Benchmark's compare.py shows the figures in that unit.
#   time_unit_test.sh path/to/loopbench_bench
set -euo pipefail
bench=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for unit in default ns us ms s; do
  flag=()
  [[ $unit != default ]] && flag=(--benchmark_time_unit="$unit")
  "$bench" --loopbench_small --benchmark_filter='^callback_chain/sim/' \
    --benchmark_min_time=0.001 "${flag[@]}" --benchmark_out="$scratch/$unit.json" \
    --benchmark_out_format=json >"$scratch/$unit.txt" 2>"$scratch/$unit.err" ||
    { cat "$scratch/$unit.err" >&2; exit 1; }
  expected=$unit
  [[ $unit == default ]] && expected=ms
  python3 - "$scratch/$unit.json" "$expected" <<'PY'
import json, sys
path, expected = sys.argv[1], sys.argv[2]
scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[expected]
runs = [b for b in json.load(open(path))["benchmarks"] if b.get("run_type") == "iteration"]
assert runs, f"{path}: no benchmark ran"
for run in runs:
    assert run["time_unit"] == expected, f"{run['name']}: time_unit {run['time_unit']}, expected {expected}"
    ns = run["real_time"] * scale
    own = run["ns_per_callback"] * run["callbacks"]
    assert abs(ns - own) <= 1e-6 * own, f"{run['name']}: real_time {ns} ns, the run's own {own} ns"
print(f"{expected}: {runs[0]['real_time']:.6g} {expected} per run")
PY
  grep -q "manual_time *[0-9.]* $expected " "$scratch/$unit.txt" ||
    { echo "console output not in $expected:" >&2; cat "$scratch/$unit.txt" >&2; exit 1; }
done
