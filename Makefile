# hokm: `make run` runs the main job, `make test` the tests; both do all set-up.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
ARGS ?=
SANITIZERS ?= thread address

.PHONY: all setup configure build test sanitize run bench bench-smoke services services-stop clean

all: build

setup:
	@scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

# Local redis-server + PostgreSQL on 127.0.0.1 (data in .local/).
services: setup
	@scripts/services.sh start

services-stop:
	@scripts/services.sh stop

# Everything: unit, multi-process and integration tests (servers started
# unless HOKM_REDIS_URL / HOKM_PG_URL are given), then every test again
# under AddressSanitizer + UndefinedBehaviorSanitizer and the shm, engine
# and sidecar tests under ThreadSanitizer (make sanitize), then the
# benchmark smoke.
test: setup build
	scripts/with_services.sh sh -c 'cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600'
	$(MAKE) --no-print-directory sanitize
	$(MAKE) --no-print-directory bench-smoke

# The tests again under the sanitizers (scripts/sanitize.sh): the shared-
# memory, engine and sidecar tests (labels shm, core, fault, sidecar) under
# ThreadSanitizer in build-tsan/, then the whole ctest suite under
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (servers
# started as for `make test`). A finding in any process, a test or a binary
# it starts, fails the target. SANITIZERS=address runs one of the two.
sanitize: setup
	scripts/sanitize.sh $(SANITIZERS)

# The main job: local servers (unless HOKM_REDIS_URL / HOKM_PG_URL are set),
# hokm-engine + hokm-sidecar + hokm-loadgen --verify for about a minute, then
# a clean shutdown. ARGS are appended to hokm-loadgen's (the last one wins).
RUN_ARGS ?= --games 10000 --duration 60 --ramp-s 15 --bots greedy --rate 50000 --threads 1
run: setup build
	HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/run_pipeline.sh $(RUN_ARGS) $(ARGS)

# hokm-bench (JSON in bench/results/), then ours vs the Redis-centred
# baseline on the same servers, back to back, with the ratio.
BENCH_SECONDS ?= 30
bench: setup build
	mkdir -p bench/results
	$(BUILD_DIR)/bin/hokm-bench --benchmark_out=bench/results/hokm-bench.json \
	  --benchmark_out_format=json $(ARGS)
	HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/bench_compare.sh $(BENCH_SECONDS)

# What CI runs after the tests: every benchmark briefly, and both loadgen
# runs for a few seconds, so the benchmarks keep building and running.
bench-smoke: setup build
	$(BUILD_DIR)/bin/hokm-bench --benchmark_min_time=0.01 >/dev/null
	HOKM_BENCH_GAMES=500 HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/bench_compare.sh 3

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan
