#!/usr/bin/env bash
# bench_compare.sh [SECONDS]: the product against the design it replaces, on
# the same servers, back to back: hokm (engine + sidecar + loadgen --verify,
# scripts/run_pipeline.sh) then hokm-loadgen --baseline seed --verify. Prints
# card plays/s, apply latency p99, verify, whole-machine CPU seconds per
# 1,000 card plays, and the ratios. JSON reports go to bench/results/. Ours
# runs with a 4 MiB change ring, so that a backlog parked in the ring (the
# sidecar drains it after loadgen stops) cannot inflate its rate.
# Needs HOKM_REDIS_URL / HOKM_PG_URL (scripts/with_services.sh sets them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
SECONDS_EACH=${1:-30}
GAMES=${HOKM_BENCH_GAMES:-10000}
OUT=$ROOT/bench/results
mkdir -p "$OUT"

# Busy CPU seconds of the whole machine (every process: engine, sidecar,
# loadgen, redis-server, postgres), from /proc/stat.
busy_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat
}

echo "== hokm: engine (${HOKM_BENCH_MODE:-embedded}) + sidecar + loadgen, ${SECONDS_EACH}s, $GAMES concurrent games"
before=$(busy_s)
HOKM_RUN_MODE=${HOKM_BENCH_MODE:-embedded} HOKM_BIN=$BIN "$ROOT/scripts/run_pipeline.sh" --games "$GAMES" --duration "$SECONDS_EACH" --bots random \
  --quiet --json "$OUT/loadgen-hokm.json" ${HOKM_BENCH_HOKM_ARGS:---ring-mb 4}
ours_cpu=$(awk -v a="$before" -v b="$(busy_s)" 'BEGIN{print b-a}')

echo "== baseline: Redis-centred (--baseline seed), ${SECONDS_EACH}s, 4 threads x 16 in flight"
before=$(busy_s)
"$BIN/hokm-loadgen" --baseline seed --threads 4 --pipeline 16 --games "$GAMES" --duration "$SECONDS_EACH" \
  --bots random --verify --quiet --json "$OUT/loadgen-seed.json" ${HOKM_BENCH_SEED_ARGS:-}
seed_cpu=$(awk -v a="$before" -v b="$(busy_s)" 'BEGIN{print b-a}')

python3 - "$OUT/loadgen-hokm.json" "$OUT/loadgen-seed.json" "$ours_cpu" "$seed_cpu" <<'PY'
import json, sys
ours, seed = (json.load(open(p)) for p in sys.argv[1:3])
cpu = {"hokm": float(sys.argv[3]), "seed-baseline": float(sys.argv[4])}
print()
print(f"{'':22}{'hokm':>16}{'seed-baseline':>16}")
for r in (ours, seed):
    r["cpu_s_per_1000_plays"] = 1000 * cpu[r["mode"] if r["mode"] in cpu else "hokm"] / max(1, r["card_plays"])
rows = [("card plays/s", lambda r: f"{r['card_plays_per_sec']:,.0f}"),
        ("apply p99 (ns)", lambda r: f"{r['apply_latency_ns']['p99']:,}"),
        ("sync lag p99 redis ms", lambda r: f"{r['sync_lag_ms']['redis']['p99']:,.1f}"),
        ("sync lag p99 pg ms", lambda r: f"{r['sync_lag_ms']['postgres']['p99']:,.1f}"),
        ("busy", lambda r: f"{r['busy']:,}"),
        ("verify ok", lambda r: str(r.get('verify', {}).get('ok'))),
        ("CPU s / 1,000 plays", lambda r: f"{r['cpu_s_per_1000_plays']:.3f}")]
for name, f in rows:
    print(f"{name:22}{f(ours):>16}{f(seed):>16}")
ratio = ours["card_plays_per_sec"] / max(1, seed["card_plays_per_sec"])
lat = seed["apply_latency_ns"]["p99"] / max(1, ours["apply_latency_ns"]["p99"])
print(f"\nratio hokm / seed-baseline: card plays/s {ratio:.2f}x, apply p99 {lat:.1f}x lower")
ok = ours.get("verify", {}).get("ok") and seed.get("verify", {}).get("ok")
sys.exit(0 if ok else 1)
PY
