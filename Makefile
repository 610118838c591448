# Gatehouse — the two commands: `make run` and `make test`.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
CMAKE_FLAGS ?=

.PHONY: run test deps build build-asan unit integration fuzz bench format lint clean

run: deps build
	mkdir -p data
	./$(BUILD)/cli/gatehouse serve --dev --listen $${GATEHOUSE_LISTEN:-127.0.0.1:8080} --data-dir $${GATEHOUSE_DATA_DIR:-./data}

test: deps
	./scripts/test.sh

deps:
	./scripts/deps.sh

build:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

fuzz: deps
	./scripts/fuzz.sh $${FUZZ_SECONDS:-60}

bench: deps build
	./bench/run.sh
	./bench/tokens.sh | tee -a $(BUILD)/bench-report.md
	./bench/sessions.sh | tee -a $(BUILD)/bench-report.md
	./bench/ratelimit.sh | tee -a $(BUILD)/bench-report.md
	./bench/authz.sh | tee -a $(BUILD)/bench-report.md
	./bench/enumeration.py | tee -a $(BUILD)/bench-report.md
	./bench/oauth.sh | tee -a $(BUILD)/bench-report.md

format:
	find src include cli tests bench fuzz examples -name '*.h' -o -name '*.cc' | xargs clang-format -i

lint: build
	./scripts/lint.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
