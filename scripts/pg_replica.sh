# shellcheck shell=bash
# pg_replica.sh: sourced by scripts/services.sh (uses its variables and
# helpers: as_pg, pg_super, wait_until, log_tail, new_password, pg_role_url,
# pg_start): a PostgreSQL streaming replica of the project-local primary, on
# 127.0.0.1:HOKM_PG_REPLICA_PORT (5450), for the reads that may lag
# (hokmctl's read-only subcommands, the analytics views: README, "A read
# replica").
#
#   .local/pg-replica/data/      the standby (pg_basebackup -R -X stream);
#                                its hokm.conf (port, socket, hot_standby)
#                                is ours, rewritten on every start
#   .local/pg-replica/run/       its unix socket
#   .local/pg-replica/pgpass     the replication login's password file
#                                (mode 0600, read by the walreceiver)
#   .local/pg-replica/postgres.log
#   .local/pg-password-hokm_replication: that login's password
#
# On the primary: a login `hokm_replication` with REPLICATION and nothing
# else, and the physical slot `hokm_replica`, so the primary keeps the WAL
# the replica has not received while it is down, bounded by
# max_slot_wal_keep_size (2GB; past that the slot is lost and the next
# start-pg-replica makes a new base backup). The stock pg_hba.conf of
# initdb already lets replication in from 127.0.0.1 with scram-sha-256;
# a cluster without such a line gets one.
#
# start-pg-replica is idempotent: a running replica only has its URLs
# printed; a stopped one is started and catches up through its slot; one
# made from another primary (other system identifier) or whose slot is lost
# is made again. It prints HOKM_PG_READ_URL (the owner `hokm` on the
# replica: the tables hokmctl reads; the standby refuses every write) and
# HOKM_PG_REPLICA_READER_URL (hokm_reader: the analytics views only), with
# ?passfile= as the other URLs, never a password.

REPLICA_PORT=${HOKM_PG_REPLICA_PORT:-5450}
REPLICA_DIR="$LOCAL/pg-replica"
REPLICA_DATA="$REPLICA_DIR/data"
REPLICA_SOCK="$REPLICA_DIR/run"
REPLICA_LOG="$REPLICA_DIR/postgres.log"
REPLICA_PASSFILE="$REPLICA_DIR/pgpass"
REPLICA_ROLE=hokm_replication
REPLICA_SLOT=hokm_replica

replica_read_url() { pg_role_url "$PG_USER" "$REPLICA_PORT"; }
replica_reader_url() { pg_role_url hokm_reader "$REPLICA_PORT"; }

