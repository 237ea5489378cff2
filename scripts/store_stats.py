#!/usr/bin/env python3
"""store_stats.py before SNAPSHOT | after SNAPSHOT LOADGEN_JSON OUT: what a run cost the stores.

`before` records Redis's INFO commandstats, PostgreSQL's n_tup_ins per user
table and the WAL position into SNAPSHOT; `after`, once the run has ended,
diffs them against the servers' state now and writes OUT (JSON) with the
totals and the figures per card play (card_plays from the run's loadgen
report): Redis commands and command microseconds (all and per command),
PostgreSQL rows inserted (all, the event log alone, per table), WAL bytes,
and Redis used_memory after the run; the same per change record. Used by bench_compare.sh; needs
HOKM_REDIS_URL / HOKM_PG_URL, redis-cli and psql.

What the diff holds: everything the servers did in between, so also
--verify's reads (one Redis read per game, PostgreSQL SELECTs, no inserts)
and background work (autovacuum, checkpoints) in the WAL. The script's own
INFO calls are left out of the Redis figures.
"""
import json
import os
import subprocess
import sys
import time

# The event log's tables (and their partitions, whose names start with
# them): game_commands (one row per command, 004_game_commands.sql),
# game_moves of the per-record layout before it, and the baseline's
# seed_moves.
LOG_PREFIXES = ("game_moves", "game_commands", "seed_moves")


def redis(*args):
    return subprocess.run(["redis-cli", "-u", os.environ["HOKM_REDIS_URL"], *args], check=True,
                          capture_output=True, text=True).stdout


def psql(sql):
    out = subprocess.run(["psql", os.environ["HOKM_PG_URL"], "-qXAt", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def info(section):
    out = {}
    for line in redis("info", section).splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.strip().partition(":")
            out[key] = value
    return out


def command_stats():
    """{command: [calls, usec]} from INFO commandstats, without INFO itself."""
    out = {}
    for key, value in info("commandstats").items():
        if not key.startswith("cmdstat_"):
            continue
        name = key[len("cmdstat_"):]
        if name == "info":
            continue
        fields = dict(kv.split("=", 1) for kv in value.split(","))
        out[name] = [int(fields["calls"]), int(fields["usec"])]
    return out


def inserted_rows():
    """{table: [root table, n_tup_ins]}; a partition's root is its partitioned table."""
    # A fresh psql session each time, so no snapshot of the statistics is
    # cached from an earlier reading.
    rows = psql("SELECT relid::regclass::text, coalesce(pg_partition_root(relid), relid)::regclass::text, "
                "n_tup_ins FROM pg_stat_user_tables")
    return {table: [root, int(n)] for table, root, n in rows}


def settled_inserted_rows(max_s=5.0):
    """inserted_rows() once two readings 1 s apart agree, or after max_s.

    Backends report their counts to the shared statistics at the end of a
    transaction at most once a second, and at exit; the sidecar and loadgen
    have exited, but their backends may not have flushed yet.
    """
    deadline = time.monotonic() + max_s
    last = inserted_rows()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = inserted_rows()
        if now == last:
            break
        last = now
    return last


def before(path):
    snapshot = {
        "redis_commandstats": command_stats(),
        "pg_inserted": inserted_rows(),
        "wal_lsn": psql("SELECT pg_current_wal_lsn()")[0][0],
    }
    with open(path, "w") as f:
        json.dump(snapshot, f)


def after(snapshot_path, loadgen_path, out_path):
    with open(snapshot_path) as f:
        base = json.load(f)
    commands_now = command_stats()
    memory = info("memory")
    inserted_now = settled_inserted_rows()
    wal_bytes = int(float(psql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{base['wal_lsn']}')")[0][0]))
    try:
        with open(loadgen_path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        report = {}
    plays = int(report.get("card_plays", 0))
    records = int(report.get("records", 0))

    def per_play(v):
        return v / plays if plays else None

    # Per change record too: a run of many games and few card plays each
    # (the baseline at its rate) spends more of its records on joins, deals
    # and bids, which per card play looks like more work per play.
    def per_record(v):
        return v / records if records else None

    commands = {}
    for name, (calls, usec) in commands_now.items():
        c0, u0 = base["redis_commandstats"].get(name, [0, 0])
        if calls - c0 > 0:
            commands[name] = {"calls": calls - c0, "usec": usec - u0,
                              "calls_per_play": per_play(calls - c0), "usec_per_play": per_play(usec - u0)}
    commands = dict(sorted(commands.items(), key=lambda kv: -kv[1]["usec"]))

    # A table made during the run counts from 0; one truncated keeps its
    # counter (TRUNCATE does not reset n_tup_ins).
    by_table = {}
    for table, (root, n) in inserted_now.items():
        rows = n - base["pg_inserted"].get(table, [root, 0])[1]
        if rows > 0:
            by_table[root] = by_table.get(root, 0) + rows
    log_rows = sum(rows for table, rows in by_table.items() if table.startswith(LOG_PREFIXES))
    pg_rows = sum(by_table.values())
    redis_calls = sum(c["calls"] for c in commands.values())
    redis_usec = sum(c["usec"] for c in commands.values())

    result = {
        "card_plays": plays,
        "change_records": records,
        "change_records_per_play": per_play(records),
        "redis_commands": redis_calls,
        "redis_usec": redis_usec,
        "redis_commands_per_play": per_play(redis_calls),
        "redis_usec_per_play": per_play(redis_usec),
        "redis_by_command": commands,
        "redis_used_memory_bytes": int(memory.get("used_memory", 0)),
        "pg_rows_inserted": pg_rows,
        "pg_rows_per_play": per_play(pg_rows),
        "pg_log_rows_inserted": log_rows,
        "pg_log_rows_per_play": per_play(log_rows),
        "pg_log_tables": [t for t in by_table if t.startswith(LOG_PREFIXES)],
        "pg_rows_by_table": dict(sorted(by_table.items(), key=lambda kv: -kv[1])),
        "wal_bytes": wal_bytes,
        "wal_bytes_per_play": per_play(wal_bytes),
        "redis_commands_per_record": per_record(redis_calls),
        "redis_usec_per_record": per_record(redis_usec),
        "pg_rows_per_record": per_record(pg_rows),
        "wal_bytes_per_record": per_record(wal_bytes),
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "before":
        before(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "after":
        after(*sys.argv[2:])
    else:
        sys.exit(__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
