#!/usr/bin/env bash
# services.sh start|stop|status|env (and start-/stop-redis, start-/stop-postgres,
# start-/stop-pgbouncer, start-/stop-pg-replica, start-/stop-redis-cluster): the
# project-local redis-server and PostgreSQL 15 the sidecar and the integration tests talk to, and on demand a pgBouncer in
# transaction pooling mode in front of that PostgreSQL.
#
# Both listen on 127.0.0.1 only and keep their data under .local/ in the repo
# (git-ignored). `start` is idempotent: when both already run it only prints
# their URLs. Ports: HOKM_REDIS_PORT (6390), HOKM_PG_PORT (5440); the
# PostgreSQL binaries: HOKM_PG_BIN (/usr/lib/postgresql/15/bin); how long to
# wait for either to answer: HOKM_SERVICES_TIMEOUT_S (60).
#
#   .local/redis/            redis.pid, redis.log (no persistence: --save '')
#   .local/pg/data/          the cluster (initdb); hokm.conf holds our settings
#   .local/pg/run/           unix socket (the superuser connects through it)
#   .local/pg/postgres.log
#   .local/pg-password       the `hokm` role's password (mode 0600); the
#                            schema's owner
#   .local/pg-password-hokm_writer, -hokm_reader: the logins of the roles of
#                            schemas/postgres/006_roles.sql (HOKM_PG_WRITER_URL,
#                            HOKM_PG_READER_URL)
#   .local/pgpass            libpq's password file for it (mode 0600): the URLs
#                            printed name it (?passfile=), so no password is
#                            ever printed
#   .local/pgbouncer/        pgbouncer.ini, userlist.txt (the roles' SCRAM
#                            secrets, no plain password), .pid, .log
#
# pgBouncer: HOKM_PGBOUNCER_PORT (6432), on 127.0.0.1, pool_mode=transaction,
# started by `start-pgbouncer` (after PostgreSQL), which prints its URL as
# HOKM_PG_URL_PGBOUNCER.
#
# A read replica: HOKM_PG_REPLICA_PORT (5450), started by `start-pg-replica`
# (after PostgreSQL; scripts/pg_replica.sh has how), which prints its URLs
# as HOKM_PG_READ_URL and HOKM_PG_REPLICA_READER_URL; `stop` stops it too.
# Redis Cluster: `start-redis-cluster` / `stop-redis-cluster` run
# scripts/redis_cluster.sh (3 masters, 3 replicas on HOKM_REDIS_CLUSTER_PORT
# (7000) .. +5); `stop` stops it too.
#
# When run as root, initdb/pg_ctl/psql run as the `postgres` user, which
# therefore owns .local/pg.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
REDIS_PORT=${HOKM_REDIS_PORT:-6390}
PG_PORT=${HOKM_PG_PORT:-5440}
PG_BIN=${HOKM_PG_BIN:-/usr/lib/postgresql/15/bin}
START_TIMEOUT_S=${HOKM_SERVICES_TIMEOUT_S:-60}

REDIS_DIR="$LOCAL/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
PG_DIR="$LOCAL/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_PASSWORD_FILE="$LOCAL/pg-password"
PG_PASSFILE="$LOCAL/pgpass"
PGB_PORT=${HOKM_PGBOUNCER_PORT:-6432}
PGB_DIR="$LOCAL/pgbouncer"
PGB_BIN=${HOKM_PGBOUNCER_BIN:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}
PG_DB=hokm
PG_USER=hokm

die() {
  echo "services: $*" >&2
  exit 1
}

# Runs a PostgreSQL tool as the cluster's owner: `postgres` when we are root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds or
# the deadline passes (returns 1).
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "services: $what did not happen within ${seconds}s" >&2
      return 1
    fi
    sleep 0.1
  done
}

log_tail() {
  local file=$1
  if [[ -r "$file" ]]; then
    echo "---- last lines of $file ----" >&2
    tail -n 30 "$file" >&2
    echo "----" >&2
  fi
}

