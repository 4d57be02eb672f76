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
#
# A run never destroys an earlier complete result: its files are written
# into OUTPUT_DIR/incomplete/ and moved into OUTPUT_DIR only once all of them
# are complete (then replacing those of the earlier run). SIGINT or SIGTERM
# (to the script or to its process group) stops the running step with all
# its processes, says what was left, and exits 130 or 143; the earlier
# results stay as they were. One run at a time writes into a folder.
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
exec 9<"$out"
flock -n 9 || usage "another run-all.sh is writing into $out"
work=$out/incomplete
rm -rf "$work"
mkdir "$work"
started=$SECONDS
# Progress goes to the script's own stderr, kept as fd 8: a signal's handler
# runs inside the step it interrupted, whose stderr may be a log file.
exec 8>&2
say() { echo "loopbench: [$((SECONDS - started)) s] $*" >&8; }

# The step running now, in a process group of its own (job control is on
# while it starts), so that an interruption can stop it whole: a benchmark
# and the tee and awk behind it, the Python runner and its benchmarks.
phase="setting up"
step_group=""

# Runs "$@" as the current step and waits for it; a trapped signal ends the
# wait at once and its handler stops the step.
step() {
  phase=$1
  shift
  set -m
  "$@" </dev/null &
  step_group=$!
  set +m
  local status=0
  wait "$step_group" || status=$?
  step_group=""
  return "$status"
}

# Whether a process of group $1 is still running (a zombie is not).
group_alive() {
  ps -e -o pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

interrupted() {
  local signal=$1 code=$2
  trap '' INT TERM
  local stopped="nothing was running"
  if [[ -n $step_group ]]; then
    stopped="stopped it (process group $step_group)"
    kill -TERM -- "-$step_group" 2>/dev/null || true
    # Ten seconds to end, then killed.
    for _ in $(seq 100); do
      group_alive "$step_group" || break
      sleep 0.1
    done
    kill -KILL -- "-$step_group" 2>/dev/null || true
    wait "$step_group" 2>/dev/null || true
  fi
  local partial
  partial=$(cd "$work" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
  say "interrupted by SIG$signal during $phase: $stopped"
  partial=${partial% }
  say "this run's partial files (${partial:-none}) are in $work; the next run replaces them"
  if compgen -G "$out/*.json" >/dev/null; then
    say "the earlier results in $out are as they were"
  fi
  exit "$code"
}
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

# The build into build.log, with a progress line at each tenth of the way
# that compiles or links (a cold build takes a quarter of an hour on 2
# cores; ccache makes it seconds), and the log's last lines if it fails.
build() {
  {
    cmake --preset release &&
      cmake --build --preset release -j "$(nproc)" --target loopbench loopbench_bench conformance_tests
  } >"$work/build.log" 2>&1 &
  local builder=$! status=0
  tail -n +1 --pid="$builder" -f "$work/build.log" | awk '
    / (Building|Linking) / && match($0, /^\[ *[0-9]+%\]/) {
      percent = substr($0, RSTART + 1, RLENGTH - 3) + 0
      if (int(percent / 10) > reached) {
        reached = int(percent / 10)
        printf "loopbench: building, %d%%\n", percent > "/dev/stderr"
      }
    }'
  wait "$builder" || status=$?
  if ((status != 0)); then
    say "the build failed; the end of build.log:"
    tail -n 20 "$work/build.log" >&8
  fi
  return "$status"
}

scripts/install-deps.sh
say "building (release preset; its output goes to build.log)"
step "the build" build

bin=build/release
say "conformance suite -> conformance.json"
step "the conformance suite" "$bin/conformance/conformance_tests" \
  --matrix="$work/conformance.json" --gtest_brief=1 >"$work/conformance.log" 2>&1 ||
  say "some conformance rules failed (see conformance.log)"

if ((processes > 1)); then
  # Split the repetitions, at least 2 per process so that each has a median.
  repetitions=$(((repetitions + processes - 1) / processes))
  ((repetitions >= 2)) || repetitions=2
  bench_files=()
  for ((i = 1; i <= processes; i++)); do bench_files+=("bench-$i.json"); done
else
  bench_files=("bench.json")
fi
bench=(
  "$bin/bench/loopbench_bench" "--benchmark_filter=$filter"
  --benchmark_repetitions="$repetitions" --benchmark_min_time=0.01
  --benchmark_out_format=json --benchmark_color=false
)
total=$("${bench[@]}" --benchmark_list_tests | wc -l)
say "benchmarks: $total (every scenario x backend, and the raw baselines), $repetitions repetitions each in ${#bench_files[@]} process(es)"

# One process of benchmarks into $1: a progress line as each benchmark
# finishes its first repetition; the console table itself goes to bench.log.
bench_process() {
  "${bench[@]}" --benchmark_out="$work/$1" 2>&1 | tee -a "$work/bench.log" |
    awk -v total="$total" '
      $1 ~ /\// && $1 !~ /_(mean|median|stddev|cv|min)$/ && !seen[$1]++ {
        printf "loopbench: benchmark %d/%d %s\n", ++n, total, $1 > "/dev/stderr"
      }'
}
: >"$work/bench.log"
for ((i = 0; i < ${#bench_files[@]}; i++)); do
  ((processes == 1)) || say "process $((i + 1))/$processes -> ${bench_files[i]}"
  step "the benchmarks (${bench_files[i]})" bench_process "${bench_files[i]}"
done
results=("${bench_files[@]}" build.log bench.log conformance.json conformance.log)

# The Python references: the same parameter sets under CPython's asyncio and
# uvloop (Debian's python3 and python3-uvloop), one timed run each; the quick
# mode leaves out the million-item sets, which take asyncio 2-25 s each.
if [[ -x /usr/bin/python3 ]]; then
  say "asyncio and uvloop reference rows -> python-reference.json"
  python_sets=(--quick)
  ((quick)) || python_sets+=(--max-items 1000000)
  step "the Python reference rows" /usr/bin/python3 conformance/reference/reference_rows.py \
    --bench "$bin/bench/loopbench_bench" --out "$work/python-reference.json" "${python_sets[@]}"
  references+=("$work/python-reference.json")
  results+=(python-reference.json)
fi

say "writing the report"
bench_paths=()
for file in "${bench_files[@]}"; do bench_paths+=("$work/$file"); done
step "the report" "$bin/cli/loopbench" report "${bench_paths[@]}" "${references[@]}" \
  --conformance "$work/conformance.json" --out "$work" >/dev/null
results+=(report.csv index.html)

# Every file is complete: they replace the earlier run's, with signals held
# off for the few renames, and the earlier run's result files that this run
# did not write (bench-N.json of another process count, say) go too.
trap '' INT TERM
for old in "$out"/bench.json "$out"/bench-[0-9]*.json "$out"/python-reference.json; do
  [[ -e $old ]] || continue
  [[ " ${results[*]} " == *" $(basename "$old") "* ]] || rm -f "$old"
done
for file in "${results[@]}"; do mv -f "$work/$file" "$out/$file"; done
rm -rf "$work"
trap - INT TERM
say "done in $((SECONDS - started)) s"
echo "$out"
