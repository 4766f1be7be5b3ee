# swift-kube-proxy — `make run` to try it, `make test` to check it, `make bench` to measure it.
SWIFT       ?= swift
CONFIG      ?= config.example.yaml
BIN_RELEASE := .build/release/swift-kube-proxy

PREFIX      ?= /usr/local
DESTDIR     ?=
CONFDIR     ?= /etc/swift-kube-proxy
UNITDIR     ?= /etc/systemd/system

.PHONY: all build release run test bench clean install uninstall verify-deploy

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

# Binary, systemd unit and config on this node. An existing config is kept. Then:
#   systemctl daemon-reload && systemctl enable --now swift-kube-proxy
install: release
	install -D -m 0755 $(BIN_RELEASE) $(DESTDIR)$(PREFIX)/bin/swift-kube-proxy
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|; s|/etc/swift-kube-proxy/|$(CONFDIR)/|' systemd/swift-kube-proxy.service \
	  | install -D -m 0644 /dev/stdin $(DESTDIR)$(UNITDIR)/swift-kube-proxy.service
	install -d -m 0755 $(DESTDIR)$(CONFDIR)
	test -e $(DESTDIR)$(CONFDIR)/config.yaml || install -m 0644 config.example.yaml $(DESTDIR)$(CONFDIR)/config.yaml
	test -e $(DESTDIR)$(CONFDIR)/examples || cp -r examples $(DESTDIR)$(CONFDIR)/examples

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/swift-kube-proxy $(DESTDIR)$(UNITDIR)/swift-kube-proxy.service

# The unit and the manifests against real checkers (also run as tests: DeploymentFileTests).
verify-deploy: build
	sed "s|/usr/local/bin/swift-kube-proxy|$$(pwd)/.build/debug/swift-kube-proxy|" systemd/swift-kube-proxy.service > .build/swift-kube-proxy.service
	systemd-analyze verify .build/swift-kube-proxy.service
	kubernetes-validate --strict --quiet deploy/daemonset.yaml

bench: release
	scripts/ensure-packages.sh bench
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

clean:
	rm -rf .build Benchmarks/.build
