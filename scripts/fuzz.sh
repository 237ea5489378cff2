#!/usr/bin/env bash
# fuzz.sh: runs libFuzzer targets built by `make fuzz-build`, each for a
# given time over a scratch copy of its seed corpus, and prints one summary
# line per target. Exits non-zero if any target crashed (or did not run).
#
#   scripts/fuzz.sh [--smoke] BUILD_DIR SECONDS TARGET...
#
# Scratch corpus: BUILD_DIR/corpus/<target> (kept between runs, so long runs
# build on each other; the committed fuzz/corpus is never written) or, with
# --smoke, a fresh BUILD_DIR/smoke/<target>. Crashing inputs land in
# BUILD_DIR/artifacts/<target>/, logs in BUILD_DIR/logs/<target>.log.
set -uo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
smoke=0
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then usage; exit 0; fi
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; shift; fi
if (($# < 3)); then usage >&2; exit 2; fi
build=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer, not '$seconds'" >&2; exit 2; }

failed=0
for target in "$@"; do
  bin=$build/fuzz/$target
  if [[ ! -x "$bin" ]]; then
    echo "fuzz.sh: $bin is missing; run make fuzz-build" >&2
    failed=1
    continue
  fi
  if ((smoke)); then
    corpus=$build/smoke/$target
    rm -rf "$corpus"
  else
    corpus=$build/corpus/$target
  fi
  artifacts=$build/artifacts/$target
  log=$build/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n "$root/fuzz/corpus/$target/"* "$corpus/" 2>/dev/null
  before=$(ls "$artifacts" | wc -l)
  dict=()
  [[ -f "$root/fuzz/$target.dict" ]] && dict=(-dict="$root/fuzz/$target.dict")
  # The smoke (in make test) mutates in the same order every time, so a run
  # that passed passes again; long runs take a fresh seed each.
  ((smoke)) && dict+=(-seed=1)
  start=$(date +%s)
  # The outer timeout only guards against a hang libFuzzer's own -timeout
  # (per input) does not catch.
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    timeout --kill-after=10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" \
    >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  crashes=$(($(ls "$artifacts" | wc -l) - before))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-22s %10s execs %7s exec/s %5ss  cov %-5s ft %-6s corpus %-5s crashes %s\n' \
    "$target" "${execs:-?}" "${rate:-?}" "$elapsed" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  if ((rc != 0 || crashes != 0)); then
    failed=1
    echo "  $target failed (exit $rc); log: $log; inputs: $artifacts/" >&2
    grep -m3 -E 'ERROR|runtime error|invariant broken' "$log" | sed 's/^/  /' >&2
  fi
done
exit $failed
