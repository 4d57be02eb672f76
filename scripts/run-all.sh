#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, runs the
# conformance suite (writing its matrix) and every scenario on every
# available backend at the benchmark's default sizes (bench/README.md) with
# repetitions, then writes report.csv and index.html into one folder and
# prints its path on stdout. Progress goes to stderr.
#
#   scripts/run-all.sh [--quick] [--processes N] [--with REFERENCE.json ...] [OUTPUT_DIR]
#
#   --quick      for CI: 3 repetitions instead of 5, and without the
#                1-second timer storms; under 2 minutes on 2 cores
#   --processes N  run the benchmarks in N separate processes that split
#                the repetitions (ceil(R/N) each, at least 2: --processes 3
#                gives 3 x 2 for 5 or 3 repetitions, about as long as one
#                process), writing bench-1.json ... bench-N.json instead of
#                bench.json: input for `loopbench compare BASE-*.json --vs
#                NEW-*.json`, which takes each process's median as one sample
#                (reports/README.md); default 1
#   --with FILE  add another Google Benchmark JSON file to the report (e.g.
#                a run from another machine); repeatable
#
# With /usr/bin/python3 present, the report also gets asyncio and uvloop rows
# (conformance/reference/reference_rows.py).
#   OUTPUT_DIR   default out/<date-time>
#
# Left out in both modes: the /large runs (1M sleepers x 1 s) and cold runs;
# run loopbench_bench by hand for those (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "run-all.sh: $1 (usage: scripts/run-all.sh [--quick] [--processes N] [--with FILE.json ...] [OUTPUT_DIR])" >&2
  exit 2
}

quick=0
processes=1
references=()
out=""
while (($# > 0)); do
  case $1 in
    --quick) quick=1 ;;
    --processes)
      (($# >= 2)) || usage "--processes needs a count"
      [[ $2 =~ ^[1-9][0-9]?$ ]] || usage "--processes: expected a count from 1 to 99, got '$2'"
      processes=$2
      shift
      ;;
    --with)
      (($# >= 2)) || usage "--with needs a file"
      [[ -f $2 ]] || usage "--with: no such file '$2'"
      references+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
      shift
      ;;
    -*) usage "unknown option '$1'" ;;
    *)
      [[ -z $out ]] || usage "one output folder only (got '$out' and '$1')"
      out=$1
      ;;
  esac
  shift
done

if ((quick)); then
  repetitions=3
  filter='-/large|/cold|spread=1s'
else
  repetitions=5
  filter='-/large|/cold'
fi

out=${out:-out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$SECONDS
say() { echo "loopbench: [$((SECONDS - started)) s] $*" >&2; }

scripts/install-deps.sh
say "building (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target loopbench loopbench_bench conformance_tests >/dev/null

bin=build/release
say "conformance suite -> conformance.json"
"$bin/conformance/conformance_tests" --matrix="$out/conformance.json" --gtest_brief=1 \
  >"$out/conformance.log" 2>&1 || say "some conformance rules failed (see conformance.log)"

if ((processes > 1)); then
  # Split the repetitions, at least 2 per process so that each has a median.
  repetitions=$(((repetitions + processes - 1) / processes))
  ((repetitions >= 2)) || repetitions=2
  bench_files=()
  for ((i = 1; i <= processes; i++)); do bench_files+=("$out/bench-$i.json"); done
else
  bench_files=("$out/bench.json")
fi
bench=(
  "$bin/bench/loopbench_bench" "--benchmark_filter=$filter"
  --benchmark_repetitions="$repetitions" --benchmark_min_time=0.01
  --benchmark_out_format=json --benchmark_color=false
)
total=$("${bench[@]}" --benchmark_list_tests | wc -l)
say "benchmarks: $total (every scenario x backend, and the raw baselines), $repetitions repetitions each in ${#bench_files[@]} process(es)"
# A progress line as each benchmark finishes its first repetition; the
# console table itself goes to bench.log.
: >"$out/bench.log"
for ((i = 0; i < ${#bench_files[@]}; i++)); do
  ((processes == 1)) || say "process $((i + 1))/$processes -> $(basename "${bench_files[i]}")"
  "${bench[@]}" --benchmark_out="${bench_files[i]}" 2>&1 | tee -a "$out/bench.log" |
    awk -v total="$total" '
      $1 ~ /\// && $1 !~ /_(mean|median|stddev|cv|min)$/ && !seen[$1]++ {
        printf "loopbench: benchmark %d/%d %s\n", ++n, total, $1 > "/dev/stderr"
      }'
done

# The Python references: the same parameter sets under CPython's asyncio and
# uvloop (Debian's python3 and python3-uvloop), one timed run each; the quick
# mode leaves out the million-item sets, which take asyncio 2-25 s each.
if [[ -x /usr/bin/python3 ]]; then
  say "asyncio and uvloop reference rows -> python-reference.json"
  python_sets=(--quick)
  ((quick)) || python_sets+=(--max-items 1000000)
  /usr/bin/python3 conformance/reference/reference_rows.py --bench "$bin/bench/loopbench_bench" \
    --out "$out/python-reference.json" "${python_sets[@]}"
  references+=("$out/python-reference.json")
fi

say "writing the report"
"$bin/cli/loopbench" report "${bench_files[@]}" "${references[@]}" \
  --conformance "$out/conformance.json" --out "$out" >/dev/null
say "done in $((SECONDS - started)) s"
echo "$out"
