#!/usr/bin/env bash
# check_layers.sh [SOURCE_DIR]: the dependency rules of the source tree
# (docs/DESIGN.md, README "Layout"), checked from the #include lines:
#   shm/      includes nothing of core/, service/, engine/, sidecar/, loadgen/
#   core/     includes nothing of service/, engine/, sidecar/, loadgen/, and
#             no Boost.Beast/Asio, hiredis or libpqxx (hokm::core stays
#             installable without them)
#   service/  includes nothing of core/, engine/, sidecar/, loadgen/
#   sidecar/  includes nothing of loadgen/ or engine/
# Prints each offending line and exits 1 if there is one.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

status=0
forbid() {  # forbid FOLDER REGEX WHY
  local hits
  hits=$(grep -rnE --include='*.h' --include='*.cc' "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$1" || true)
  if [[ -n "$hits" ]]; then
    echo "check_layers: $1/ must not include $3:" >&2
    echo "$hits" >&2
    status=1
  fi
}

forbid shm 'core/|service/|engine/|sidecar/|loadgen/' "the game or the processes (shm/ is mechanism only)"
forbid core 'service/|engine/|sidecar/|loadgen/' "process plumbing or the processes"
forbid core 'boost/beast|boost/asio|hiredis|pqxx|libpq' "Boost.Beast/Asio, hiredis or libpqxx"
forbid service 'core/|engine/|sidecar/|loadgen/' "the game or the processes"
forbid sidecar 'loadgen/|engine/' "another process's code"

if [[ $status -eq 0 ]]; then echo "check_layers: every include points down the layers"; fi
exit $status
