#!/usr/bin/env bash
# loopbench_bench --loopbench_instructions, end to end under Callgrind, on a
# small counted benchmark (1000 sleepers on virtual time): two processes
# count the same instructions; the extra-work knob adds a count proportional
# to its steps; combinations it refuses exit 2 with one line.
#   instructions_test.sh path/to/loopbench_bench
set -euo pipefail
bench=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
filter='--benchmark_filter=^parallel_sleeps/sim/n=1000,'

count() {  # FILE -> "instructions estimated_cycles" of the one benchmark in it
  python3 -c 'import json, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("run_type") == "iteration"]
assert len(runs) == 1, runs
print(int(runs[0]["instructions"]), int(runs[0]["estimated_cycles"]))' "$1"
}

for run in a b; do
  "$bench" --loopbench_instructions "$filter" --benchmark_out="$scratch/$run.json" >/dev/null
done
"$bench" --loopbench_instructions "$filter" --loopbench_extra_work=parallel_sleeps/sim:10 \
  --benchmark_out="$scratch/more.json" >/dev/null
read -r a_instructions a_cycles < <(count "$scratch/a.json")
read -r b_instructions b_cycles < <(count "$scratch/b.json")
read -r more_instructions _ < <(count "$scratch/more.json")
echo "counts: $a_instructions / $b_instructions instructions, $a_cycles / $b_cycles estimated cycles; with 10 steps per sleeper: $more_instructions"
python3 - "$a_instructions" "$b_instructions" "$a_cycles" "$b_cycles" "$more_instructions" <<'PY'
import sys
a, b, a_cycles, b_cycles, more = map(int, sys.argv[1:])
# The deadline watchdog thread moves a count by about a hundred instructions.
assert a > 100_000 and abs(a - b) <= a * 1e-3, f"{a} and {b} instructions: not repeatable"
assert abs(a_cycles - b_cycles) <= a_cycles * 1e-3, f"{a_cycles} and {b_cycles} estimated cycles"
# 10 steps for each of 1000 sleepers, each step a few instructions, all counted.
extra = (more - a) / 10_000
assert 4 <= extra <= 30, f"{extra} instructions per extra-work step"
PY

expect_refusal() {
  local out status=0
  out=$("$bench" "$@" 2>&1 >/dev/null) || status=$?
  [[ $status == 2 && $(wc -l <<<"$out") == 1 ]] || { echo "not refused with one line: $* -> $status: $out"; exit 1; }
}
expect_refusal --loopbench_instructions --loopbench_cold "$filter"
expect_refusal --loopbench_instructions --loopbench_slowdown=gather:0.1 "$filter"
expect_refusal --loopbench_instructions --benchmark_out_format=csv "$filter"
expect_refusal --loopbench_extra_work=no_such_scenario:1 "$filter"
expect_refusal --loopbench_extra_work=gather/no_such_backend:1 "$filter"
expect_refusal --loopbench_callgrind_out=/tmp/x "$filter"
echo "ok"
