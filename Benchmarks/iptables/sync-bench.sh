#!/usr/bin/env bash
# Times full and partial iptables syncs of IPTablesBackend in a fresh network namespace, for both
# variants, at 1,000 / 5,000 / 10,000 Services x 10 endpoints (ClusterIP Services).
#
#   Benchmarks/iptables/sync-bench.sh                 # all sizes, nft and legacy
#   SIZES=1000 VARIANTS=legacy Benchmarks/iptables/sync-bench.sh
#
# Needs root. Builds the tests (the measurement lives in Tests/RuleSyncTests/IPTablesSyncBenchmark.swift
# and is skipped unless SKP_BENCH_NETNS is set). Prints one BENCH line per variant and size:
#   full_s / full_bytes     first full restore (empty namespace), restore input size
#   resync_s                a periodic full resync over the same rules
#   partial_s / _bytes      one Service loses an endpoint (incremental restore)
#   add_s / add_bytes       one new Service (incremental restore)
#   render_s                building the full restore input alone, no iptables-restore
set -euo pipefail
cd "$(dirname "$0")/../.."
NS="skp-bench-$$-$RANDOM"
CONFIG="${CONFIG:-release}"
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
if [ "$CONFIG" = release ]; then
  swift build -c release --build-tests -Xswiftc -enable-testing >&2
else
  swift build --build-tests >&2
fi
# Run the test binary directly: `swift test` would hold the build directory's lock for the whole run.
BIN="$(swift build -c "$CONFIG" --show-bin-path)/swift-kube-proxyPackageTests.xctest"
SKP_BENCH_NETNS="$NS" SKP_BENCH_SIZES="${SIZES:-1000,5000,10000}" SKP_BENCH_VARIANTS="${VARIANTS:-nft,legacy}" \
  "$BIN" --testing-library swift-testing --filter IPTablesSyncBenchmark 2>&1 | grep '^BENCH'
