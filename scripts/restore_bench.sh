#!/usr/bin/env bash
# restore_bench.sh [GAMES] [REPEAT]: how long `hokm-engine --restore-from-pg`
# takes to bring back GAMES (default 10,000) live games from PostgreSQL,
# REPEAT (default 3) times (tests/integration/restore_bench.cc does the
# work: plays the games part-way with the real sidecar, kills it, deletes
# the segment, restores). Needs a Release build (build/) and the services
# (HOKM_REDIS_URL, HOKM_PG_URL; scripts/with_services.sh sets them). Takes
# /tmp/hokm-measure.lock so that measurements on a shared machine do not
# overlap. The README's "Restoring after a lost machine" quotes its output.
set -euo pipefail
cd "$(dirname "$0")/.."
games=${1:-10000}
repeat=${2:-3}
bin=build/bin/hokm-restore-bench
[[ -x $bin ]] || { echo "restore_bench: build $bin first (cmake --build build --target hokm-restore-bench)" >&2; exit 2; }
exec flock -o /tmp/hokm-measure.lock "$bin" --games "$games" --repeat "$repeat" \
  --shm-name "${HOKM_SHM_NAME:-hokm-restore-bench}"
