#!/usr/bin/env bash
# Installs the Debian packages loopbench needs, only those that are missing,
# and the report's pinned charting libraries (reports/package-lock.json,
# with npm ci) when they are not installed yet.
#   scripts/install-deps.sh             build, test and report dependencies
#   scripts/install-deps.sh --browser   also Chromium, for the page check in CI
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make pkg-config ccache
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libboost1.81-dev libuv1-dev liburing-dev libev-dev libevent-dev
  libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  stress-ng nodejs procps valgrind
  python3 python3-uvloop
)
# Debian's npm; a Node.js that ships its own npm (NodeSource) needs none.
if ! command -v npm >/dev/null; then packages+=(npm); fi
if [[ ${1:-} == --browser ]]; then packages+=(chromium); fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "loopbench: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm records what it installed in node_modules/.package-lock.json; a lock
# file newer than that record means the pinned versions changed.
installed=reports/node_modules/.package-lock.json
if [[ ! -f $installed || reports/package-lock.json -nt $installed ]]; then
  echo "loopbench: installing the report's charting libraries (npm ci)" >&2
  (cd reports && npm ci --no-audit --no-fund --loglevel=error)
fi
