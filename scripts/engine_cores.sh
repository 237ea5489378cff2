#!/usr/bin/env bash
# engine_cores.sh [SECONDS] [REPS]: the engine's change records/s with 1 and
# 2 shards, embedded (hokm-loadgen --mode embedded --drain: bots, engine and
# the ring's consumer in one process) and through hokm-engine (hokm-loadgen
# --mode shm --drain against hokm-engine --shards S), REPS times each
# (docs/SIZING.md §1). No stores needed; segments hokm-cores and
# hokm-cores-engine are made fresh and left behind.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
SECS=${1:-10}
REPS=${2:-2}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
figures() { grep -E "change records|wall time|card plays per sec"; }
for rep in $(seq 1 "$REPS"); do
  for shards in 1 2; do
    echo "== embedded --threads $shards (rep $rep)"
    "$BIN/hokm-loadgen" --mode embedded --drain --threads "$shards" --games 10000 \
      --duration "$SECS" --shm-name hokm-cores --fresh 2>&1 | figures
    echo "== hokm-engine --shards $shards, hokm-loadgen --mode shm --drain --threads $shards (rep $rep)"
    "$BIN/hokm-engine" --shm-name hokm-cores-engine --fresh --shards "$shards" --metrics-port 0 \
      >"$LOG" 2>&1 &
    engine=$!
    for _ in $(seq 1 200); do grep -q serving "$LOG" && break; sleep 0.05; done
    "$BIN/hokm-loadgen" --mode shm --drain --threads "$shards" --games 10000 \
      --duration "$SECS" --shm-name hokm-cores-engine 2>&1 | figures
    kill -TERM "$engine"
    wait "$engine"
  done
done