redis_url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }
# No password in the URLs: libpq reads it from the passfile they name.
# pg_role_url ROLE [PORT]: ROLE's URL on PostgreSQL, or on PORT (pgBouncer).
pg_role_url() { echo "postgresql://$1@127.0.0.1:${2:-$PG_PORT}/$PG_DB?passfile=$PG_PASSFILE"; }
pg_url() { pg_role_url "$PG_USER"; }
pgb_url() { pg_role_url "$PG_USER" "$PGB_PORT"; }

# pidfile_pid FILE: the pid in FILE when that process runs; fails otherwise.
pidfile_pid() {
  [[ -s "$1" ]] || return 1
  local pid
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# ---- redis ----------------------------------------------------------------

redis_pid() { pidfile_pid "$REDIS_PIDFILE"; }

redis_answers() {
  [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_start() {
  if redis_pid >/dev/null; then
    wait_until "$START_TIMEOUT_S" "redis on 127.0.0.1:$REDIS_PORT answering PING" redis_answers ||
      { log_tail "$REDIS_LOG"; die "redis (pid $(redis_pid)) runs but does not answer"; }
    return 0
  fi
  if redis_answers; then
    die "something else answers on 127.0.0.1:$REDIS_PORT; stop it or set HOKM_REDIS_PORT"
  fi
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PIDFILE"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --save '' --appendonly no --daemonize yes \
    --dir "$REDIS_DIR" --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" ||
    { log_tail "$REDIS_LOG"; die "redis-server failed to start"; }
  wait_until "$START_TIMEOUT_S" "redis on 127.0.0.1:$REDIS_PORT answering PING" redis_answers ||
    { log_tail "$REDIS_LOG"; die "redis did not come up; see $REDIS_LOG"; }
}

redis_stop() {
  local pid
  if ! pid=$(redis_pid); then
    echo "services: redis not running"
    return 0
  fi
  # SHUTDOWN NOSAVE: nothing to persist (--save ''); falls back to SIGTERM.
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  wait_until 30 "redis (pid $pid) exiting" bash -c "! kill -0 $pid" ||
    die "redis (pid $pid) still running; kill it by hand"
  rm -f "$REDIS_PIDFILE"
  echo "services: redis stopped"
}

# ---- postgres --------------------------------------------------------------

pg_running() { [[ -f "$PG_DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

pg_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; }

# Superuser SQL through the unix socket (trust auth, socket dir mode 0700).
pg_super() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres "$@"; }

pg_init() {
  mkdir -p "$PG_DIR"
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (apt-get install postgresql)"
    chown postgres: "$PG_DIR"
  fi
  chmod 0700 "$PG_DIR"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    echo "services: initdb $PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
      { log_tail "$PG_DIR/initdb.log"; die "initdb failed"; }
    echo "include_if_exists = 'hokm.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
  as_pg mkdir -p "$PG_SOCK"
  as_pg chmod 0700 "$PG_SOCK"
  # Rewritten on every start so the port and settings follow this script.
  # synchronous_commit=off: a commit returns before its WAL reaches disk, so
  # a crash of the *machine* (not of postgres) can lose the last ~0.6 s of
  # commits (3 x wal_writer_delay); the data stays consistent (fsync=on).
  # The sidecar tolerates that window: docs/DESIGN.md §6 bounds "machine lost" by the
  # sync lag, and on a test box the fsync per commit would otherwise be the
  # throughput limit.
  as_pg tee "$PG_DATA/hokm.conf" >/dev/null <<EOF
# hokm.conf: written by scripts/services.sh on every start; edit the script.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 50
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 128MB
fsync = on
synchronous_commit = off
wal_writer_delay = 200ms
max_wal_size = 4GB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
log_min_messages = warning
log_min_error_statement = error
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# new_password FILE: the password in FILE, made first (24 random
# alphanumerics, mode 0600) when there is none.
new_password() {
  local file=$1
  if [[ ! -s "$file" ]]; then
    mkdir -p "$LOCAL"
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 >"$file")
  fi
  cat "$file"
}

# The owner `hokm` (migrations, tools), and the logins of the roles of
# schemas/postgres/006_roles.sql: hokm_writer (the sidecar in `make run`),
# hokm_reader (analytics). Their passwords go to libpq's password file
# (host:port:db:user:password; any port: pgBouncer's too), which the URLs
# name.
pg_create_db() {
  local password writer reader
  password=$(new_password "$PG_PASSWORD_FILE")
  writer=$(new_password "$LOCAL/pg-password-hokm_writer")
  reader=$(new_password "$LOCAL/pg-password-hokm_reader")
  (umask 077 && printf '127.0.0.1:*:*:%s:%s\n' "$PG_USER" "$password" hokm_writer "$writer" \
    hokm_reader "$reader" >"$PG_PASSFILE")
  pg_super -v pw="$password" -v wpw="$writer" -v rpw="$reader" <<'EOF'
SELECT format('CREATE ROLE hokm LOGIN PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hokm') \gexec
SELECT format('ALTER ROLE hokm LOGIN PASSWORD %L', :'pw') \gexec
SELECT format('CREATE ROLE %I', r) FROM (VALUES ('hokm_writer'), ('hokm_reader')) v(r)
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
SELECT format('ALTER ROLE hokm_writer LOGIN PASSWORD %L', :'wpw') \gexec
SELECT format('ALTER ROLE hokm_reader LOGIN PASSWORD %L', :'rpw') \gexec
SELECT 'CREATE DATABASE hokm OWNER hokm'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'hokm') \gexec
EOF
  # The grants of 006_roles.sql again, for logins made after it ran.
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$PG_DB" -c \
    "DO \$\$ BEGIN IF to_regproc('public.hokm_grant_roles') IS NOT NULL THEN PERFORM hokm_grant_roles(); END IF; END \$\$"
}

pg_start() {
  if pg_running; then
    wait_until "$START_TIMEOUT_S" "postgres on 127.0.0.1:$PG_PORT accepting connections" pg_answers ||
      { log_tail "$PG_LOG"; die "postgres runs but does not accept connections on 127.0.0.1:$PG_PORT"; }
  else
    if pg_answers; then
      die "something else answers on 127.0.0.1:$PG_PORT; stop it or set HOKM_PG_PORT"
    fi
    pg_init
    [[ $(id -u) -eq 0 ]] && { touch "$PG_LOG"; chown postgres: "$PG_LOG"; }
    as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT_S" >/dev/null ||
      { log_tail "$PG_LOG"; die "pg_ctl start failed; see $PG_LOG"; }
    wait_until "$START_TIMEOUT_S" "postgres on 127.0.0.1:$PG_PORT accepting connections" pg_answers ||
      { log_tail "$PG_LOG"; die "postgres did not come up; see $PG_LOG"; }
  fi
  pg_create_db || { log_tail "$PG_LOG"; die "creating role/database hokm failed"; }
}

pg_stop() {
  if ! pg_running; then
    echo "services: postgres not running"
    return 0
  fi
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null ||
    { log_tail "$PG_LOG"; die "pg_ctl stop failed"; }
  echo "services: postgres stopped"
}

# ---- pgbouncer -------------------------------------------------------------

pgb_pid() { pidfile_pid "$PGB_DIR/pgbouncer.pid"; }

pgb_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGB_PORT" -d "$PG_DB"; }

pgb_start() {
  [[ -x "$PGB_BIN" ]] || die "no pgbouncer ($PGB_BIN): scripts/setup.sh installs it"
  pg_start
  if pgb_pid >/dev/null; then
    wait_until "$START_TIMEOUT_S" "pgbouncer on 127.0.0.1:$PGB_PORT answering" pgb_answers ||
      { log_tail "$PGB_DIR/pgbouncer.log"; die "pgbouncer runs but does not answer"; }
    echo "HOKM_PG_URL_PGBOUNCER=$(pgb_url)"
    return 0
  fi
  if pgb_answers; then
    die "something else answers on 127.0.0.1:$PGB_PORT; stop it or set HOKM_PGBOUNCER_PORT"
  fi
  mkdir -p "$PGB_DIR"
  chmod 0700 "$PGB_DIR"
  # The roles' SCRAM secrets, not their passwords: pgBouncer checks the
  # client's SCRAM login against them and passes it through to the server.
  (umask 077 && pg_super -At -c "SELECT format('\"%s\" \"%s\"', rolname, rolpassword)
      FROM pg_authid WHERE rolcanlogin AND rolpassword LIKE 'SCRAM-SHA-256%'" >"$PGB_DIR/userlist.txt")
  cat >"$PGB_DIR/pgbouncer.ini" <<EOF
; pgbouncer.ini: written by scripts/services.sh on every start-pgbouncer.
[databases]
$PG_DB = host=127.0.0.1 port=$PG_PORT dbname=$PG_DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
pidfile = $PGB_DIR/pgbouncer.pid
logfile = $PGB_DIR/pgbouncer.log
EOF
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$PGB_DIR"; fi
  as_pg "$PGB_BIN" -q -d "$PGB_DIR/pgbouncer.ini" ||
    { log_tail "$PGB_DIR/pgbouncer.log"; die "pgbouncer failed to start"; }
  wait_until "$START_TIMEOUT_S" "pgbouncer on 127.0.0.1:$PGB_PORT answering" pgb_answers ||
    { log_tail "$PGB_DIR/pgbouncer.log"; die "pgbouncer did not come up; see $PGB_DIR/pgbouncer.log"; }
  echo "HOKM_PG_URL_PGBOUNCER=$(pgb_url)"
}

pgb_stop() {
  local pid
  if ! pid=$(pgb_pid); then
    echo "services: pgbouncer not running"
    return 0
  fi
  kill "$pid"
  wait_until 30 "pgbouncer (pid $pid) exiting" bash -c "! kill -0 $pid" ||
    die "pgbouncer (pid $pid) still running; kill it by hand"
  echo "services: pgbouncer stopped"
}

# ---- pg read replica (scripts/pg_replica.sh) ---------------------------------

# shellcheck source=scripts/pg_replica.sh
source "$ROOT/scripts/pg_replica.sh"

# ---- commands ---------------------------------------------------------------

cmd_start() {
  redis_start
  pg_start
  echo "HOKM_REDIS_URL=$(redis_url)"
  echo "HOKM_PG_URL=$(pg_url)"
  echo "HOKM_PG_WRITER_URL=$(pg_role_url hokm_writer)"
  echo "HOKM_PG_READER_URL=$(pg_role_url hokm_reader)"
}

cmd_stop() {
  redis_stop
  "$ROOT/scripts/redis_cluster.sh" stop
  if pgb_pid >/dev/null; then pgb_stop; fi
  if replica_running; then replica_stop; fi
  pg_stop
}

cmd_status() {
  local rc=0 pid
  if pid=$(redis_pid) && redis_answers; then
    echo "redis:    running (pid $pid) at $(redis_url)"
  else
    echo "redis:    not running (port $REDIS_PORT)"
    rc=3
  fi
  if pg_running && pg_answers; then
    echo "postgres: running at postgresql://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB"
  else
    echo "postgres: not running (port $PG_PORT)"
    rc=3
  fi
  return $rc
}

cmd_env() {
  [[ -s "$PG_PASSFILE" ]] || die "no $PG_PASSFILE yet: run '$0 start' first"
  echo "export HOKM_REDIS_URL=$(redis_url)"
  echo "export HOKM_PG_URL=$(pg_url)"
  echo "export HOKM_PG_WRITER_URL=$(pg_role_url hokm_writer)"
  echo "export HOKM_PG_READER_URL=$(pg_role_url hokm_reader)"
}

case "${1:-}" in
  start) cmd_start ;;
  start-redis) redis_start ;;
  start-postgres) pg_start ;;
  stop-redis) redis_stop ;;
  stop-postgres) pg_stop ;;
  start-pgbouncer) pgb_start ;;
  stop-pgbouncer) pgb_stop ;;
  start-pg-replica) replica_start ;;
  stop-pg-replica) replica_stop ;;
  start-redis-cluster) "$ROOT/scripts/redis_cluster.sh" start ;;
  stop-redis-cluster) "$ROOT/scripts/redis_cluster.sh" stop ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 start|stop|status|env|start-redis|stop-redis|start-postgres|stop-postgres|start-pgbouncer|stop-pgbouncer|start-pg-replica|stop-pg-replica|start-redis-cluster|stop-redis-cluster" >&2
    exit 2
    ;;
esac
