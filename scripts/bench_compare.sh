#!/usr/bin/env bash
# bench_compare.sh [SECONDS]: the product against the design it replaces, on
# the same servers, back to back, three loadgen runs of SECONDS each, all
# with --verify:
#
#   hokm sustained  engine (embedded) + sidecar, open loop at HOKM_BENCH_RATE
#                   card plays/s (default 50000, the issue's sustained
#                   target), games and rate ramped over the first third of
#                   the run: the latency and sync lag at that rate, over the
#                   whole run and after the ramp (steady state)
#   hokm max        the same, closed loop (as fast as answers come) with a
#                   4 MiB change ring: once the ring is full the engine
#                   answers Busy, so this is what the stores absorb, and its
#                   latency is the Busy back-off
#   seed-baseline   hokm-loadgen --baseline seed, 3 threads x 48 in flight
#                   (its best concurrency, bench/README.md)
#   1 host, 2 hosts scripts/run_two_hosts.sh into a local Redis Cluster
#                   (scripts/redis_cluster.sh: 3 masters, 3 replicas) and the
#                   same PostgreSQL, through hokm-engine, closed loop: first
#                   one engine host (node 1), then two at once (nodes 1 and
#                   2, a sidecar each), half the games each, each engine
#                   with a 4 MiB change ring (as hokm max: what the stores
#                   absorb); each node's card plays/s and sync lag beside
#                   the one host's
#                   (HOKM_BENCH_HOSTS=0 leaves these two out)
#
# Prints card plays/s, apply latency p99, sync lag, verify, whole-machine
# CPU seconds per 1,000 card plays (every process, loadgen included) and
# where that CPU went, what each card play cost the stores (Redis commands
# and command time, in all and by command; PostgreSQL rows inserted, in all
# and in the event log; WAL bytes; from scripts/store_stats.py, diffs of
# the servers' counters around each run), then the ratios. JSON reports go
# to bench/results/ (stores-NAME.json: the store figures).
# Needs HOKM_REDIS_URL / HOKM_PG_URL (scripts/with_services.sh sets them).
#
# On the project's own servers (HOKM_SERVICES_LOCAL=1, set by
# with_services.sh when it started them) Redis is emptied (FLUSHDB) before
# each run, and the tables the runs fill are truncated: ended games keep
# their keys for 15 minutes, and a Redis grown by the runs before (1.2 GB
# after five) took 5 s of sync lag in a run that had 0.1 s on an empty
# one; with game_moves grown to 8 GB by earlier runs PostgreSQL took 0.022
# CPU s per 1,000 card plays instead of 0.013 (its backends wrote evicted
# dirty pages themselves). Without this the later runs pay for the earlier
# ones. Servers given by URL are never cleared.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${HOKM_BIN:-$ROOT/build/bin}
SECONDS_EACH=${1:-30}
GAMES=${HOKM_BENCH_GAMES:-10000}
RATE=${HOKM_BENCH_RATE:-50000}
OUT=$ROOT/bench/results
mkdir -p "$OUT"
RAMP=$(awk -v s="$SECONDS_EACH" 'BEGIN{print s / 3}')

# Busy CPU seconds of the whole machine, from /proc/stat.
busy_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat
}

# run NAME COMMAND...: runs it with the machine's CPU and each process's
# CPU measured; leaves NAME.cpu (whole machine) and NAME.procs in $OUT, and
# stores-NAME.json, the stores' work per card play of loadgen-NAME.json
# (the report COMMAND writes).
run() {
  local name=$1
  shift
  local json=$OUT/loadgen-$name.json
  if [[ "${HOKM_SERVICES_LOCAL:-}" == 1 ]]; then
    redis-cli -u "$HOKM_REDIS_URL" flushdb >/dev/null
    psql "$HOKM_PG_URL" -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$
DECLARE t text;
BEGIN
  -- Only the tables that exist (on a new database the sidecar has not made
  -- them yet); game_moves is a view over game_commands since 004.
  FOREACH t IN ARRAY ARRAY['game_moves', 'game_moves_v1', 'game_commands', 'game_sessions', 'game_participants',
                           'hands', 'players', 'seed_moves'] LOOP
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass(t)) IN ('r', 'p') THEN
      EXECUTE format('TRUNCATE %I', t);
    END IF;
  END LOOP;
