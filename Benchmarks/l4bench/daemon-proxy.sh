#!/usr/bin/env bash
# l4bench proxy command for the whole program: writes a config and a Service + EndpointSlice
# manifest (NodePort LISTEN_PORT on 127.0.0.1 → the given backends) and runs swift-kube-proxy on them.
# usage: daemon-proxy.sh BINARY LISTEN_PORT HOST:PORT[,HOST:PORT...]
set -euo pipefail
bin=$1 port=$2 backends=$3
# The program replaces this shell (exec), so l4bench measures it alone; the scratch directories of
# earlier phases are removed here instead.
rm -rf /tmp/skp-l4bench.*
dir=$(mktemp -d /tmp/skp-l4bench.XXXXXX)
cat > "$dir/config.yaml" <<CONFIG
mode: userspace
source: file
manifests: services.yaml
nodePortAddresses: ["127.0.0.1"]
userspace: {redirects: false}   # the bench uses the NodePort on loopback: leave the host's nftables alone
CONFIG
{
  cat <<SERVICE
apiVersion: v1
kind: Service
metadata: {name: bench, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: tcp, port: 80, nodePort: $port}]
SERVICE
  i=0
  IFS=, read -ra list <<< "$backends"
  for b in "${list[@]}"; do
    # One slice per backend port, as pods exposing a named port on different numbers would have.
    cat <<SLICE
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bench-$i, namespace: default, labels: {kubernetes.io/service-name: bench}}
addressType: IPv4
ports: [{name: tcp, port: ${b##*:}}]
endpoints: [{addresses: ["${b%:*}"]}]
SLICE
    i=$((i + 1))
  done
} > "$dir/services.yaml"
exec "$bin" --config "$dir/config.yaml" --log-level warning
