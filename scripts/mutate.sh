#!/usr/bin/env bash
# Mutation testing of the core: applies each mutant of scripts/mutation/mutants.toml
# to a scratch worktree of HEAD, builds it (ccache) and runs the rule tests and,
# separately, the CPython oracle; prints killed/survived per mutant and the
# scores (conformance/README.md has the last result). Not part of CI: about
# two minutes per mutant on 2 cores.
#   scripts/mutate.sh                  every mutant
#   scripts/mutate.sh --only ID ...    some of them
#   scripts/mutate.sh --check          only check that every mutant still applies
#   scripts/mutate.sh --list
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's python3 (3.11: tomllib), the interpreter the oracle runs on.
exec /usr/bin/python3 scripts/mutation/mutate.py "$@"