END $$;
SQL
  fi
  # The store figures are information: without them the run still counts.
  # (Not for the cluster runs: store_stats.py reads the one Redis.)
  rm -f "$OUT/stores-$name.json"
  local stores=1
  [[ "${HOKM_BENCH_NO_STORES:-}" == 1 ]] && stores=0
  python3 "$ROOT/scripts/store_stats.py" before "$OUT/stores-$name-before.json" ||
    { echo "bench: store counters unavailable before $name" >&2; stores=0; }
  python3 "$ROOT/scripts/proc_cpu.py" "$OUT/$name.procs" &
  local sampler=$!
  local before
  before=$(busy_s)
  local status=0
  # A run that fails leaves no report behind, rather than an earlier run's.
  rm -f "$json"
  # PIPESTATUS inside the ||: after it (|| true) it is true's, and a failed
  # run went unnoticed.
  "$@" 2>&1 | tee "$OUT/$name.log" || status=${PIPESTATUS[0]}
  awk -v a="$before" -v b="$(busy_s)" 'BEGIN{print b-a}' >"$OUT/$name.cpu"
  kill -TERM "$sampler"
  wait "$sampler" || true
  # After the CPU reading: this waits up to 5 s for PostgreSQL's statistics.
  if ((stores)); then
    python3 "$ROOT/scripts/store_stats.py" after "$OUT/stores-$name-before.json" "$json" "$OUT/stores-$name.json" ||
      echo "bench: store counters unavailable after $name" >&2
  fi
  rm -f "$OUT/stores-$name-before.json"
  return "$status"
}

status=0
echo "== hokm sustained: engine (embedded) + sidecar + loadgen, ${SECONDS_EACH}s, $GAMES games, open loop $RATE card plays/s, ramp ${RAMP}s"
run hokm-sustained env HOKM_RUN_MODE=embedded HOKM_BIN="$BIN" "$ROOT/scripts/run_pipeline.sh" \
  --games "$GAMES" --duration "$SECONDS_EACH" --bots random --rate "$RATE" --ramp-s "$RAMP" \
  --quiet --json "$OUT/loadgen-hokm-sustained.json" ${HOKM_BENCH_HOKM_ARGS:-} || status=1

echo "== hokm max: the same, closed loop, 4 MiB change ring"
run hokm-max env HOKM_RUN_MODE=embedded HOKM_BIN="$BIN" "$ROOT/scripts/run_pipeline.sh" \
  --games "$GAMES" --duration "$SECONDS_EACH" --bots random --ring-mb 4 \
  --quiet --json "$OUT/loadgen-hokm-max.json" ${HOKM_BENCH_HOKM_ARGS:-} || status=1

echo "== seed-baseline: Redis-centred (--baseline seed), ${SECONDS_EACH}s, 3 threads x 48 in flight"
run seed "$BIN/hokm-loadgen" --baseline seed --threads 3 --pipeline 48 --games "$GAMES" --duration "$SECONDS_EACH" \
  --bots random --verify --quiet --json "$OUT/loadgen-seed.json" ${HOKM_BENCH_SEED_ARGS:-} || status=1

python3 - "$OUT" <<'PY' || status=1
import json, os, re, sys
out = sys.argv[1]
runs = [("hokm sustained", "hokm-sustained", "loadgen-hokm-sustained.json"),
        ("hokm max", "hokm-max", "loadgen-hokm-max.json"),
        ("seed-baseline", "seed", "loadgen-seed.json")]
reports = []
for title, name, path in runs:
    if not os.path.exists(os.path.join(out, path)):
        sys.exit(f"{title}: no {path}, the run failed (see {name}.log)")
    r = json.load(open(os.path.join(out, path)))
    r["title"] = title
    r["cpu_s"] = float(open(os.path.join(out, name + ".cpu")).read())
    r["procs"] = [l.split() for l in open(os.path.join(out, name + ".procs")) if l.strip()]
    r["cpu_s_per_1000_plays"] = 1000 * r["cpu_s"] / max(1, r["card_plays"])
    # loadgen's summary line of the sidecar's lag after the ramp (absent
    # for the baseline, whose Redis write is the command itself).
    r["steady"] = None
    for line in open(os.path.join(out, name + ".log")):
        m = re.search(r"sync lag (\d+)-(\d+) s redis p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms; "
                      r"postgres p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", line)
        if m:
            r["steady"] = [float(x) for x in m.groups()]
    # What the run cost the stores (scripts/store_stats.py); None when the
    # counters could not be read.
    try:
        r["stores"] = json.load(open(os.path.join(out, "stores-" + name + ".json")))
    except (OSError, ValueError):
        r["stores"] = None
    reports.append(r)

def ms(v):
    return f"{v:,.1f}"

