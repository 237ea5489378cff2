# hokm: `make run` runs the main job, `make test` the tests; both do all set-up.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
ARGS ?=
SANITIZERS ?= thread address

.PHONY: all setup configure build test example sanitize run bench bench-smoke services services-stop \
        clean fuzz-build fuzz fuzz-smoke fuzz-corpus

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

# Everything: unit and multi-process tests (servers started unless
# HOKM_REDIS_URL / HOKM_PG_URL are given; the integration tests run under
# AddressSanitizer in make sanitize, to keep CI within 25 minutes), then the short fault
# matrix (chaos-smoke), then every test again under AddressSanitizer +
# UndefinedBehaviorSanitizer and the shm, engine and sidecar tests under
# ThreadSanitizer (make sanitize), then every fuzz target for a few
# seconds, then the benchmark smoke. Right after ctest: the embedding
# example built against a fresh install of the package (make example).
# Each stage says how long it took (scripts/stage.sh); the list is printed
# again at the end ($(BUILD_DIR)/test-stages.txt).
STAGE = HOKM_STAGE_LOG=$(CURDIR)/$(BUILD_DIR)/test-stages.txt scripts/stage.sh
test: setup
	@mkdir -p $(BUILD_DIR) && rm -f $(BUILD_DIR)/test-stages.txt
	$(STAGE) build $(MAKE) --no-print-directory build
	$(STAGE) format-check $(MAKE) --no-print-directory format-check
	$(STAGE) ctest scripts/with_services.sh sh -c 'cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -LE integration'
	$(STAGE) example $(MAKE) --no-print-directory example
	$(STAGE) chaos-smoke $(MAKE) --no-print-directory chaos-smoke
	$(STAGE) sanitize $(MAKE) --no-print-directory sanitize
	$(STAGE) fuzz-smoke $(MAKE) --no-print-directory fuzz-smoke
	$(STAGE) bench-smoke $(MAKE) --no-print-directory bench-smoke
	@cat $(BUILD_DIR)/test-stages.txt

