# Shared by the comparison scripts: network namespaces made for one run and deleted on exit (with
# every process recorded in PIDS and the scratch directory WORK), whatever happens.
# usage: source Benchmarks/lib/namespaces.sh; ns_create NAME...; ns_link NODE NODE_IF NODE_CIDR PEER PEER_CIDR
NAMESPACES=(); PIDS=(); WORK=$(mktemp -d)
ns_cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  for n in "${NAMESPACES[@]:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap ns_cleanup EXIT INT TERM

ns_create() {
  for n in "$@"; do ip netns add "$n"; NAMESPACES+=("$n"); ip -n "$n" link set lo up; done
}

# A veth pair from NODE (interface NODE_IF) to PEER (eth0), addressed, with PEER's default route via NODE.
ns_link() {
  local node=$1 nodeif=$2 nodecidr=$3 peer=$4 peercidr=$5
  ip -n "$node" link add "$nodeif" type veth peer name eth0 netns "$peer"
  ip -n "$node" addr add "$nodecidr" dev "$nodeif"; ip -n "$node" link set "$nodeif" up
  ip -n "$peer" addr add "$peercidr" dev eth0; ip -n "$peer" link set eth0 up
  ip -n "$peer" route add default via "${nodecidr%/*}"
}

# The swift-kube-proxy binary: BIN, else the release build, else the debug build.
proxy_binary() {
  if [ -n "${BIN:-}" ]; then echo "$BIN"
  elif [ -x .build/release/swift-kube-proxy ]; then echo .build/release/swift-kube-proxy
  else echo .build/debug/swift-kube-proxy; fi
}
