#!/usr/bin/env bash
# setup.sh: installs every build and run dependency from Debian's packages.
# Idempotent: does nothing when all are present. Works as root or via sudo.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ make pkg-config git
  clang libclang-rt-dev clang-format
  libboost-dev
  flatbuffers-compiler libflatbuffers-dev
  libhiredis-dev libpqxx-dev libzstd-dev libssl-dev
  libconcurrentqueue-dev libreaderwriterqueue-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools
  postgresql postgresql-client
  pgbouncer
  python3
  prometheus  # promtool and prometheus: the metrics tests check both endpoints with them
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# policy-rc.d keeps the packaged services from starting system-wide: the
# project starts its own loopback instances (make services).
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
