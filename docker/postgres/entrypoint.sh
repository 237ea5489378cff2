#!/bin/bash
# hokm-postgres: the PostgreSQL container's entrypoint (docker/postgres/Dockerfile).
#
# First start (no $PGDATA/PG_VERSION): initdb, then the owner role and
# database: $HOKM_PG_USER (hokm) owning $HOKM_PG_DB (hokm), password
# $HOKM_PG_PASSWORD (required; it runs the migrations), and the logins of
# schemas/postgres/006_roles.sql's roles: hokm_writer (the sidecar; password
# $HOKM_PG_WRITER_PASSWORD, required) and hokm_reader (analytics; password
# $HOKM_PG_READER_PASSWORD, or no login when unset). The migration grants
# them what they need once it runs (the compose file's `migrate`). No
# password is ever printed. Every start: the
# settings of scripts/services.sh's hokm.conf, listening on every address of
# the container, password (scram-sha-256) logins from the network, then
# exec postgres in the foreground (signals go to it; SIGTERM: smart shutdown).
set -euo pipefail

: "${HOKM_PG_PASSWORD:?set HOKM_PG_PASSWORD (the password of the hokm role)}"
: "${HOKM_PG_WRITER_PASSWORD:?set HOKM_PG_WRITER_PASSWORD (the password of the hokm_writer login)}"
user=${HOKM_PG_USER:-hokm}
db=${HOKM_PG_DB:-hokm}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  echo "hokm-postgres: initdb $PGDATA"
  initdb -D "$PGDATA" -U postgres -E UTF8 --no-locale \
    --auth-local=peer --auth-host=scram-sha-256 >/tmp/initdb.log 2>&1 ||
    { cat /tmp/initdb.log >&2; exit 1; }
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "include_if_exists = 'hokm.conf'" >>"$PGDATA/postgresql.conf"
  # A server on the socket only, to create the role and the database.
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -U postgres -d postgres -v user="$user" -v db="$db" \
    -v pw="$HOKM_PG_PASSWORD" -v wpw="$HOKM_PG_WRITER_PASSWORD" \
    -v rpw="${HOKM_PG_READER_PASSWORD:-}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user') \gexec
SELECT format('CREATE ROLE hokm_writer LOGIN PASSWORD %L', :'wpw') \gexec
SELECT CASE WHEN :'rpw' = '' THEN 'CREATE ROLE hokm_reader NOLOGIN'
            ELSE format('CREATE ROLE hokm_reader LOGIN PASSWORD %L', :'rpw') END \gexec
SQL
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  echo "hokm-postgres: role $user, database $db, logins hokm_writer and hokm_reader created"
fi

# Rewritten on every start so the settings follow this file (as services.sh
# does): see there for synchronous_commit=off.
cat >"$PGDATA/hokm.conf" <<CONF
# hokm.conf: written by hokm-postgres on every start; edit docker/postgres/entrypoint.sh.
listen_addresses = '*'
port = 5432
max_connections = 50
shared_buffers = 128MB
work_mem = 16MB
fsync = on
synchronous_commit = off
wal_writer_delay = 200ms
max_wal_size = 4GB
log_min_messages = warning
log_min_error_statement = error
log_line_prefix = '%m [%p] %q%u@%d '
CONF
exec postgres -D "$PGDATA" "$@"