rows = [("card plays/s", lambda r: f"{r['card_plays_per_sec']:,.0f}"),
        ("apply p50 (ns)", lambda r: f"{r['apply_latency_ns']['p50']:,}"),
        ("apply p99 (ns)", lambda r: f"{r['apply_latency_ns']['p99']:,}"),
        ("sync lag p99 redis ms", lambda r: ms(r["sync_lag_ms"]["redis"]["p99"])),
        ("sync lag p99 pg ms", lambda r: ms(r["sync_lag_ms"]["postgres"]["p99"])),
        ("  after ramp, redis", lambda r: ms(r["steady"][3]) if r["steady"] else "-"),
        ("  after ramp, pg", lambda r: ms(r["steady"][6]) if r["steady"] else "-"),
        ("busy", lambda r: f"{r['busy']:,}"),
        ("verify ok", lambda r: str(r.get("verify", {}).get("ok"))),
        ("CPU s / 1,000 plays", lambda r: f"{r['cpu_s_per_1000_plays']:.3f}")]

def store(key, fmt):
    def cell(r):
        v = (r["stores"] or {}).get(key)
        return "-" if v is None else fmt(v)
    return cell

rows += [("change records / play", store("change_records_per_play", lambda v: f"{v:.2f}")),
         ("redis cmds / play", store("redis_commands_per_play", lambda v: f"{v:.2f}")),
         ("redis us / play", store("redis_usec_per_play", lambda v: f"{v:.2f}")),
         ("pg rows / play", store("pg_rows_per_play", lambda v: f"{v:.2f}")),
         ("pg log rows / play", store("pg_log_rows_per_play", lambda v: f"{v:.2f}")),
         ("WAL bytes / play", store("wal_bytes_per_play", lambda v: f"{v:,.0f}")),
         ("redis used_memory MB", store("redis_used_memory_bytes", lambda v: f"{v / 2**20:,.1f}"))]
print()
print(f"{'':24}" + "".join(f"{r['title']:>17}" for r in reports))
for label, f in rows:
    print(f"{label:24}" + "".join(f"{f(r):>17}" for r in reports))
print("\nCPU s per 1,000 card plays, by process (loadgen holds the embedded engine and the bots;")
print("the baseline's loadgen is its game server):")
names = []
for r in reports:
    for n, _ in r["procs"]:
        if n not in names:
            names.append(n)
for n in names:
    cells = []
    for r in reports:
        t = dict((k, float(v)) for k, v in r["procs"]).get(n, 0.0)
        cells.append(f"{1000 * t / max(1, r['card_plays']):.3f}")
    print(f"  {n:22}" + "".join(f"{c:>17}" for c in cells))

# Where Redis time goes: each run's five costliest commands (of those
# taking 0.01 us per card play or more), calls and microseconds per card play.
top_commands = []
for r in reports:
    costly = [n for n, c in (r["stores"] or {}).get("redis_by_command", {}).items()
              if (c["usec_per_play"] or 0) >= 0.01]
    for n in costly[:5]:
        if n not in top_commands:
            top_commands.append(n)
if top_commands:
    print("\nRedis per card play, by command (calls, us of command time in Redis;\n"
          "--verify's reads included, one per game):")
    for n in top_commands:
        cells = []
        for r in reports:
            c = (r["stores"] or {}).get("redis_by_command", {}).get(n)
            cells.append(f"{c['calls_per_play']:.2f} {c['usec_per_play']:.2f}us" if c and c["calls_per_play"] else "-")
        print(f"  {n:22}" + "".join(f"{c:>17}" for c in cells))
tables = []
for r in reports:
    for n in (r["stores"] or {}).get("pg_rows_by_table", {}):
        if n not in tables:
            tables.append(n)
if tables:
    print("\nPostgreSQL rows inserted per card play, by table (a partitioned table with its partitions):")
    for n in tables:
        cells = []
        for r in reports:
            v = (r["stores"] or {}).get("pg_rows_by_table", {}).get(n)
            cells.append(f"{v / max(1, r['card_plays']):.3f}" if v else "-")
        print(f"  {n:22}" + "".join(f"{c:>17}" for c in cells))
if any(r["stores"] for r in reports):
    print("(the store rows are diffs of the servers' counters around each run; the more change records per card\n"
          "play, the more of a run went to joins, deals and bids; figures per change record in stores-*.json)")

ours, top, seed = reports
rate_max = top["card_plays_per_sec"] / max(1, seed["card_plays_per_sec"])
lat = seed["apply_latency_ns"]["p99"] / max(1, top["apply_latency_ns"]["p99"])
cpu = seed["cpu_s_per_1000_plays"] / max(1e-9, top["cpu_s_per_1000_plays"])
print(f"\nratio hokm max / seed-baseline (both closed loop, same servers): card plays/s {rate_max:.2f}x, "
      f"apply p99 {lat:,.0f}x lower, CPU per card play {cpu:.2f}x lower")
