#!/usr/bin/env bash
# The style check CI runs first (scripts/test.sh): every tracked C++ file must
# be formatted as .clang-format says; a diff of what clang-format would change
# is printed for each one that is not. Seconds, so it runs on every change.
#   scripts/lint.sh              the format check
#   scripts/lint.sh --tidy F...  also clang-tidy (.clang-tidy) on the named
#                                files, with the release preset's compile
#                                commands (about 10 s of CPU per file, so not
#                                in CI: run it on what you changed)
set -euo pipefail
cd "$(dirname "$0")/.."

tidy=()
if [[ ${1:-} == --tidy ]]; then
  shift
  (($# > 0)) || { echo "lint.sh: --tidy needs the files to check" >&2; exit 2; }
  tidy=("$@")
elif (($# > 0)); then
  echo "lint.sh: unknown argument '$1' (usage: scripts/lint.sh [--tidy FILE...])" >&2
  exit 2
fi

mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
unformatted=0
for file in "${sources[@]}"; do
  if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
    unformatted=$((unformatted + 1))
    echo "lint.sh: $file is not formatted (clang-format -i $file):" >&2
    diff -u "$file" <(clang-format "$file") | tail -n +3 | head -20 >&2 || true
  fi
done
if ((unformatted > 0)); then
  echo "lint.sh: $unformatted of ${#sources[@]} C++ files are not formatted" >&2
  exit 1
fi
echo "lint.sh: ${#sources[@]} C++ files formatted as .clang-format says" >&2

if ((${#tidy[@]} > 0)); then
  [[ -f build/release/compile_commands.json ]] || cmake --preset release >/dev/null
  clang-tidy -p build/release --quiet --warnings-as-errors='*' "${tidy[@]}"
fi
