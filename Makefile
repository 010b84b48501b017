# kura: `make run` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD   ?= build
JOBS    ?= 2
LISTEN  ?= 127.0.0.1:5000
DATA    ?= ./var
KURA    := $(BUILD)/kura

.PHONY: all setup setup-test build run test unit http e2e lab bench bench-cluster bench-world fuzz format \
	clean cluster cluster-down

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

# Three kura nodes over PostgreSQL and Ceph RGW behind haproxy on 127.0.0.1:$(CLUSTER_PORT)
# (scripts/cluster.sh; its logs and data under $(CLUSTER_DIR)).
CLUSTER_DIR  ?= ./var/cluster
CLUSTER_PORT ?= 5080
cluster: setup-test $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target kura
	KURA_BIN=$(KURA) CLUSTER_PORT=$(CLUSTER_PORT) scripts/cluster.sh up $(CLUSTER_DIR)
	@echo "push through haproxy: docker tag IMAGE 127.0.0.1:$(CLUSTER_PORT)/NAME:TAG && docker push 127.0.0.1:$(CLUSTER_PORT)/NAME:TAG"
	@echo "stop: make cluster-down"

cluster-down:
	scripts/cluster.sh down $(CLUSTER_DIR)

bench: setup-test build
	bench/run.sh $(KURA)

# The World at 10 and 100,000 instances on SQLite and PostgreSQL (bench/world_scale.sh); a few
# minutes; the page goes to bench/results/<date>-world-scale.md.
bench-world: setup-test $(BUILD)/build.ninja
	bench/world_scale.sh $(BUILD)

# kura over PostgreSQL + S3 (1 node, then 3 behind haproxy) against distribution's S3 driver, on
# a Ceph gateway and a durable PostgreSQL of its own; then the default stores (bench/embedded.sh).
# About 20 minutes; the page goes to bench/results/<date>-cluster.md.
bench-cluster: setup-test $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target kura
	bench/cluster.sh $(KURA)

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')

clean:
	rm -rf $(BUILD)

# Fuzz the parsers for FUZZ_SECONDS each (clang, libFuzzer, ASan+UBSan), from the seeds and
# crashers of tests/fuzz/corpus/<target>/, up to each parser's real size limit. New inputs go to
# build-fuzz/corpus/; copy a crash-* file into tests/fuzz/corpus/<target>/ once it is fixed.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := fuzz_manifest:4194432 fuzz_bounded_json:16777216 fuzz_error_body:65536 \
	fuzz_request_parts:65536 fuzz_token:65536 fuzz_proxy_protocol:4096 fuzz_topology:1048576 \
	fuzz_s3_xml:1048600 fuzz_world_rows:65536 fuzz_s3_upload_state:65536
fuzz: setup
	CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DKURA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS) --target $(foreach t,$(FUZZ_TARGETS),$(firstword $(subst :, ,$(t))))
	for spec in $(FUZZ_TARGETS); do t=$${spec%%:*}; len=$${spec##*:}; \
	  mkdir -p build-fuzz/corpus/$$t && \
	  build-fuzz/$$t build-fuzz/corpus/$$t tests/fuzz/corpus/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=$$len -rss_limit_mb=4096 || exit 1; done
