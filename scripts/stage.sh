#!/usr/bin/env bash
# stage.sh NAME CMD...: runs CMD as one stage of `make test` and says how
# long it took ("make test: NAME ok in 93 s" on stderr, appended to
# $HOKM_STAGE_LOG when set), so a slow CI run shows which stage to look at.
# The exit status is CMD's.
set -uo pipefail
name=$1
shift
start=$(date +%s)
"$@"
status=$?
line="make test: $name $([[ $status == 0 ]] && echo ok || echo "FAILED ($status)") in $(($(date +%s) - start)) s"
echo "$line" >&2
[[ -n "${HOKM_STAGE_LOG:-}" ]] && echo "$line" >>"$HOKM_STAGE_LOG"
exit "$status"
