#!/usr/bin/env bash
# run_two_hosts.sh [LOADGEN ARGS...]: two engine hosts into one set of stores
# (docs/DESIGN.md §7; issue 17). Each "host" is a hokm-engine on its own
# segment with its own node id (HOKM_NODES, default "1 2"), its own
# hokm-sidecar and its own hokm-loadgen --verify; all of them write into
# the same Redis (a Redis Cluster when HOKM_REDIS_URL names one: `make
# run-two-hosts` starts one, scripts/redis_cluster.sh) and the same
# PostgreSQL. The loadgens run at once, with LOADGEN ARGS each.
#
# Prints each node's card plays/s, apply and sync-lag percentiles and
# verify (from the loadgen JSON reports, $LOGS/loadgen-node-N.json), then
# what PostgreSQL's analytics view analytics.node_summary says of each
# node. Exits non-zero when a verify fails, a process fails, or the view
# misses a node's games. Needs HOKM_REDIS_URL / HOKM_PG_URL
# (scripts/with_services.sh sets them); the sidecars log in as
# HOKM_PG_WRITER_URL when it is set, as in run_pipeline.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
LOGS=${HOKM_TWO_HOSTS_LOGS:-$ROOT/.local/two-hosts}
read -r -a NODES <<<"${HOKM_NODES:-1 2}"
PREFIX=${HOKM_SHM_PREFIX:-hokm-node}
# Each sidecar's /metrics port: HOKM_METRICS_PORTS ("P1 P2 ...", one per
# node), else HOKM_METRICS_PORT_BASE (9470) + the node's index.
METRICS_BASE=${HOKM_METRICS_PORT_BASE:-9470}
read -r -a METRICS_PORTS <<<"${HOKM_METRICS_PORTS:-}"
metrics_port() { echo "${METRICS_PORTS[$1]:-$((METRICS_BASE + $1))}"; }
mkdir -p "$LOGS"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

SIDECAR_PG=()
if [[ -n "${HOKM_PG_WRITER_URL:-}" ]]; then
  "$BIN/hokmctl" migrate up >"$LOGS/migrate.log" 2>&1 ||
    { cat "$LOGS/migrate.log" >&2; echo "two-hosts: hokmctl migrate up failed" >&2; exit 1; }
  SIDECAR_PG=(--pg-url "$HOKM_PG_WRITER_URL")
fi

declare -A engine_pid sidecar_pid loadgen_pid
i=0
for n in "${NODES[@]}"; do
  shm="$PREFIX-$n"
  echo "two-hosts: node $n: hokm-engine --node-id $n on /dev/shm/$shm (log $LOGS/engine-$n.log)"
  "$BIN/hokm-engine" --shm-name "$shm" --fresh --node-id "$n" --metrics-port 0 \
    ${HOKM_ENGINE_ARGS:-} >"$LOGS/engine-$n.log" 2>&1 &
  engine_pid[$n]=$!
  pids+=("$!")
  for _ in $(seq 1 200); do
    grep -q "serving" "$LOGS/engine-$n.log" 2>/dev/null && break
    kill -0 "${engine_pid[$n]}" 2>/dev/null ||
      { cat "$LOGS/engine-$n.log" >&2; echo "two-hosts: node $n: hokm-engine failed" >&2; exit 1; }
    sleep 0.05
  done
  port=$(metrics_port "$i")
  rm -rf "$LOGS/spill-$n"
  "$BIN/hokm-sidecar" --shm-name "$shm" --spill-dir "$LOGS/spill-$n" --metrics-port "$port" \
    "${SIDECAR_PG[@]}" --drain-and-exit ${HOKM_SIDECAR_ARGS:-} >"$LOGS/sidecar-$n.log" 2>&1 &
  sidecar_pid[$n]=$!
  pids+=("$!")
  i=$((i + 1))
done

status=0
i=0
for n in "${NODES[@]}"; do
  port=$(metrics_port "$i")
  "$BIN/hokm-loadgen" --mode shm --shm-name "$PREFIX-$n" --verify --quiet \
    --sidecar-metrics "http://127.0.0.1:$port/metrics" --json "$LOGS/loadgen-node-$n.json" "$@" \
    >"$LOGS/loadgen-$n.log" 2>&1 &
  loadgen_pid[$n]=$!
  pids+=("$!")
  i=$((i + 1))
done
for n in "${NODES[@]}"; do
  if ! wait "${loadgen_pid[$n]}"; then
    echo "two-hosts: node $n: hokm-loadgen failed; see $LOGS/loadgen-$n.log" >&2
    tail -n 20 "$LOGS/loadgen-$n.log" >&2
    status=1
  fi
done

echo "two-hosts: stopping the engines; the sidecars drain and exit"
for n in "${NODES[@]}"; do kill -TERM "${engine_pid[$n]}"; done
for n in "${NODES[@]}"; do
  wait "${engine_pid[$n]}" || { echo "two-hosts: node $n: hokm-engine exited with $?" >&2; status=1; }
  wait "${sidecar_pid[$n]}" ||
    { echo "two-hosts: node $n: hokm-sidecar exited with $?; see $LOGS/sidecar-$n.log" >&2; status=1; }
done
pids=()

python3 - "$LOGS" "${NODES[@]}" <<'PY' || status=1
import json, os, sys
logs, nodes = sys.argv[1], sys.argv[2:]
print(f"\n{'node':>6} {'card plays/s':>13} {'apply p50 ns':>13} {'apply p99 ns':>13} "
      f"{'lag p99 redis ms':>17} {'lag p99 pg ms':>14} {'verify':>7}")
total, ok = 0.0, True
for n in nodes:
    path = os.path.join(logs, f"loadgen-node-{n}.json")
    if not os.path.exists(path):
        print(f"{n:>6} no report ({path})")
        ok = False
        continue
    r = json.load(open(path))
    v = r.get("verify", {}).get("ok")
    ok = ok and v is True
    total += r["card_plays_per_sec"]
    lag = r.get("sync_lag_ms", {})
    print(f"{n:>6} {r['card_plays_per_sec']:>13,.0f} {r['apply_latency_ns']['p50']:>13,} "
          f"{r['apply_latency_ns']['p99']:>13,} {lag.get('redis', {}).get('p99', 0):>17,.1f} "
          f"{lag.get('postgres', {}).get('p99', 0):>14,.1f} {str(v):>7}")
print(f"{'all':>6} {total:>13,.0f}")
sys.exit(0 if ok else 1)
PY

# What the analytics see: every node's games (schemas/postgres/008).
echo
psql "$HOKM_PG_URL" -X -v ON_ERROR_STOP=1 -c \
  "SELECT node_id, games, finished_games, card_plays FROM analytics.node_summary ORDER BY node_id" ||
  status=1
for n in "${NODES[@]}"; do
  got=$(psql "$HOKM_PG_URL" -XAtq -c "SELECT games FROM analytics.node_summary WHERE node_id = $n")
  if [[ -z "$got" || "$got" == 0 ]]; then
    echo "two-hosts: analytics.node_summary has no game of node $n" >&2
    status=1
  fi
done
exit "$status"
