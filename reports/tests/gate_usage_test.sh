#!/usr/bin/env bash
# scripts/gate.sh on bad input: exit code 2, one line on stderr that names
# the problem, nothing on stdout, and nothing built or measured.
#   gate_usage_test.sh path/to/scripts/gate.sh
set -euo pipefail
gate=$1

expect_bad_input() {  # EXPECTED-WORDS ARGS...
  local expected=$1 status=0 stdout stderr
  shift
  stderr=$({ stdout=$("$gate" "$@"); } 2>&1) || status=$?
  if [[ $status != 2 || -n ${stdout:-} || $(wc -l <<<"$stderr") != 1 || $stderr != *"$expected"* ]]; then
    echo "gate.sh $*: exit $status, stdout '${stdout:-}', stderr '$stderr' (expected 2 and '$expected')"
    exit 1
  fi
}

expect_bad_input "expected BASE_REV"
expect_bad_input "unknown revision 'no-such-revision'" no-such-revision
expect_bad_input "unknown revision 'no-such-new'" HEAD no-such-new
expect_bad_input "expected BASE_REV" HEAD HEAD HEAD
expect_bad_input "--processes: expected a count from 4 to 50" --processes 3 HEAD
expect_bad_input "--processes: expected a count from 4 to 50" --processes many HEAD
expect_bad_input "--confirm-processes: expected a count from 4 to 100" --confirm-processes 2 HEAD
expect_bad_input "--confirm-processes needs a count" HEAD --confirm-processes
expect_bad_input "--repetitions: expected a count from 1 to 50" --repetitions 0 HEAD
expect_bad_input "--repetitions: expected a count from 1 to 50" --repetitions 51 HEAD
expect_bad_input "--repetitions needs a count" HEAD --repetitions
expect_bad_input "--only: expected instructions or time" --only cycles HEAD
expect_bad_input "--clock: expected cpu or wall" --clock sundial HEAD
expect_bad_input "unknown option '--fast'" --fast HEAD
expect_bad_input "--out needs a folder" HEAD --out
echo "ok"