print(f"hokm sustained (open loop, {ours['card_plays_per_sec']:,.0f} card plays/s over the run): "
      f"sync lag p99 redis {ours['sync_lag_ms']['redis']['p99']:,.1f} ms (target 10), "
      f"postgres {ours['sync_lag_ms']['postgres']['p99']:,.1f} ms (target 100)")
if ours["steady"]:
    st = ours["steady"]
    print(f"  after the ramp ({st[0]:.0f}-{st[1]:.0f} s): sync lag p99 redis {st[3]:,.1f} ms, "
          f"postgres {st[6]:,.1f} ms (upper bounds of the sidecar's histogram buckets)")
ok = all(r.get("verify", {}).get("ok") for r in reports)
sys.exit(0 if ok else 1)
PY

if [[ "${HOKM_BENCH_HOSTS:-1}" != 0 ]]; then
  cluster_url=$("$ROOT/scripts/redis_cluster.sh" start | sed -n 's/^HOKM_REDIS_CLUSTER_URL=//p')
  if [[ -z "$cluster_url" ]]; then
    echo "bench: the Redis Cluster did not start (scripts/redis_cluster.sh start)" >&2
    exit 1
  fi
  # The project's own cluster is emptied before each run, as the one Redis is.
  flush_cluster() {
    [[ "${HOKM_SERVICES_LOCAL:-}" == 1 ]] || return 0
    "$ROOT/scripts/redis_cluster.sh" pids | while read -r port _ role; do
      if [[ "$role" == master ]]; then redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null; fi
    done
  }
  flush_cluster
  half=$((GAMES / 2))
  echo "== 1 host: hokm-engine (node 1) + sidecar + loadgen into the Redis Cluster, ${SECONDS_EACH}s, $half games, closed loop"
  HOKM_BENCH_NO_STORES=1 run one-host env HOKM_REDIS_URL="$cluster_url" HOKM_BIN="$BIN" HOKM_NODES=1 \
    HOKM_ENGINE_ARGS="--ring-mb 4" \
    HOKM_TWO_HOSTS_LOGS="$OUT/one-host" "$ROOT/scripts/run_two_hosts.sh" \
    --games "$half" --duration "$SECONDS_EACH" --bots random || status=1
  flush_cluster
  echo "== 2 hosts: the same on nodes 1 and 2 at once, $half games each"
  HOKM_BENCH_NO_STORES=1 run two-hosts env HOKM_REDIS_URL="$cluster_url" HOKM_BIN="$BIN" HOKM_NODES="1 2" \
    HOKM_ENGINE_ARGS="--ring-mb 4" \
    HOKM_TWO_HOSTS_LOGS="$OUT/two-hosts" "$ROOT/scripts/run_two_hosts.sh" \
    --games "$half" --duration "$SECONDS_EACH" --bots random || status=1
  python3 - "$OUT" <<'PY' || status=1
import json, os, sys
out = sys.argv[1]
print("\nSeveral hosts (through hokm-engine, closed loop, one Redis Cluster of 3 masters and the same"
      "\nPostgreSQL; each host an engine, a sidecar and a loadgen; all on this one machine):")
print(f"{'':18}{'card plays/s':>14}{'CPU s/1,000':>13}{'apply p99 ns':>14}{'lag p99 redis':>15}"
      f"{'lag p99 pg':>12}{'verify':>8}")
for title, name, nodes in (("1 host", "one-host", ["1"]), ("2 hosts", "two-hosts", ["1", "2"])):
    cpu = float(open(os.path.join(out, name + ".cpu")).read())
    total, plays = 0.0, 0
    for n in nodes:
        r = json.load(open(os.path.join(out, name, f"loadgen-node-{n}.json")))
        total += r["card_plays_per_sec"]
        plays += r["card_plays"]
        lag = r["sync_lag_ms"]
        print(f"{title + ' node ' + n:18}{r['card_plays_per_sec']:>14,.0f}{'':>13}"
              f"{r['apply_latency_ns']['p99']:>14,}{lag['redis']['p99']:>15,.1f}"
              f"{lag['postgres']['p99']:>12,.1f}{str(r.get('verify', {}).get('ok')):>8}")
    print(f"{title + ' all':18}{total:>14,.0f}{1000 * cpu / max(1, plays):>13.3f}")
PY
fi
exit "$status"
