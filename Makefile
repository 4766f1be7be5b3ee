# swift-kube-proxy — `make run` to try it, `make test` to check it, `make bench` to measure it.
SWIFT       ?= swift
CONFIG      ?= config.example.yaml
BIN_RELEASE := .build/release/swift-kube-proxy

.PHONY: all build release run test bench clean

all: build

build:
	scripts/ensure-packages.sh build
	$(SWIFT) build

release:
	scripts/ensure-packages.sh build
	$(SWIFT) build -c release

run: release
	scripts/ensure-packages.sh run
	$(BIN_RELEASE) --config $(CONFIG)

# Every test, unit and real-kernel (network-namespace tests need root; CI runs as root).
test:
	scripts/ensure-packages.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

bench: release
	scripts/ensure-packages.sh bench
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

clean:
	rm -rf .build Benchmarks/.build
