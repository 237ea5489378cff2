#!/usr/bin/env bash
# check_cost.sh [RUNS] [RATE] [WINDOWS]: what `hokmctl check --all --rate RATE`
# costs the pipeline at full load, side by side in one run. The pipeline is
# bench_compare.sh's "hokm max": hokm-loadgen with the engine embedded,
# closed loop, 10,000 games, a 4 MiB change ring (full: the engine answers
# Busy, so the stores set the pace), and hokm-sidecar on its segment.
#
# In each run, after 6 s of warm-up (the games created and dealt), WINDOWS
# windows of 1 s alternate: check paused (SIGSTOP), check running (SIGCONT);
# `check --all` runs in a loop (a new one as soon as one ends), so every
# part of it (live games, finished games, PostgreSQL continuity) takes its
# turn across the windows. Throughput of a window: change records the
# sidecar read off the ring in it (hokm_sidecar_records_read_total; with the
# ring full that is what the engine produced). Alternating 1 s windows
# inside one run keeps the machine's drift (this VM varies +-30% between
# runs) out of the comparison. Prints, per run, records/s with the check
# paused and running (means over the windows) and the difference.
#
# Each run starts from empty stores (FLUSHDB, the tables TRUNCATEd, as
# bench_compare.sh does on the project's own servers): ONLY for servers
# that hold nothing else. Needs HOKM_REDIS_URL / HOKM_PG_URL; the segment is
# $HOKM_SHM_NAME-cost, the sidecar's metrics port $HOKM_COST_METRICS_PORT
# (default 19475). HOKM_MEASURE_LOCK (a file): each run takes it with flock,
# so runs of other measurements on a shared machine do not overlap.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
RUNS=${1:-3}
RATE=${2:-250}
WINDOWS=${3:-10}
SHM=${HOKM_SHM_NAME:-hokm}-cost
PORT=${HOKM_COST_METRICS_PORT:-19475}
OUT=$(mktemp -d /tmp/check-cost.XXXXXX)
WARMUP=6
CHECKER=""
# A check loop must not outlive the script (killed, or a failed command).
trap '[[ -n "$CHECKER" ]] && { kill -CONT -- -"$CHECKER"; kill -TERM -- -"$CHECKER"; } 2>/dev/null || true' EXIT

clear_stores() {
  redis-cli -u "$HOKM_REDIS_URL" flushdb >/dev/null
  psql "$HOKM_PG_URL" -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['game_moves_v1', 'game_commands', 'game_sessions', 'game_participants',
                           'hands', 'players'] LOOP
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass(t)) IN ('r', 'p') THEN
      EXECUTE format('TRUNCATE %I', t);
    END IF;
  END LOOP;
END $$;
SQL
}

records() {
  { curl -s "http://127.0.0.1:$PORT/metrics" || true; } |
    awk '/^hokm_sidecar_records_read_total/{s+=$2} END{print s+0}'
}
# Redis commands of the check so far: XREVRANGE and SCAN calls, less the
# sink's probes (its only XREVRANGEs).
check_commands() {
  local probes calls
  probes=$({ curl -s "http://127.0.0.1:$PORT/metrics" || true; } |
    awk '/^hokm_sidecar_redis_probes_total/{s+=$2} END{print s+0}')
  calls=$(redis-cli -u "$HOKM_REDIS_URL" info commandstats |
    awk -F'[:=,]' '/^cmdstat_(xrevrange|scan):/{s+=$3} END{print s+0}')
  echo $((calls - probes))
}

# run N: one run; appends "off|on records/s" lines to $OUT/run-N.windows.
run() {
  local n=$1
  clear_stores
  rm -f "/dev/shm/$SHM"
  "$BIN/hokm-loadgen" --mode embedded --shm-name "$SHM" --fresh --games 10000 \
    --duration $((WARMUP + 2 * WINDOWS + 2)) --bots random --ring-mb 4 --wait-for-sidecar 60 \
    --sidecar-metrics "http://127.0.0.1:$PORT/metrics" --quiet --json "$OUT/run-$n.json" \
    >"$OUT/run-$n.loadgen.log" 2>&1 9>&- &
  local loadgen=$!
  for _ in $(seq 1 400); do [[ -e "/dev/shm/$SHM" ]] && break; sleep 0.05; done
  "$BIN/hokm-sidecar" --shm-name "$SHM" --spill-dir "$OUT/spill" --metrics-port "$PORT" \
    --drain-and-exit >"$OUT/run-$n.sidecar.log" 2>&1 9>&- &
  local sidecar=$!
  # The check loop in its own process group, paused until its first window.
  setsid bash -c "while :; do '$BIN/hokmctl' check --all --json --rate '$RATE' --shm-name '$SHM' \
    >>'$OUT/run-$n.checks' 2>>'$OUT/run-$n.checks.err'; done" 9>&- &
  local checker=$!
  CHECKER=$checker
  for _ in $(seq 1 200); do kill -0 -- -"$checker" 2>/dev/null && break; sleep 0.01; done
  kill -STOP -- -"$checker"
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null && break; sleep 0.05; done
  sleep "$WARMUP"
  local before after mode c0 c1
  for w in $(seq 1 "$WINDOWS"); do
    if ((w % 2 == 0)); then mode=on; kill -CONT -- -"$checker"; else mode=off; kill -STOP -- -"$checker"; fi
    before=$(records)
    c0=$(check_commands)
    sleep 1
    after=$(records)
    c1=$(check_commands)
    echo "$mode $((after - before)) $((c1 - c0))" >>"$OUT/run-$n.windows"
  done
  kill -CONT -- -"$checker" 2>/dev/null || true
  kill -TERM -- -"$checker" 2>/dev/null || true
  wait "$loadgen" || true
  wait "$sidecar" || true
  wait "$checker" 2>/dev/null || true
}

echo "check_cost: $RUNS runs, check --all --rate $RATE, $WINDOWS windows of 1 s alternating paused/running after ${WARMUP}s; logs in $OUT"
for n in $(seq 1 "$RUNS"); do
  if [[ -n "${HOKM_MEASURE_LOCK:-}" ]]; then
    flock -o "$HOKM_MEASURE_LOCK" true  # wait for the others' run, then take it below
    exec 9>"$HOKM_MEASURE_LOCK"
    flock 9
  fi
  run "$n"
  [[ -n "${HOKM_MEASURE_LOCK:-}" ]] && { flock -u 9; exec 9>&-; }
  awk -v n="$n" '
    { s[$1] += $2; c[$1]++; v[$1] = v[$1] " " $2; r[$1] += $3 }
    END {
      off = s["off"] / c["off"]; on = s["on"] / c["on"]
      printf "run %d: records/s check paused %.0f, running %.0f (%+.1f%%); check Redis commands/s paused %.0f, running %.0f\n",
             n, off, on, (on - off) * 100 / off, r["off"] / c["off"], r["on"] / c["on"]
      printf "       windows paused:%s   running:%s\n", v["off"], v["on"]
    }' "$OUT/run-$n.windows"
  python3 - "$OUT/run-$n.checks" <<'PY' || true
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
print(f"       checks completed {len(rows)}; differences {sum(r['differences_total'] for r in rows)}; "
      f"live checked {sum(r['live']['checked'] for r in rows)} (unsettled {sum(r['live']['unsettled'] for r in rows)}), "
      f"finished checked {sum(r['finished']['checked'] for r in rows)}")
PY
done
