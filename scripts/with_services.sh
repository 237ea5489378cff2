#!/usr/bin/env bash
# with_services.sh CMD...: runs CMD with HOKM_REDIS_URL / HOKM_PG_URL set.
# When both are already set, uses those servers; otherwise starts the
# project-local ones (scripts/services.sh), points the URLs at them (and
# HOKM_PG_WRITER_URL / HOKM_PG_READER_URL at the least-privilege logins;
# no URL holds a password: they name libpq's passfile) and sets
# HOKM_SERVICES_LOCAL=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ -z "${HOKM_REDIS_URL:-}" || -z "${HOKM_PG_URL:-}" ]]; then
  "$here/services.sh" start >&2
  eval "$("$here/services.sh" env)"
  # The servers are the project's own (.local/): scripts may clear them.
  export HOKM_SERVICES_LOCAL=1
fi
exec "$@"