replica_running() {
  [[ -f "$REPLICA_DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$REPLICA_DATA" >/dev/null 2>&1
}

# True once the standby answers a read-only query as a standby.
replica_in_recovery() {
  [[ $(as_pg "$PG_BIN/psql" -X -qAt -h "$REPLICA_SOCK" -p "$REPLICA_PORT" -U postgres -d postgres \
    -c 'SELECT pg_is_in_recovery()' 2>/dev/null) == t ]]
}

# The replication login, the slot's WAL bound and a pg_hba line for
# replication from 127.0.0.1, on the (running) primary.
replica_prepare_primary() {
  local password
  password=$(new_password "$LOCAL/pg-password-$REPLICA_ROLE")
  mkdir -p "$REPLICA_DIR"
  (umask 077 && printf '127.0.0.1:%s:replication:%s:%s\n' "$PG_PORT" "$REPLICA_ROLE" "$password" \
    >"$REPLICA_PASSFILE")
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$REPLICA_DIR"; fi
  chmod 0700 "$REPLICA_DIR"
  pg_super -v pw="$password" >/dev/null <<'EOF'
SELECT 'CREATE ROLE hokm_replication LOGIN REPLICATION'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hokm_replication') \gexec
SELECT format('ALTER ROLE hokm_replication LOGIN REPLICATION PASSWORD %L', :'pw') \gexec
ALTER SYSTEM SET max_slot_wal_keep_size = '2GB';
SELECT pg_reload_conf();
EOF
  local hba
  hba=$(pg_super -At -c "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host'
      AND 'replication' = ANY(database) AND address = '127.0.0.1' AND error IS NULL")
  if [[ $hba == 0 ]]; then
    echo "host replication $REPLICA_ROLE 127.0.0.1/32 scram-sha-256" |
      as_pg tee -a "$PG_DATA/pg_hba.conf" >/dev/null
    pg_super -c 'SELECT pg_reload_conf()' >/dev/null
  fi
}

# Why the replica in REPLICA_DATA cannot follow the primary ("" when it
# can): another primary's copy, or its slot gone or lost.
replica_stale_reason() {
  local primary_id replica_id slot
  primary_id=$(pg_super -At -c 'SELECT system_identifier FROM pg_control_system()')
  replica_id=$(as_pg "$PG_BIN/pg_controldata" -D "$REPLICA_DATA" 2>/dev/null |
    sed -n 's/^Database system identifier: *//p')
  if [[ "$primary_id" != "$replica_id" ]]; then
    echo "it was copied from another primary (system identifier ${replica_id:-unknown}, the primary's $primary_id)"
    return
  fi
  slot=$(pg_super -At -c "SELECT coalesce(wal_status, 'none') FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'")
  if [[ -z "$slot" ]]; then
    echo "the primary has no slot $REPLICA_SLOT"
  elif [[ "$slot" == lost ]]; then
    echo "its slot $REPLICA_SLOT lost WAL it needs (more than max_slot_wal_keep_size behind)"
  fi
}

replica_base_backup() {
  echo "services: pg_basebackup into $REPLICA_DATA (slot $REPLICA_SLOT)"
  pg_super -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE slot_name = '$REPLICA_SLOT' AND NOT active" >/dev/null
  as_pg rm -rf "$REPLICA_DATA"
  # -R: standby.signal and primary_conninfo (naming our passfile) in
  # postgresql.auto.conf; -C -S: the slot, made with the backup, so no WAL
  # is lost between the backup and the first streaming.
  as_pg env PGPASSFILE="$REPLICA_PASSFILE" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" \
    -U "$REPLICA_ROLE" -D "$REPLICA_DATA" -R -X stream -C -S "$REPLICA_SLOT" \
    --checkpoint=fast >"$REPLICA_DIR/basebackup.log" 2>&1 ||
    { log_tail "$REPLICA_DIR/basebackup.log"; die "pg_basebackup from 127.0.0.1:$PG_PORT failed"; }
}

# The copied hokm.conf holds the primary's port and socket: ours replaces it.
# max_connections stays the primary's (a standby needs at least as many).
replica_write_conf() {
  as_pg mkdir -p "$REPLICA_SOCK"
  as_pg chmod 0700 "$REPLICA_SOCK"
  as_pg tee "$REPLICA_DATA/hokm.conf" >/dev/null <<EOF
# hokm.conf of the read replica: written by scripts/pg_replica.sh on every
# start-pg-replica; edit the script.
listen_addresses = '127.0.0.1'
port = $REPLICA_PORT
unix_socket_directories = '$REPLICA_SOCK'
max_connections = 50
shared_buffers = 64MB
work_mem = 16MB
hot_standby = on
# The standby tells the primary which rows its queries still see, so a
# long analytics query is not cancelled by the primary's vacuum.
hot_standby_feedback = on
log_min_messages = warning
log_min_error_statement = error
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

replica_start() {
  [[ "$REPLICA_PORT" != "$PG_PORT" ]] ||
    die "HOKM_PG_REPLICA_PORT ($REPLICA_PORT) is the primary's port: give the replica another"
  pg_start
  if replica_running; then
    local running_port
    running_port=$(sed -n 4p "$REPLICA_DATA/postmaster.pid" 2>/dev/null)
    [[ "$running_port" == "$REPLICA_PORT" ]] ||
      die "the replica in $REPLICA_DATA runs on port ${running_port:-?}, not $REPLICA_PORT: stop-pg-replica first, or set HOKM_PG_REPLICA_PORT=${running_port:-?}"
    wait_until "$START_TIMEOUT_S" "the replica on 127.0.0.1:$REPLICA_PORT answering as a standby" \
      replica_in_recovery || { log_tail "$REPLICA_LOG"; die "the replica runs but does not answer"; }
    replica_print_urls
    return 0
  fi
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$REPLICA_PORT" -d postgres; then
    die "something else answers on 127.0.0.1:$REPLICA_PORT; stop it or set HOKM_PG_REPLICA_PORT"
  fi
  replica_prepare_primary || { log_tail "$PG_LOG"; die "preparing the primary for replication failed"; }
  local stale=""
  if [[ -f "$REPLICA_DATA/PG_VERSION" ]]; then
    stale=$(replica_stale_reason)
    [[ -n "$stale" ]] && echo "services: the replica in $REPLICA_DATA is made again: $stale"
  fi
  if [[ ! -f "$REPLICA_DATA/PG_VERSION" || -n "$stale" ]]; then replica_base_backup; fi
  replica_write_conf
  [[ $(id -u) -eq 0 ]] && { touch "$REPLICA_LOG"; chown postgres: "$REPLICA_LOG"; }
  as_pg "$PG_BIN/pg_ctl" start -D "$REPLICA_DATA" -l "$REPLICA_LOG" -w -t "$START_TIMEOUT_S" >/dev/null ||
    { log_tail "$REPLICA_LOG"; die "pg_ctl start of the replica failed; see $REPLICA_LOG"; }
  wait_until "$START_TIMEOUT_S" "the replica on 127.0.0.1:$REPLICA_PORT answering as a standby" \
    replica_in_recovery || { log_tail "$REPLICA_LOG"; die "the replica did not come up; see $REPLICA_LOG"; }
  replica_print_urls
}

replica_print_urls() {
  echo "HOKM_PG_READ_URL=$(replica_read_url)"
  echo "HOKM_PG_REPLICA_READER_URL=$(replica_reader_url)"
}

# Stops the standby; its data and the primary's slot stay, so the next
# start-pg-replica catches up instead of copying everything again.
replica_stop() {
  if ! replica_running; then
    echo "services: pg replica not running"
    return 0
  fi
  as_pg "$PG_BIN/pg_ctl" stop -D "$REPLICA_DATA" -m fast -w -t 60 >/dev/null ||
    { log_tail "$REPLICA_LOG"; die "pg_ctl stop of the replica failed"; }
  echo "services: pg replica stopped"
}
