# kura: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD   ?= build
JOBS    ?= 2
LISTEN  ?= 127.0.0.1:5000
DATA    ?= ./var
KURA    := $(BUILD)/kura

.PHONY: all setup setup-test build run test unit http e2e lab bench fuzz format clean

all: build

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(KURA) serve --listen $(LISTEN) --data $(DATA)

test: setup-test build
	@scripts/test.sh $(BUILD)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

http: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/http

e2e: build
	tests/e2e/real_clients.sh $(KURA)

bench: setup-test build
	bench/run.sh $(KURA)

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')

clean:
	rm -rf $(BUILD)

# Fuzz the parsers for FUZZ_SECONDS each (clang, libFuzzer, ASan+UBSan).
FUZZ_SECONDS ?= 30
fuzz: setup
	CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DKURA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS) --target fuzz_manifest fuzz_request_parts fuzz_token fuzz_proxy_protocol fuzz_topology
	for t in fuzz_manifest fuzz_request_parts fuzz_token fuzz_proxy_protocol fuzz_topology; do build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; done