# examples/embed, a separate CMake project, built against a fresh
# `cmake --install` of this build in $(BUILD_DIR)/install-test (find_package(hokm))
# and run: it plays one game with four bots; its records (JSON lines) go to
# $(BUILD_DIR)/example/records.jsonl, its summary and the last two here.
EXAMPLE_PREFIX = $(CURDIR)/$(BUILD_DIR)/install-test
EXAMPLE_BUILD_DIR = $(BUILD_DIR)/example
example: build
	rm -rf $(EXAMPLE_PREFIX) $(EXAMPLE_BUILD_DIR)
	cmake --install $(BUILD_DIR) --prefix $(EXAMPLE_PREFIX) >/dev/null
	cmake -S examples/embed -B $(EXAMPLE_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH=$(EXAMPLE_PREFIX) >/dev/null
	cmake --build $(EXAMPLE_BUILD_DIR)
	$(EXAMPLE_BUILD_DIR)/hokm-embed >$(EXAMPLE_BUILD_DIR)/records.jsonl
	@tail -n 2 $(EXAMPLE_BUILD_DIR)/records.jsonl

# The tests again under the sanitizers (scripts/sanitize.sh): the shared-
# memory, engine and sidecar tests (labels shm, core, fault, sidecar) under
# ThreadSanitizer in build-tsan/, then the whole ctest suite under
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (servers
# started as for `make test`). A finding in any process, a test or a binary
# it starts, fails the target. SANITIZERS=address runs one of the two.
sanitize: setup
	scripts/sanitize.sh $(SANITIZERS)

# The fault matrix under load (scripts/chaos.py): the sidecar SIGKILLed 20
# times, the engine SIGKILLed and restarted, Redis paused 30 s, restarted
# with its data and restarted empty, PostgreSQL stopped 60 s; after each,
# every game checked in both stores. One line per fault. It stops and
# restarts the project-local servers, so it never uses HOKM_REDIS_URL /
# HOKM_PG_URL. chaos-smoke: the same with fewer kills and short outages.
.PHONY: chaos chaos-smoke
chaos: setup build
	HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/chaos.py

chaos-smoke: setup build
	CHAOS_SHORT=1 HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/chaos.py

# libFuzzer targets (fuzz/README.md), built with clang in $(FUZZ_BUILD_DIR).
# make fuzz: each target for FUZZ_SECONDS over a scratch copy of its seeds
# (kept in $(FUZZ_BUILD_DIR)/corpus/); one summary line per target.
# make fuzz-smoke (part of make test): each for FUZZ_SMOKE_SECONDS.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_TARGETS ?= fuzz_record fuzz_change_batch fuzz_ring_reader fuzz_command_request \
                fuzz_spill_segment fuzz_redis_url fuzz_pg_url
fuzz-build: setup
	@command -v clang++ >/dev/null || { echo "fuzz: clang++ not found; make setup installs clang and libclang-rt-dev (libFuzzer)" >&2; exit 1; }
	@cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DHOKM_FUZZ=ON -DHOKM_BUILD_TESTS=OFF -DHOKM_BUILD_BENCH=OFF -DHOKM_BUILD_LOADGEN=OFF >/dev/null
	cmake --build $(FUZZ_BUILD_DIR) --target hokm-fuzzers

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh --smoke $(FUZZ_BUILD_DIR) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Rewrites the seed corpus in fuzz/corpus/ from the generator (commit the result).
fuzz-corpus: fuzz-build
	$(FUZZ_BUILD_DIR)/fuzz/hokm-fuzz-corpus fuzz/corpus

# The main job: local servers (unless HOKM_REDIS_URL / HOKM_PG_URL are set),
# hokm-engine + hokm-sidecar + hokm-loadgen --verify for about a minute, then
# a clean shutdown. ARGS are appended to hokm-loadgen's (the last one wins).
RUN_ARGS ?= --games 10000 --duration 60 --ramp-s 15 --bots greedy --rate 50000 --threads 1
run: setup build
	HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh scripts/run_pipeline.sh $(RUN_ARGS) $(ARGS)

# Two engine hosts into one set of stores (scripts/run_two_hosts.sh): two
# hokm-engine processes on two segments with node ids 1 and 2, a sidecar
# each, into one local Redis Cluster (scripts/redis_cluster.sh, 3 masters and
# 3 replicas) and the local PostgreSQL; a hokm-loadgen --verify per host, at
# once; then each node's figures and analytics.node_summary.
TWO_HOSTS_ARGS ?= --games 2000 --duration 20 --rate 20000 --bots greedy
.PHONY: run-two-hosts
run-two-hosts: setup build
	HOKM_BIN=$(CURDIR)/$(BUILD_DIR)/bin scripts/with_services.sh sh -c \
	  'eval "$$(scripts/redis_cluster.sh start | grep "^HOKM_REDIS_CLUSTER_URL=")" && \
	   HOKM_REDIS_URL="$$HOKM_REDIS_CLUSTER_URL" scripts/run_two_hosts.sh $(TWO_HOSTS_ARGS) $(ARGS)'

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

# The compose stack of docker/ for real, with Podman (no Docker engine or
# registry needed): installs podman, runc, debootstrap and docker-compose,
# makes the debian:bookworm base image with debootstrap when missing, builds
# the images, brings the stack up (docker-compose against `podman system
# service`), runs a short hokm-loadgen --verify in it, checks that Prometheus
# scrapes both services and that the Grafana dashboard matches the live
# metrics, and tears it all down (scripts/docker_test.sh). Not part of
# `make test`: see README, Deployment, for its time.
.PHONY: docker-test
docker-test:
	scripts/docker_test.sh

# The checked-in .clang-format (Google, 100 columns) over every tracked
# *.h / *.cc (scripts/format.sh). format-check lists the files that differ
# and fails if any does; format rewrites them in place.
.PHONY: format format-check
format: setup
	scripts/format.sh fix

format-check: setup
	scripts/format.sh check

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan $(FUZZ_BUILD_DIR)
