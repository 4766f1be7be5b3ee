#!/usr/bin/env bash
# Builds the program and l4proxy (release) and runs the shared l4bench harness: swift-kube-proxy
# (the whole program on a manifest, via daemon-proxy.sh) and its userspace proxy module alone
# (l4proxy), next to haproxy (splice), nginx stream and a direct connection, in one interleaved run.
# Usage: Benchmarks/l4bench/compare.sh [OUT.tsv] [extra l4bench options…]   (needs root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="$(dirname "$here")"
out="${1:-/tmp/swift-kube-proxy-l4bench.tsv}"
shift || true
# shared/ sits beside the repository (as on CI); L4BENCH overrides.
harness="${L4BENCH:-$(cd "$package/../.." && pwd)/shared/bench/l4bench.sh}"

(cd "$package" && swift build -c release --product l4proxy)
bin="$(cd "$package" && swift build -c release --show-bin-path)/l4proxy"
(cd "$package/.." && swift build -c release --product swift-kube-proxy)
daemon="$(cd "$package/.." && swift build -c release --show-bin-path)/swift-kube-proxy"

exec "$harness" \
    --proxy-cmd "$here/daemon-proxy.sh $daemon {LISTEN_PORT} {BACKENDS}" --name swift-kube-proxy \
    --proxy-cmd "$bin {LISTEN_PORT} {BACKENDS}" --name userspace-module \
    --base-port 30000 --peer haproxy-splice,nginx,direct \
    --reps "${REPS:-5}" --ref haproxy-splice --out "$out" "$@"
