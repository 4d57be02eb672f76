#!/usr/bin/env bash
# Runs every benchmark once at small sizes (--loopbench_small), as ctest's
# bench_smoke does in every preset that builds the bench: under ASan and
# UBSan it is what takes the sanitizers through the benchmark code and the
# raw baselines. Fails when the binary fails or when a benchmark ends in an
# error other than a backend's missing capability (threads, sockets).
#   bench/smoke.sh LOOPBENCH_BENCH SCRATCH_FOLDER
set -euo pipefail
bench=$1
out=$2/bench-smoke.json
mkdir -p "$2"
"$bench" --loopbench_small --benchmark_filter=-/large --benchmark_min_time=0.001 \
  --benchmark_repetitions=1 --benchmark_out="$out" --benchmark_out_format=json
errors=$(grep -o '"error_message": "[^"]*"' "$out" |
  grep -v -e 'needs real threads' -e 'has no socket I/O' || true)
if [[ -n $errors ]]; then
  echo "bench smoke: benchmarks ended in errors:" >&2
  echo "$errors" >&2
  exit 1
fi
echo "bench smoke: $(grep -c '"run_type": "iteration"' "$out") benchmarks ran" >&2
