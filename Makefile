# hokm: `make run` runs the main job, `make test` the tests; both do all set-up.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
ARGS ?=

.PHONY: all setup configure build test run bench clean

all: build

setup:
	@scripts/setup.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

test: setup build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

run: setup build
	$(BUILD_DIR)/bin/hokm-loadgen --games 100000 --bots greedy $(ARGS)

bench: setup build
	$(BUILD_DIR)/bin/hokm-bench

clean:
	rm -rf $(BUILD_DIR)
