#!/usr/bin/env bash
# The regression gate between two git revisions, in one command, for CI:
# builds loopbench_bench of both (git worktrees under out/gate-builds/, one
# per commit, kept for the next run; ccache when installed), then measures
#
#  1. instruction counts: the benchmarks whose counts repeat, each in its own
#     process under Callgrind (loopbench_bench --loopbench_instructions), the
#     two sides at once (a count does not depend on the load); a change of 1%
#     in instructions or estimated cycles is a change;
#  2. time: the quick set in N processes per side, base and new processes
#     interleaved so that both see the same load, R repetitions each (a
#     process's median is one sample), judged on the CPU time of each run's
#     thread (--clock; on a loaded machine the wall time mostly measures the
#     wait for a core); every benchmark that comes out SLOWER is measured
#     again in fresh interleaved processes (twice as many per side unless
#     --confirm-processes says otherwise), and fails the gate only if it is
#     slower there too;
#
# and writes a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when
# set, for a CI job summary or a PR comment) to OUT/summary.md and stdout.
# Progress goes to stderr.
#
#   scripts/gate.sh [options] BASE_REV [NEW_REV]      NEW_REV defaults to HEAD
#
#   --processes N    processes per side for the times (default 8; at least 4)
#   --repetitions R  runs of every benchmark in each of those processes
#                    (default 5: a process's median drops a run's own
#                    outliers; the spread between processes stays, which
#                    only more processes reduce: reports/README.md)
#   --confirm-processes M
#                    processes per side for re-measuring what came out
#                    SLOWER (default 2N: only those benchmarks run, so it is
#                    cheap, and a true regression must pass both stages)
#   --clock CLOCK    cpu (default) or wall: which time of each run is judged
#   --filter REGEX   a Google Benchmark filter for both modes (default: the
#                    quick set, '-/large|/cold|spread=1s')
#   --only MODE      instructions or time: measure one mode only
#   --new-flags 'F'  extra loopbench_bench flags for NEW's processes: a known
#                    regression, to check the gate (--loopbench_slowdown,
#                    --loopbench_extra_work)
#   --out DIR        where the results go (default out/gate-<date-time>)
#
# Exit code: 0 nothing regressed; 1 a benchmark got slower, or failed or is
# missing in NEW (or NEW does not build); 2 bad input (an unknown revision,
# a bad option, a BASE that does not build), with one line on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

usage() {
  echo "gate.sh: $1 (usage: scripts/gate.sh [--processes N] [--confirm-processes M] [--repetitions R] [--clock cpu|wall] [--filter REGEX] [--only instructions|time] [--new-flags 'FLAGS'] [--out DIR] BASE_REV [NEW_REV])" >&2
  exit 2
}

# Prints the count given to option $1 if it is a number from $2 to $3, else
# exits 2 with one line ($4: why the bounds).
count_option() {
  [[ -n ${5:-} ]] || usage "$1 needs a count"
  if ! [[ $5 =~ ^[0-9]+$ ]] || (($5 < $2 || $5 > $3)); then
    usage "$1: expected a count from $2 to $3$4, got '$5'"
  fi
  echo "$5"
}

