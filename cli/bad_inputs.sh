#!/usr/bin/env bash
# The bad-input table: malformed command lines, files and outputs for every
# command (list, run, report, compare) and the bench binary. Each must end
# within 30 s, without a signal (no abort, no crash), with the expected exit
# code and, for exit 2, exactly one line on stderr that says what is wrong.
# ctest runs it as `bad_inputs`; --table prints every case as a Markdown table.
#   cli/bad_inputs.sh LOOPBENCH [LOOPBENCH_BENCH] [--table]
set -uo pipefail

table=0
[[ ${3:-} == --table || ${2:-} == --table ]] && table=1
loopbench=$(realpath "$1")
bench=""
[[ -n ${2:-} && $2 != --table ]] && bench=$(realpath "$2")
fixtures=$(cd "$(dirname "$0")/../reports/tests/fixtures" && pwd)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" || exit 1

# --- Inputs -----------------------------------------------------------------------------
entry() {  # A one-benchmark file whose entry has the fields $1 and whose context is $2.
  local context=${2:-'{}'}
  printf '{"context": %s, "benchmarks": [{"name": "gather/epoll/n=1", %s}]}\n' "$context" "$1"
}
times='"time_unit": "ns", "real_time": 10, "cpu_time": 5'
entry '"time_unit": "ns", "real_time": 1e400, "cpu_time": 1' >beyond-double.json
entry "\"run_type\": 1, $times" >run-type-number.json
entry "\"run_type\": \"sometimes\", $times" >run-type-word.json
entry "\"error_occurred\": \"yes\", $times" >error-occurred-string.json
entry "\"run_name\": [], $times" >run-name-array.json
entry "$times" '{"loopbench_reference": 1}' >reference-number.json
entry "$times" '{"loopbench_build_type": 3}' >build-type-number.json
entry "$times" '{"cpu_scaling_enabled": "no"}' >scaling-string.json
entry "$times" '{"date": 20261207}' >date-number.json
entry "$times" '{"load_avg": ["high", 1, 1]}' >load-string.json
entry "$times" '{"num_cpus": "2"}' >cpus-string.json
entry '"time_unit": "ns", "real_time": NaN, "cpu_time": 1' >real-time-nan.json
entry '"time_unit": "ns", "real_time": -5, "cpu_time": 1' >real-time-negative.json
entry '"time_unit": "ns", "real_time": 1, "cpu_time": -Infinity' >cpu-time-minus-infinity.json
entry '"time_unit": "s", "real_time": 1e300, "cpu_time": 1' >time-overflows-in-ns.json
entry '"time_unit": "fortnights", "real_time": 1, "cpu_time": 1' >unknown-unit.json
entry '"time_unit": "ns", "cpu_time": 1' >real-time-missing.json
entry '"time_unit": "ns", "real_time": "10", "cpu_time": 1' >real-time-string.json
entry '"real_time": 10, "cpu_time": 1' >time-unit-missing.json
printf '{"context": {}, "benchmarks": [{"name": "gather/epoll/n=1_mean", "run_name": "gather/epoll/n=1", "run_type": "aggregate", %s}]}\n' "$times" >aggregates-only.json
printf '{"context": {}, "benchmarks": []}\n' >no-benchmarks.json
printf '{"context": {}, "benchmarks": [7]}\n' >entry-number.json
printf '{"benchmarks": []}\n' >no-context.json
printf '[]\n' >top-level-array.json
printf '' >empty.json
printf '\xef\xbb\xbf{"context": {}}' >bom.json
printf '{"context": {"host_name": "a\xff"}, "benchmarks": []}' >invalid-utf8-inside.json
awk 'BEGIN { printf "{\"context\": "; for (i = 0; i < 200000; i++) printf "{\"a\": "; printf "1";
             for (i = 0; i < 200000; i++) printf "}"; printf ", \"benchmarks\": []}\n" }' >deep.json
