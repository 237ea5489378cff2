#!/usr/bin/env bash
# run_pipeline.sh [LOADGEN ARGS...]: the main job. Starts hokm-engine and
# hokm-sidecar on a fresh segment, drives them with hokm-loadgen --verify,
# then stops what it started: SIGTERM to the engine, after which the sidecar
# drains and exits. HOKM_RUN_MODE=embedded runs the engine inside loadgen
# instead (a frontend embedding the library): loadgen creates the segment,
# the sidecar attaches to it, and drains once loadgen has exited. Needs HOKM_REDIS_URL / HOKM_PG_URL (scripts/with_services.sh
# sets them). Exits with hokm-loadgen's status (non-zero when verify fails).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
SHM=${HOKM_SHM_NAME:-hokm-run}
LOGS=$ROOT/.local/run
ENGINE_METRICS=${HOKM_ENGINE_METRICS_PORT:-9464}
SIDECAR_METRICS=${HOKM_SIDECAR_METRICS_PORT:-9465}
mkdir -p "$LOGS"

engine_pid="" sidecar_pid=""
cleanup() {
  [[ -n "$engine_pid" ]] && kill "$engine_pid" 2>/dev/null || true
  [[ -n "$sidecar_pid" ]] && kill "$sidecar_pid" 2>/dev/null || true
  [[ -n "${loadgen_pid:-}" ]] && kill "$loadgen_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# With HOKM_PG_WRITER_URL (scripts/services.sh sets it): the sidecar logs in
# as hokm_writer, which may not run DDL, so the owner (HOKM_PG_URL) applies
# the schema first.
SIDECAR_PG=()
if [[ -n "${HOKM_PG_WRITER_URL:-}" ]]; then
  "$BIN/hokmctl" migrate up >"$LOGS/migrate.log" 2>&1 ||
    { cat "$LOGS/migrate.log" >&2; echo "run: hokmctl migrate up failed" >&2; exit 1; }
  SIDECAR_PG=(--pg-url "$HOKM_PG_WRITER_URL")
fi

MODE=${HOKM_RUN_MODE:-shm}
start_sidecar() {
  echo "run: hokm-sidecar (log $LOGS/sidecar.log)"
  rm -rf "$LOGS/spill"
  "$BIN/hokm-sidecar" --shm-name "$SHM" --spill-dir "$LOGS/spill" --metrics-port "$SIDECAR_METRICS" \
    "${SIDECAR_PG[@]}" --drain-and-exit ${HOKM_SIDECAR_ARGS:-} >"$LOGS/sidecar.log" 2>&1 &
  sidecar_pid=$!
}
finish_sidecar() {
  wait "$sidecar_pid" || { echo "run: hokm-sidecar exited with $?; see $LOGS/sidecar.log" >&2; status=$((status ? status : 1)); }
  sidecar_pid=""
  tail -n 2 "$LOGS/sidecar.log"
}

status=0
if [[ "$MODE" == embedded ]]; then
  rm -f "/dev/shm/$SHM"
  "$BIN/hokm-loadgen" --mode embedded --shm-name "$SHM" --fresh --verify --wait-for-sidecar 60 \
    --sidecar-metrics "http://127.0.0.1:$SIDECAR_METRICS/metrics" "$@" &
  loadgen_pid=$!
  for _ in $(seq 1 400); do [[ -e "/dev/shm/$SHM" ]] && break; sleep 0.05; done
  start_sidecar
  wait "$loadgen_pid" || status=$?
  finish_sidecar
  exit "$status"
fi

echo "run: hokm-engine on /dev/shm/$SHM (log $LOGS/engine.log)"
"$BIN/hokm-engine" --shm-name "$SHM" --fresh --metrics-port "$ENGINE_METRICS" \
  ${HOKM_ENGINE_ARGS:-} >"$LOGS/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 1 200); do
  grep -q "serving" "$LOGS/engine.log" 2>/dev/null && break
  kill -0 "$engine_pid" 2>/dev/null || { cat "$LOGS/engine.log"; echo "run: hokm-engine failed" >&2; exit 1; }
  sleep 0.05
done
start_sidecar

"$BIN/hokm-loadgen" --mode shm --shm-name "$SHM" --verify \
  --sidecar-metrics "http://127.0.0.1:$SIDECAR_METRICS/metrics" "$@" || status=$?

# What an operator sees of the system, straight from the segment.
echo "run: hokmctl status --shm-name $SHM"
"$BIN/hokmctl" status --shm-name "$SHM" || true

echo "run: stopping hokm-engine; hokm-sidecar drains and exits"
kill -TERM "$engine_pid"
wait "$engine_pid" || status=$((status ? status : 1))
engine_pid=""
finish_sidecar
exit "$status"