processes=8
confirm_processes=""
repetitions=5
clock=cpu
filter='-/large|/cold|spread=1s'
only=""
new_flags=""
out=""
revisions=()
while (($# > 0)); do
  case $1 in
    --processes)
      processes=$(count_option --processes 4 50 " (fewer cannot reach p < 0.05)" "${@:2:1}")
      shift
      ;;
    --confirm-processes)
      confirm_processes=$(count_option --confirm-processes 4 100 " (fewer cannot reach p < 0.05)" "${@:2:1}")
      shift
      ;;
    --repetitions)
      repetitions=$(count_option --repetitions 1 50 "" "${@:2:1}")
      shift
      ;;
    --clock)
      if (($# < 2)) || [[ $2 != cpu && $2 != wall ]]; then usage "--clock: expected cpu or wall"; fi
      clock=$2
      shift
      ;;
    --filter)
      (($# >= 2)) || usage "--filter needs a Google Benchmark filter"
      filter=$2
      shift
      ;;
    --only)
      if (($# < 2)) || [[ $2 != instructions && $2 != time ]]; then
        usage "--only: expected instructions or time"
      fi
      only=$2
      shift
      ;;
    --new-flags)
      (($# >= 2)) || usage "--new-flags needs the flags, quoted"
      new_flags=$2
      shift
      ;;
    --out)
      (($# >= 2)) || usage "--out needs a folder"
      out=$2
      shift
      ;;
    -*) usage "unknown option '$1'" ;;
    *) revisions+=("$1") ;;
  esac
  shift
done
((${#revisions[@]} >= 1 && ${#revisions[@]} <= 2)) || usage "expected BASE_REV and optionally NEW_REV"
base_rev=${revisions[0]}
new_rev=${revisions[1]:-HEAD}
base=$(git rev-parse --verify --quiet "$base_rev^{commit}") || usage "unknown revision '$base_rev'"
new=$(git rev-parse --verify --quiet "$new_rev^{commit}") || usage "unknown revision '$new_rev'"
read -r -a extra_flags <<<"$new_flags"
confirm_processes=${confirm_processes:-$((2 * processes))}

out=${out:-out/gate-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
builds=$repo/out/gate-builds
started=$SECONDS
say() { echo "gate: [$((SECONDS - started)) s] $*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }
load_at_start=$(load)

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

# loopbench_bench of one commit, built in its own worktree; prints its path.
build_bench() {
  local commit=$1 src=$builds/$1
  local bin=$src/build/release/bench/loopbench_bench
  if [[ ! -x $bin ]]; then
    if [[ ! -e $src/.git ]]; then
      git worktree prune
      git worktree add --detach --force "$src" "$commit" >/dev/null 2>&1
    fi
    # Paths relative to the worktree, so that ccache serves one commit's
    # objects to another's build of the same sources.
    (cd "$src" && export CCACHE_BASEDIR=$src &&
      cmake --preset release "${launcher[@]}" -DLOOPBENCH_BUILD_TESTS=OFF &&
      cmake --build --preset release -j2 --target loopbench_bench) >"$out/build-$commit.log" 2>&1 ||
      return 1
  fi
  echo "$bin"
}

say "building BASE ${base:0:12} and NEW ${new:0:12} (logs in $out)"
base_bin=$(build_bench "$base") || {
  echo "gate.sh: BASE ${base:0:12} does not build (see $out/build-$base.log)" >&2
  exit 2
}
new_bin=$(build_bench "$new") || new_bin=""
# The compare tool is this checkout's, which knows the verdicts this script reads.
if ! (cmake --preset release "${launcher[@]}" &&
  cmake --build --preset release -j2 --target loopbench) >"$out/build-tool.log" 2>&1; then
  usage "cannot build loopbench in $repo (see $out/build-tool.log)"
fi
loopbench=$repo/build/release/cli/loopbench

summary=$out/summary.md
verdict=0
# The worse of two exit codes of the gate: 2 over 1 over 0.
worse() { verdict=$(($1 > verdict ? $1 : verdict)); }
section() { printf '\n### %s\n\n' "$1" >>"$summary"; }
: >"$summary"

if [[ -z $new_bin ]]; then
  section "NEW does not build"
  echo "\`cmake --build --preset release --target loopbench_bench\` failed for NEW; see build-$new.log." >>"$summary"
  worse 1
fi

# --- Instruction counts ----------------------------------------------------------------------
counts_of() { "$1" --loopbench_instructions --benchmark_list_tests >/dev/null 2>&1; }
if [[ -n $new_bin && $only != time ]]; then
  section "Instruction counts (Callgrind)"
  if ! counts_of "$base_bin" || ! counts_of "$new_bin"; then
    echo "Not measured: BASE or NEW predates \`--loopbench_instructions\`." >>"$summary"
  else
    say "instruction counts, each benchmark in its own Callgrind process, both sides at once"
    count=(--loopbench_instructions "--benchmark_filter=$filter" --benchmark_out_format=json)
    "$base_bin" "${count[@]}" --benchmark_out="$out/instructions-base.json" \
      >"$out/instructions-base.log" 2>&1 &
    base_counting=$!
    "$new_bin" "${count[@]}" "${extra_flags[@]}" --benchmark_out="$out/instructions-new.json" \
      >"$out/instructions-new.log" 2>&1 &
    new_counting=$!
    wait "$base_counting" || { echo "gate.sh: BASE failed to count instructions (see $out/instructions-base.log)" >&2; exit 2; }
    wait "$new_counting" || say "NEW failed in some counted benchmark (see instructions-new.log)"
    status=0
    "$loopbench" compare "$out/instructions-base.json" "$out/instructions-new.json" --markdown \
      >>"$summary" 2>"$out/compare-instructions.log" || status=$?
    ((status != 2)) || { cat "$out/compare-instructions.log" >&2; exit 2; }
    worse $status
  fi
fi

# --- Time ----------------------------------------------------------------------------------------
# Runs COUNT processes per side of the benchmarks matching a filter into
# DIR/base-i.json and DIR/new-i.json, in pairs of one process per side, so
# that both sides see the same load: on the CPU clock the two of a pair run
# at the same time (one per core), on the wall clock one after the other,
# alternating which goes first.
measure_times() {
  local dir=$1 benchmarks=$2 count=$3
  mkdir -p "$dir"
  local flags=(--benchmark_filter="$benchmarks" "--benchmark_repetitions=$repetitions" --benchmark_min_time=0.01
    --benchmark_out_format=json --benchmark_color=false)
  run_base() {
    "$base_bin" "${flags[@]}" --benchmark_out="$dir/base-$i.json" >"$dir/base-$i.log" 2>&1 ||
      { echo "gate.sh: BASE's process $i failed (see $dir/base-$i.log)" >&2; exit 2; }
  }
  run_new() {
    "$new_bin" "${flags[@]}" "${extra_flags[@]}" --benchmark_out="$dir/new-$i.json" \
      >"$dir/new-$i.log" 2>&1 || { rm -f "$dir/new-$i.json"; crashed=1; }
  }
  for ((i = 1; i <= count; i++)); do
    say "time: process $i of $count per side"
    if [[ $clock == cpu ]]; then
      run_base &
      run_new
      wait $! || exit 2
    elif ((i % 2 == 1)); then
      run_base
      run_new
    else
      run_new
      run_base
    fi
  done
}

# `loopbench compare` of the processes in DIR (and more options); exits the
# gate with 2 on bad input, returns 1 for a regression. A side without any
# file (every NEW process crashed) leaves nothing to compare: a regression.
compare_times() {
  local dir=$1
  shift
  local base_files=("$dir"/base-*.json) new_files=("$dir"/new-*.json)
  [[ -e ${new_files[0]} ]] || { echo "Every NEW process crashed: nothing to compare."; return 1; }
  local status=0
  "$loopbench" compare --clock "$clock" "${base_files[@]}" --vs "${new_files[@]}" "$@" \
    2>>"$out/compare-time.log" || status=$?
  ((status != 2)) || { cat "$out/compare-time.log" >&2; exit 2; }
  return $status
}

if [[ -n $new_bin && $only != instructions ]]; then
  section "Time ($clock clock; $processes processes per side of $repetitions repetitions, interleaved)"
  crashed=0
  measure_times "$out/times" "$filter" "$processes"
  status=0
  compare_times "$out/times" --slower-filter "$out/slower.txt" >"$out/times-first.txt" || status=$?
  confirm=()
  slower=$(cat "$out/slower.txt" 2>/dev/null || true)
  if [[ -n $slower ]]; then
    say "measuring the SLOWER benchmark(s) again in fresh processes"
    measure_times "$out/confirm" "$slower" "$confirm_processes"
    confirm=(--confirm-base "$out"/confirm/base-*.json --confirm-new "$out"/confirm/new-*.json)
    echo "What came out SLOWER was measured again in $confirm_processes fresh processes per side of $repetitions repetitions: it fails the gate only if it is slower there too (re-run)." >>"$summary"
    echo >>"$summary"
  fi
  if ((crashed)); then
    echo "**A NEW process crashed** (see times/new-*.log or confirm/new-*.log): that fails the gate." >>"$summary"
    echo >>"$summary"
    worse 1
  fi
  status=0
  compare_times "$out/times" "${confirm[@]}" --markdown >>"$summary" || status=$?
  worse $status
fi

result=$([[ $verdict == 0 ]] && echo PASS || echo FAIL)
subject() { git log -1 --format='%h %s' "$1"; }
{
  echo "## loopbench gate: $result"
  echo
  echo "BASE \`$(subject "$base")\` -> NEW \`$(subject "$new")\`${new_flags:+ (NEW run with \`$new_flags\`)}"
  cat "$summary"
  echo
  echo "Took $((SECONDS - started)) s on $(nproc) cores; load average $load_at_start at the start, $(load) at the end."
} >"$summary.tmp"
mv "$summary.tmp" "$summary"
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then cat "$summary" >>"$GITHUB_STEP_SUMMARY"; fi
cat "$summary"
say "$result; results in $out"
exit "$verdict"
