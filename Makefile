# swift-kube-proxy — `make run` to try it, `make test` to check it, `make bench` to measure it.
SWIFT       ?= swift
CONFIG      ?= config.example.yaml
BIN_RELEASE := .build/release/swift-kube-proxy

PREFIX      ?= /usr/local
DESTDIR     ?=
CONFDIR     ?= /etc/swift-kube-proxy
UNITDIR     ?= /etc/systemd/system

.PHONY: all build release run test bench clean install uninstall verify-deploy fuzz fuzz-build fuzz-smoke image e2e-cluster

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
# One test at a time: the namespace scenarios block their thread on child processes for minutes, and
# run side by side on 2 cores they starved the async tests' servers of the cooperative pool (timeouts).
test:
	scripts/ensure-packages.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	$(MAKE) fuzz-smoke

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
	rm -rf .build Benchmarks/.build Fuzz/.build

# The OCI image without a registry (image/build.sh, docs/cluster.md): .build-image/swift-kube-proxy.tar,
# for `ctr -n k8s.io images import` or `podman load -i`.
image:
	scripts/ensure-packages.sh image
	image/build.sh

# A real single-node cluster in namespaces of its own, running deploy/daemonset.yaml (docs/cluster.md).
# Not part of `make test`: the first run builds Kubernetes from source.
e2e-cluster:
	scripts/ensure-packages.sh cluster
	e2e-cluster/run.sh

# libFuzzer over the parsers and the rule renderers (Fuzz/, README "Fuzzing"): one binary, the
# target chosen by FUZZ_TARGET. Inputs found are kept in Fuzz/.build/corpus, crashes in Fuzz/.build/crashes
# (SWIFT_BACKTRACE=enable=no: libFuzzer, not the Swift backtracer, handles a trap and saves the input).
# `make fuzz` builds release (fast runs); the smoke in `make test` builds debug, which compiles the
# dependencies in ~60% of release's CPU time (and runs slower, which a smoke does not mind).
FUZZ_TARGETS  ?= manifests kubernetes config kubeconfig render
FUZZ_SECONDS  ?= 600
FUZZ_SMOKE_RUNS ?= 2000
FUZZ_SMOKE_CONFIG  ?= debug
FUZZ_SCRATCH  ?= Fuzz/.build
fuzz_build     = $(SWIFT) build -c $(1) --package-path Fuzz --scratch-path $(FUZZ_SCRATCH) -Xswiftc -sanitize=fuzzer
fuzz_dict     := case $$t in manifests|kubernetes) d=-dict=Fuzz/Dictionaries/kubernetes.dict;; \
                   config|kubeconfig) d=-dict=Fuzz/Dictionaries/config.dict;; *) d=;; esac

fuzz-build:
	scripts/ensure-packages.sh build
	$(call fuzz_build,release)

# Each target for FUZZ_SECONDS, growing its corpus in Fuzz/.build/corpus/<target>.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_SCRATCH)/corpus/$$t $(FUZZ_SCRATCH)/crashes; $(fuzz_dict); \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  FUZZ_TARGET=$$t SWIFT_BACKTRACE=enable=no $(FUZZ_SCRATCH)/release/kube-proxy-fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_SCRATCH)/crashes/$$t- $$d \
	    $(FUZZ_SCRATCH)/corpus/$$t Fuzz/Corpus/$$t || exit 1; \
	done

# What `make test` runs: each target FUZZ_SMOKE_RUNS inputs from the committed seeds with a fixed seed,
# so CI runs exactly the inputs a developer ran (a time budget would run more on a faster machine).
fuzz-smoke:
	scripts/ensure-packages.sh build
	$(call fuzz_build,$(FUZZ_SMOKE_CONFIG))
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_SCRATCH)/smoke/$$t; mkdir -p $(FUZZ_SCRATCH)/smoke/$$t $(FUZZ_SCRATCH)/crashes; $(fuzz_dict); \
	  echo "== fuzz-smoke $$t, $(FUZZ_SMOKE_RUNS) runs"; \
	  FUZZ_TARGET=$$t SWIFT_BACKTRACE=enable=no $(FUZZ_SCRATCH)/$(FUZZ_SMOKE_CONFIG)/kube-proxy-fuzz -seed=1 -runs=$(FUZZ_SMOKE_RUNS) -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_SCRATCH)/crashes/$$t- $$d \
	    $(FUZZ_SCRATCH)/smoke/$$t Fuzz/Corpus/$$t > $(FUZZ_SCRATCH)/smoke/$$t.log 2>&1 \
	    || { tail -60 $(FUZZ_SCRATCH)/smoke/$$t.log; exit 1; }; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' $(FUZZ_SCRATCH)/smoke/$$t.log; \
	done
