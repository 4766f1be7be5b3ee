#!/usr/bin/env bash
# UDP flood of distinct sources against the userspace proxy (issue 12): COUNT datagrams to a UDP
# NodePort, each from a new spoofed source address, at full speed. Reports the proxy's peak RSS and
# descriptors against its flow caps, the flows evicted, and whether another Service (TCP) and a
# real UDP client kept being served meanwhile. Everything runs in network namespaces this script
# makes (and deletes on exit); nothing is sent outside them.
# usage: Benchmarks/udp-flood/udp-flood.sh [COUNT]   (root; BIN=path/to/swift-kube-proxy)
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-1000000}
source Benchmarks/lib/namespaces.sh
BIN=$(proxy_binary)
S=$RANDOM; NODE=skp-fl-node-$S; CLI=skp-fl-cli-$S; POD=skp-fl-pod-$S
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

ns_create $NODE $CLI $POD
ns_link $NODE ext0 192.168.80.1/24 $CLI 192.168.80.2/24
ns_link $NODE p1 10.181.1.1/24 $POD 10.181.1.2/24
# Spoofed sources arrive on ext0: no reverse-path filter, and replies to them go back that way.
nsx $NODE sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.ext0.rp_filter=0 net.ipv4.ip_forward=1
ip -n $NODE route add 10.64.0.0/10 via 192.168.80.2

nsx $POD python3 -c '
import socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.181.1.2", 5353))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("10.181.1.2", 8080)); t.listen(512)
def tcp():
    while True:
        c, _ = t.accept(); c.sendall(b"ok\n"); c.close()
threading.Thread(target=tcp, daemon=True).start()
while True:
    d, p = u.recvfrom(2048); u.sendto(d, p)
' & PIDS+=($!)

cat > "$WORK/services.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.53
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 5353, nodePort: 30053}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.80
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-1, namespace: default, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: 5353, protocol: UDP}]
endpoints: [{addresses: ["10.181.1.2"]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: ["10.181.1.2"]}]
YAML
cat > "$WORK/config.yaml" <<YAML
mode: userspace
source: file
manifests: services.yaml
nodePortAddresses: ["192.168.80.1"]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
userspace: {eventLoops: 2, redirects: false}
YAML
# Not through the function: `ip netns exec` execs the binary, so $! is the proxy's own pid.
ip netns exec $NODE "$BIN" --config "$WORK/config.yaml" 2>"$WORK/proxy.log" & PROXY=$!; PIDS+=($PROXY)
for _ in $(seq 100); do nsx $NODE ss -lun | grep -q 30053 && break; sleep 0.1; done
gcc -O2 -o "$WORK/flood" Benchmarks/udp-flood/flood.c

sample() {   # RSS (kB) and open descriptors of the proxy, every 0.2 s
  while kill -0 $PROXY 2>/dev/null; do
    echo "$(awk '/VmRSS/{print $2}' /proc/$PROXY/status) $(ls /proc/$PROXY/fd | wc -l)"; sleep 0.2
  done
}
sample > "$WORK/samples" & PIDS+=($!)
# Meanwhile a TCP client of another Service and a real UDP client of the flooded one, each once per
# 0.1 s, until the flood has ended and 2 s more have passed.
nsx $CLI python3 -c '
import os, socket, time, sys
tcp_ok = tcp_fail = udp_ok = udp_fail = 0
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1)
while not os.path.exists(sys.argv[1]):
    try:
        s = socket.create_connection(("192.168.80.1", 30080), timeout=1); s.recv(8); s.close(); tcp_ok += 1
    except OSError: tcp_fail += 1
    try:
        u.sendto(b"probe", ("192.168.80.1", 30053)); u.recv(64); udp_ok += 1
    except OSError: udp_fail += 1
    time.sleep(0.1)
print(f"during the flood: TCP web {tcp_ok} ok / {tcp_fail} failed; UDP dns (a real client) {udp_ok} ok / {udp_fail} failed")
' "$WORK/done" > "$WORK/probes" & PROBES=$!
sleep 1
nsx $CLI "$WORK/flood" 192.168.80.1 30053 "$COUNT"
sleep 2; touch "$WORK/done"
wait $PROBES || true
cat "$WORK/probes"
metrics=$(nsx $NODE curl -s 127.0.0.1:10249/metrics)
echo "flows evicted: $(echo "$metrics" | awk '/^swift_kube_proxy_userspace_udp_flows_evicted_total/{s+=$2} END{print s+0}')," \
     "refused: $(echo "$metrics" | awk '/^swift_kube_proxy_userspace_udp_flows_refused_total/{s+=$2} END{print s+0}')," \
     "created: $(echo "$metrics" | awk '/^swift_kube_proxy_userspace_udp_flows_total/{s+=$2} END{print s+0}')," \
     "active at the end: $(echo "$metrics" | awk '/^swift_kube_proxy_userspace_udp_flows_active/{s+=$2} END{print s+0}')"
echo "proxy peak RSS $(awk '/VmHWM/{print $2}' /proc/$PROXY/status) kB; RSS samples max $(sort -n "$WORK/samples" | tail -1 | cut -d' ' -f1) kB;" \
     "descriptors max $(sort -n -k2 "$WORK/samples" | tail -1 | cut -d' ' -f2) (caps: 4096 flows per listener and loop, 16384 per loop; 2 loops)"