printf '{' >huge.json && truncate -s 300M huge.json  # Sparse: takes no disk space.
mkfifo fifo.json
mkdir folder.json
printf '{"rows": [{"backend": "epoll", "rule": "X-1", "result": "maybe", "reason": ""}]}' >matrix-result.json
printf '{"rows": []}' >matrix-empty.json
printf '{"tests": {"run": "all"}, "rows": [{"backend": "epoll", "rule": "X-1", "result": "pass", "reason": ""}]}' >matrix-tests.json
printf '{"rows": [{"backend": 1, "rule": "X-1", "result": "pass", "reason": ""}]}' >matrix-backend.json
awk 'BEGIN { printf "{\"rows\": "; for (i = 0; i < 200000; i++) printf "["; for (i = 0; i < 200000; i++) printf "]"; printf "}" }' >matrix-deep.json
touch a-file
mkdir -p old-report && : >old-report/report.csv
cp "$fixtures/aa_base.json" "$(printf 'base\xff\xfe.json')"
cp "$fixtures/aa_new.json" "$(printf 'new\xc3.json')"
good=$fixtures/aa_base.json
new=$fixtures/aa_new.json

# --- The cases --------------------------------------------------------------------------
count=0
failures=0
((table)) && printf '| # | case | command | exit | stderr |\n|---|---|---|---|---|\n'

