#!/usr/bin/env bash
# Installs the Debian packages loopbench needs, only those that are missing.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost1.81-dev libuv1-dev liburing-dev
  libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  stress-ng
  python3 python3-uvloop
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "loopbench: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
