#!/usr/bin/env bash
# no_password_test.sh ROOT BIN_DIR: `make run`'s path (scripts/with_services.sh
# scripts/run_pipeline.sh, the URLs from scripts/services.sh) run briefly,
# every line printed and every log written captured: the local PostgreSQL
# password appears in none of them. Fails (never skips) without the local
# servers of `make services`.
set -euo pipefail
ROOT=$1
BIN=$2
pwfile=$ROOT/.local/pg-password
[[ -s $pwfile ]] || { echo "FAIL: no $pwfile: run make services (scripts/services.sh start)"; exit 1; }
password=$(cat "$pwfile")
# A password this long cannot turn up by chance.
[[ ${#password} -ge 16 ]] || { echo "FAIL: the password in $pwfile is too short to grep for"; exit 1; }
work=$(mktemp -d)
export HOKM_SHM_NAME=hokm-nopw-$$ HOKM_BIN=$BIN
trap 'rm -rf "$work" "/dev/shm/$HOKM_SHM_NAME"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export HOKM_ENGINE_METRICS_PORT=$(free_port) HOKM_SIDECAR_METRICS_PORT=$(free_port)
# The URLs come from services.sh, as in `make run`, not from the caller.
unset HOKM_REDIS_URL HOKM_PG_URL REDIS_URL DATABASE_URL
rm -rf "$ROOT/.local/run"
rc=0
"$ROOT/scripts/with_services.sh" "$ROOT/scripts/run_pipeline.sh" --games 4 --total-games 8 \
  >"$work/run.out" 2>&1 || rc=$?
"$ROOT/scripts/services.sh" status >"$work/status.out" 2>&1 || true
"$ROOT/scripts/services.sh" env >"$work/env.out" 2>&1 || true
# Exit 0: loadgen --verify found every record in both stores.
if [[ $rc -ne 0 ]]; then
  echo "FAIL: run_pipeline.sh exited $rc:"
  tail -n 40 "$work/run.out"
  exit 1
fi
logs=("$work" "$ROOT/.local/run" "$ROOT/.local/redis" "$ROOT/.local/pg/postgres.log")
found=$(grep -rlF -- "$password" "${logs[@]}" 2>/dev/null || true)
if [[ -n $found ]]; then
  echo "FAIL: the PostgreSQL password appears in:"
  echo "$found"
  exit 1
fi
# The check can see a password: the file that must hold it does.
grep -qF -- "$password" "$pwfile"
echo "ok: no password in $(cat "$work"/*.out | wc -l) lines of output nor in the logs of ${logs[*]:1}"