# check CODE TEXT DESCRIPTION [--full] -- PROGRAM ARGS...: runs the command (stdout to
# /dev/full with --full) and checks the exit code and that stderr has TEXT; exit 2
# must come with exactly one line.
check() {
  local code=$1 text=$2 description=$3 full=0
  shift 3
  [[ $1 == --full ]] && full=1 && shift
  shift  # --
  local out=/dev/null
  ((full)) && out=/dev/full
  local status
  timeout 30 "$@" >"$out" 2>stderr.txt </dev/null
  status=$?
  local err lines
  err=$(cat stderr.txt)
  lines=$(wc -l <stderr.txt)
  count=$((count + 1))
  local problem=""
  if ((status == 124)); then
    problem="hung (killed after 30 s)"
  elif ((status > 128)); then
    problem="killed by signal $((status - 128))"
  elif ((status != code)); then
    problem="exit $status, expected $code"
  elif ((code == 2 && lines != 1)); then
    problem="$lines lines on stderr, expected 1"
  elif [[ $err != *"$text"* ]]; then
    problem="stderr lacks '$text'"
  fi
  if [[ -n $problem ]]; then
    failures=$((failures + 1))
    printf 'bad_inputs: FAILED %s: %s\n  command: %s\n  stderr: %s\n' "$description" "$problem" \
      "$*" "$err" >&2
  fi
  if ((table)); then
    local shown=${*//$scratch\//}
    shown=${shown//$fixtures\//}
    shown=${shown//$loopbench/loopbench}
    [[ -n $bench ]] && shown=${shown//$bench/loopbench_bench}
    ((full)) && shown="$shown > /dev/full"
    local first_line=${err%%$'\n'*}
    printf '| %d | %s | `%s` | %d | %s |\n' "$count" "$description" "$shown" "$status" \
      "${first_line//|/\\|}"
  fi
}

L=$loopbench
# Command lines.
check 2 "unknown command 'frobnicate'" "unknown command" -- $L frobnicate
check 2 "expected a command" "no command" -- $L
check 2 "unknown option '--frobnicate'" "unknown option" -- $L --frobnicate
check 2 "extra" "list with an argument" -- $L list extra
check 2 "expected a scenario" "run without a scenario" -- $L run
check 2 "unknown scenario 'nope'" "unknown scenario" -- $L run nope
check 2 "unknown backend 'nope'" "unknown backend" -- $L run stop_race --backend nope
check 2 "--backend" "--backend without a value" -- $L run stop_race --backend
check 2 "unknown parameter 'bogus'" "unknown parameter" -- $L run stop_race --set bogus=1
check 2 "bad value 'clever' for variant" "bad choice" -- $L run stop_race --set variant=clever
check 2 "bad value 'abc' for n" "integer that is not a number" -- $L run parallel_sleeps --set n=abc
check 2 "for n" "integer below its range" -- $L run parallel_sleeps --set n=0
check 2 "for n" "integer beyond int64" -- $L run parallel_sleeps --set n=99999999999999999999
check 2 "bad value '5' for duration" "duration without a unit" -- $L run parallel_sleeps --set duration=5
check 2 "for duration" "negative duration" -- $L run parallel_sleeps --set duration=-1s
check 2 "for deadline" "zero deadline" -- $L run parallel_sleeps --set deadline=0s
check 2 "bad assignment 'n'" "assignment without a value" -- $L run parallel_sleeps --set n
check 2 "depth=24 branching=100" "tree too large" -- $L run gather --set mode=tree --set depth=24 --set branching=100
check 2 "c * m must be at most" "echo work too large" -- $L run tcp_echo --set c=1000 --set m=10M
check 2 "tcp_echo cannot run on sim" "sockets on a backend without" -- $L run tcp_echo -b sim
check 2 "threadsafe_pingpong cannot run on sim" "threads on a backend without" -- $L run threadsafe_pingpong -b sim
check 0 "skipping tcp_echo on sim" "all backends, one cannot: a skip" -- $L run tcp_echo -q -r 1 --set m=10
check 0 "skipping tcp_echo on sim" "a list, one cannot: a skip" -- $L run tcp_echo -b sim,epoll -q -r 1 --set m=10
check 2 "unknown backend 'nosuch'" "a list with an unknown backend" -- $L run stop_race -b uv,nosuch
check 2 "backend 'uv' is named twice" "a list naming one backend twice" -- $L run stop_race -b uv,uv
check 2 "bad backend list 'uv,'" "a list with an empty name" -- $L run stop_race -b uv,
check 2 "bad backend list" "all in a list" -- $L run stop_race -b uv,all
check 2 "--repetitions must be from 1 to" "zero repetitions" -- $L run stop_race --repetitions 0
check 2 "--repetitions must be from 1 to" "too many repetitions" -- $L run stop_race --repetitions 100001
check 2 "--repetitions" "repetitions not a number" -- $L run stop_race --repetitions many
check 2 "--warmup must be from 0 to" "negative warm-up" -- $L run stop_race --warmup -1
check 2 "--warmup" "warm-up without a value" -- $L run stop_race --warmup
check 2 "standard output: cannot write" "run's stdout full" --full -- $L run gather -b sim --json -r 1 --set n=1000
check 2 "standard output: cannot write" "list's stdout full" --full -- $L list

# Report inputs.
check 2 "expected one or more" "report without files" -- $L report
check 2 "missing.json: cannot open: No such file" "missing file" -- $L report missing.json --out o
check 2 "folder.json: is a directory" "a directory" -- $L report folder.json --out o
check 2 "fifo.json: is a FIFO" "a FIFO (would block)" -- $L report fifo.json --out o
check 2 "/dev/zero: is a character device" "/dev/zero (never ends)" -- $L report /dev/zero --out o
check 2 "huge.json: is larger than 256 MiB" "a 300 MB file" -- $L report huge.json --out o
check 2 "truncated.json: field benchmarks[0].real_time: not JSON" "truncated JSON" -- $L report "$fixtures/truncated.json" --out o
check 2 "empty.json: not JSON" "empty file" -- $L report empty.json --out o
check 2 "bom.json: field benchmarks: missing" "byte-order mark, no benchmarks" -- $L report bom.json --out o
check 2 "invalid-utf8-inside.json: field context.host_name: not JSON" "invalid UTF-8 in a string" -- $L report invalid-utf8-inside.json --out o
check 2 "wrong_type.json: field benchmarks[3].real_time: expected number, found string" "real_time a string (fixture)" -- $L report "$fixtures/wrong_type.json" --out o
check 2 "field benchmarks[0].real_time: number overflow parsing '1e400'" "number beyond double" -- $L report beyond-double.json --out o
check 2 "field benchmarks[0].run_type: expected string, found number" "run_type a number" -- $L report run-type-number.json --out o
check 2 "field benchmarks[0].run_type: expected \"iteration\" or \"aggregate\"" "run_type unknown" -- $L report run-type-word.json --out o
check 2 "field benchmarks[0].error_occurred: expected boolean, found string" "error_occurred a string" -- $L report error-occurred-string.json --out o
check 2 "field benchmarks[0].run_name: expected string, found array" "run_name an array" -- $L report run-name-array.json --out o
check 2 "field context.loopbench_reference: expected string, found number" "loopbench_reference a number" -- $L report reference-number.json --out o
check 2 "field context.loopbench_build_type: expected string, found number" "loopbench_build_type a number" -- $L report build-type-number.json --out o
check 2 "field context.cpu_scaling_enabled: expected boolean, found string" "cpu_scaling_enabled a string" -- $L report scaling-string.json --out o
check 2 "field context.date: expected string, found number" "date a number (runs are named by it)" -- $L report date-number.json --out o
check 2 "field context.load_avg[0]: expected number, found string" "load_avg holding a string" -- $L report load-string.json --out o
check 2 "field context.num_cpus: expected number, found string" "num_cpus a string" -- $L report cpus-string.json --out o
check 2 "more labels (2) than files (1)" "more labels than files" -- $L report "$fixtures/aa_base.json" --label a --label b --out o
check 2 "--label 'x' names two files" "one label for two files" -- $L report "$fixtures/aa_base.json" "$fixtures/aa_new.json" --label x --label x --out o
check 2 "field benchmarks[0].real_time: expected number, found NaN" "NaN real_time" -- $L report real-time-nan.json --out o
check 2 "field benchmarks[0].real_time: expected a time >= 0, found -5" "negative real_time" -- $L report real-time-negative.json --out o
check 2 "field benchmarks[0].cpu_time: expected number, found -Infinity" "-Infinity cpu_time" -- $L report cpu-time-minus-infinity.json --out o
check 2 "field benchmarks[0].real_time: expected a time >= 0, found 1e+300" "time beyond double in ns" -- $L report time-overflows-in-ns.json --out o
check 2 "field benchmarks[0].time_unit: unknown time unit \"fortnights\"" "unknown time unit" -- $L report unknown-unit.json --out o
check 2 "field benchmarks[0].real_time: missing" "real_time missing" -- $L report real-time-missing.json --out o
check 2 "field benchmarks[0].real_time: expected number, found string" "real_time a string" -- $L report real-time-string.json --out o
check 2 "field benchmarks[0].time_unit: missing" "time_unit missing" -- $L report time-unit-missing.json --out o
check 2 "rerun without --benchmark_report_aggregates_only" "aggregates only" -- $L report aggregates-only.json --out o
check 2 "field benchmarks: empty" "no benchmarks" -- $L report no-benchmarks.json --out o
check 2 "field benchmarks[0]: expected object, found number" "an entry that is a number" -- $L report entry-number.json --out o
check 2 "field context: missing" "context missing" -- $L report no-context.json --out o
check 2 "top level: expected object, found array" "top level an array" -- $L report top-level-array.json --out o
check 2 "nested more than 64 levels deep" "context nested 200,000 deep" -- $L report deep.json --out o
check 2 "field rows" "a bench file as the matrix" -- $L report "$good" --conformance "$good" --out o
check 2 "field rows[0].result: expected pass, fail, compat or skip" "matrix result unknown" -- $L report "$good" --conformance matrix-result.json --out o
check 2 "field rows: empty" "matrix empty" -- $L report "$good" --conformance matrix-empty.json --out o
check 2 "field tests.run: missing or not a count" "matrix test count a string" -- $L report "$good" --conformance matrix-tests.json --out o
check 2 "field rows[0].backend: missing or not a string" "matrix backend a number" -- $L report "$good" --conformance matrix-backend.json --out o
check 2 "nested more than 64 levels deep" "matrix nested 200,000 deep" -- $L report "$good" --conformance matrix-deep.json --out o
check 2 "fifo.json: is a FIFO" "matrix a FIFO" -- $L report "$good" --conformance fifo.json --out o
check 2 "/dev/zero: is a character device" "rules from /dev/zero" -- $L report "$good" --rules /dev/zero --out o
check 2 "folder.json: is a directory" "rules a directory" -- $L report "$good" --rules folder.json --out o
check 0 "" "file names not UTF-8, two runs" -- $L report base*.json new*.json --out utf8-report

# Report outputs.
check 2 "--out is empty" "--out empty" -- $L report "$good" --out ""
check 2 "a-file: not a folder" "--out a file" -- $L report "$good" --out a-file
check 2 "a-file/sub: cannot create the folder: Not a directory" "--out under a file" -- $L report "$good" --out a-file/sub
check 2 "/proc/loopbench: cannot create the folder" "--out under /proc" -- $L report "$good" --out /proc/loopbench
check 2 "/proc/report.csv: cannot create" "--out /proc itself" -- $L report "$good" --out /proc
check 2 "/dev/null: not a folder" "--out /dev/null" -- $L report "$good" --out /dev/null
check 2 "old-report/report.csv: exists: pass --force" "--out holds a report" -- $L report "$good" --out old-report
check 2 "standard output: cannot write" "report's stdout full" --full -- $L report "$good" --out full-report

# Compare.
check 2 "expected two files" "one file" -- $L compare "$good"
check 2 "expected two files" "three files" -- $L compare "$good" "$new" "$new"
check 2 "base files before --vs" "--vs without base files" -- $L compare --vs "$new"
check 2 "number overflow parsing '1e400'" "number beyond double" -- $L compare beyond-double.json beyond-double.json
check 2 "nested more than 64 levels deep" "nested 200,000 deep" -- $L compare deep.json deep.json
check 2 "rerun without --benchmark_report_aggregates_only" "aggregates only" -- $L compare aggregates-only.json aggregates-only.json
check 2 "no benchmark name in common" "nothing in common" -- $L compare "$good" "$fixtures/python_reference.json"
check 2 "--threshold" "threshold 2" -- $L compare --threshold 2 "$good" "$new"
check 2 "--threshold" "threshold not a number" -- $L compare --threshold abc "$good" "$new"
check 2 "--alpha" "alpha 0" -- $L compare --alpha 0 "$good" "$new"
check 2 "--disturbed" "disturbed negative" -- $L compare --disturbed -1 "$good" "$new"
check 2 "fifo.json: is a FIFO" "a FIFO" -- $L compare fifo.json "$new"
check 2 "/dev/zero: is a character device" "/dev/zero" -- $L compare "$good" /dev/zero
check 2 "folder.json: is a directory" "a directory" -- $L compare folder.json "$new"
# Four processes a side: a one-file comparison adds its warning to the line.
check 2 "standard output: cannot write" "compare's stdout full" --full -- \
  $L compare "$good" "$good" "$good" "$good" --vs "$new" "$new" "$new" "$new"
check 0 "" "file names not UTF-8" -- $L compare base*.json new*.json

# The bench binary.
if [[ -n $bench ]]; then
  B=$bench
  check 2 "--benchmark_repetitions: expected a count" "negative repetitions" -- $B --benchmark_repetitions=-3
  check 2 "--benchmark_repetitions: expected a count" "zero repetitions" -- $B --benchmark_repetitions=0
  check 2 "--benchmark_repetitions: expected a count" "repetitions not a number" -- $B --benchmark_repetitions=abc
  check 2 "--benchmark_min_time: expected seconds" "negative min time" -- $B --benchmark_min_time=-1
  check 2 "--benchmark_format: expected console, json or csv" "unknown format" -- $B --benchmark_format=xml
  check 2 "--benchmark_out_format: expected console, json or csv" "unknown out format" -- $B --benchmark_out_format=xml
  check 2 "--benchmark_time_unit: expected ns, us, ms or s" "unknown time unit" -- $B --benchmark_time_unit=xs
  check 2 "Could not compile benchmark re" "filter not a regex" -- $B '--benchmark_filter=('
  check 2 "Failed to match any benchmarks" "filter matching nothing" -- $B --benchmark_filter=nomatch
  check 2 "--benchmark_out: expected a file in an existing folder" "out in a missing folder" -- $B --benchmark_out=/nonexistent/x.json
  check 2 "--loopbench_slowdown expects SCENARIO[/BACKEND]:AMOUNT" "slowdown of an unknown scenario" -- $B --loopbench_slowdown=nope:0.1
  check 2 "the fraction must be a number in (0, 10]" "slowdown negative" -- $B --loopbench_slowdown=gather:-1
  check 2 "unrecognized command-line flag: --frobnicate" "unknown flag" -- $B --frobnicate
fi

echo "bad_inputs: $count cases, $failures failed" >&2
((failures == 0))
