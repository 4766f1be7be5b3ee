#!/usr/bin/env bash
# Builds l4proxy (release) and runs the shared l4bench harness: swift-kube-proxy's userspace
# proxy next to haproxy (splice), nginx stream and a direct connection, in one interleaved run.
# Usage: Benchmarks/l4bench/compare.sh [OUT.tsv] [extra l4bench options…]   (needs root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="$(dirname "$here")"
out="${1:-/tmp/swift-kube-proxy-l4bench.tsv}"
shift || true
harness="${L4BENCH:-/work/shared/bench/l4bench.sh}"

(cd "$package" && swift build -c release --product l4proxy)
bin="$(cd "$package" && swift build -c release --show-bin-path)/l4proxy"

exec "$harness" \
    --proxy-cmd "$bin {LISTEN_PORT} {BACKENDS}" --name swift-kube-proxy \
    --base-port 30000 --peer haproxy-splice,nginx,direct \
    --reps "${REPS:-5}" --ref haproxy-splice --out "$out" "$@"
