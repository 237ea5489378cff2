#!/usr/bin/env bash
# sanitize.sh [thread] [address]: the test suite again under the sanitizers
# (make sanitize; both, in this order, when no argument is given).
#
#   address  AddressSanitizer + UndefinedBehaviorSanitizer (HOKM_SANITIZE=
#            address,undefined) in build-asan/: the whole ctest suite, with
#            the servers of scripts/with_services.sh, as `make test` runs it.
#   thread   ThreadSanitizer in build-tsan/: the shared-memory, engine
#            (core, fault) and sidecar tests (labels shm, core, fault,
#            sidecar, without the single-threaded rules property tests);
#            only their test targets are built.
#
# Every process writes its reports to build-<tree>/sanitizer-reports/
# (log_path): not only the test binaries but the hokm-engine, hokm-sidecar
# and hokm-loadgen they start, so a finding in a child whose exit status no
# test looks at still fails the run; the reports are printed at the end. A
# finding ends its process (abort_on_error, halt_on_error,
# -fno-sanitize-recover), so the test that reached it fails too. One
# exception: GCC's UBSan inside an ASan build ignores log_path, so its
# reports go to the process's stderr (the test's output, or the log a test
# gives a child) and the process exits 1.
#
# HOKM_SANITIZE_JOBS (2): ctest -j; the integration tests are RUN_SERIAL
# and run alone whatever it is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${HOKM_SANITIZE_JOBS:-2}
SUPP="$ROOT/scripts/sanitizers"

# configure DIR SANITIZERS: RelWithDebInfo at -O1 -g1, no benchmarks. -O1
# with line tables (all a sanitizer's stack trace needs) compiles in about
# half the CPU time of the default -O2 -g, which keeps `make test` within
# CI's budget; a report still names file and line.
configure() {
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DHOKM_SANITIZE="$2" \
    -DHOKM_BUILD_BENCH=OFF >/dev/null
}

# run_ctest REPORTS CMD...: runs CMD (ctest) with REPORTS emptied first;
# fails when CMD fails or any process wrote a report there, printing them.
run_ctest() {
  local reports=$1
  shift
  rm -rf "$reports"
  mkdir -p "$reports"
  local status=0
  "$@" || status=$?
  local found=("$reports"/*)
  if [[ -e "${found[0]}" ]]; then
    for f in "${found[@]}"; do
      echo "==== sanitizer report $f" >&2
      cat "$f" >&2
    done
    echo "sanitize: ${#found[@]} sanitizer report(s) in $reports (above)" >&2
    status=1
  fi
  return "$status"
}

# The 100,000 random games of the rules property test (about 2 minutes
# under ASan): the release tree runs them, the 5,000 games of every variant
# run here, and the command-request fuzzer runs the rules under UBSan.
ASAN_SKIP='^RulesPropertyTest\.HundredThousand'

address() {
  echo "== HOKM_SANITIZE=address,undefined (build-asan): every test but the 100,000-game property test"
  local reports="$ROOT/build-asan/sanitizer-reports"
  configure build-asan address,undefined
  cmake --build build-asan
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_exe_name=1:log_path=$reports/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0" \
    run_ctest "$reports" scripts/with_services.sh \
    ctest --test-dir build-asan --output-on-failure --timeout 900 -j "$JOBS" -E "$ASAN_SKIP"
}

# The rules property tests play 100,000 games on one thread: nothing for
# ThreadSanitizer to see, and over five minutes under it (they run under
# ASan+UBSan, where UB in the rules would show).
TSAN_SKIP='^RulesPropertyTest\.'

thread() {
  echo "== HOKM_SANITIZE=thread (build-tsan): labels shm, core, fault, sidecar"
  local reports="$ROOT/build-tsan/sanitizer-reports"
  configure build-tsan thread
  cmake --build build-tsan --target hokm-shm-tests hokm-core-tests hokm-fault-tests hokm-sidecar-tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$SUPP/tsan.supp log_exe_name=1 log_path=$reports/tsan" \
    run_ctest "$reports" \
    ctest --test-dir build-tsan --output-on-failure --timeout 900 -j "$JOBS" -L '^(shm|core|fault|sidecar)$' \
    -E "$TSAN_SKIP"
}

(($# > 0)) || set -- thread address
for san in "$@"; do
  case "$san" in
    address | thread) "$san" ;;
    *) echo "sanitize: unknown '$san' (address or thread)" >&2; exit 2 ;;
  esac
done
