# Thin wrapper over CMake/ctest/pytest for the README's commands.
#   make          build ./build/rotor
#   make check    install missing packages, build, unit tests (plain and
#                 ASan+UBSan), fuzz smoke runs, integration tests against
#                 the ASan+UBSan build (plus one valgrind scenario on the
#                 plain build), then against the plain build
#   make demo     run the gateway on the embedded simulated pool
#   make bench    performance comparison (not part of check)
#   make fuzz     run every fuzz target for FUZZ_SECONDS each
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
PYTEST_ARGS ?=

# The sanitized gateway under the integration suite: any report fails the
# test that started it (tests/integration/conftest.py). A small quarantine
# keeps ASan's RSS near the plain build's, so memory-bound tests still mean
# something.
SAN_ENV    ?= ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:abort_on_error=0 \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ROTOR_SANITIZED=1


.PHONY: bench-healing
.PHONY: all build deps check unit unit-asan integration integration-asan valgrind demo bench fuzz fuzz-smoke docs clean

all: build

deps:
	@bash scripts/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROTOR_SANITIZE=OFF -DROTOR_FUZZ=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROTOR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

fuzz-smoke: deps
	@bash scripts/fuzz.sh $(FUZZ_BUILD) 20

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

integration: build
	ROTOR_BIN=$(abspath $(BUILD))/rotor $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

# The whole suite against build-asan/rotor (built by unit-asan), plus the
# valgrind scenario against the plain build.
integration-asan: build
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROTOR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(SAN_ENV) ROTOR_BIN=$(abspath $(ASAN_BUILD))/rotor ROTOR_VALGRIND_BIN=$(abspath $(BUILD))/rotor \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

check:
	@bash scripts/install-deps.sh check
	$(MAKE) unit unit-asan fuzz-smoke integration-asan
	$(MAKE) integration PYTEST_ARGS="$(PYTEST_ARGS) --deselect tests/integration/test_valgrind.py::test_memcheck_clean_scenario"

demo: build
	@bash scripts/demo.sh $(abspath $(BUILD))/rotor

bench:
	@bash scripts/install-deps.sh bench
	$(MAKE) build
	@bash bench/run.sh $(abspath $(BUILD))/rotor

bench-healing: build
	@bash bench/healing.sh $(abspath $(BUILD))/rotor

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
