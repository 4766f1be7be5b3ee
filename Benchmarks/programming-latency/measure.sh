#!/usr/bin/env bash
# New-Service programming latency (issue 12): the program runs with SERVICES Services (each with an
# endpoint) in a node namespace; then a new Service and its EndpointSlice are written to the
# manifests, and a client namespace connects to the new ClusterIP every 5 ms until it answers.
# Reports the time from the write to the first answer, for ROUNDS new Services. Everything runs in
# namespaces this script makes and deletes.
# usage: Benchmarks/programming-latency/measure.sh [MODE=iptables] [SERVICES=1000] [ROUNDS=10]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-iptables}; SERVICES=${2:-1000}; ROUNDS=${3:-10}
source Benchmarks/lib/namespaces.sh
BIN=$(proxy_binary)
S=$RANDOM; NODE=skp-pl-node-$S; CLI=skp-pl-cli-$S; POD=skp-pl-pod-$S
ns_create $NODE $CLI $POD
ns_link $NODE c0 10.182.100.1/24 $CLI 10.182.100.2/24
ns_link $NODE p1 10.182.1.1/24 $POD 10.182.1.2/24
ip netns exec $NODE sysctl -qw net.ipv4.ip_forward=1
ip netns exec $POD python3 -c '
import socket
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("10.182.1.2", 8080)); t.listen(4096)
while True:
    c, _ = t.accept(); c.close()
' & PIDS+=($!)

service() {   # N CLUSTERIP
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: svc-$1, namespace: bench}
spec: {clusterIP: $2, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc-$1-1, namespace: bench, labels: {kubernetes.io/service-name: svc-$1}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: ["10.182.1.2"]}]
---
YAML
}
mkdir "$WORK/manifests"
for i in $(seq 1 "$SERVICES"); do service "$i" "10.96.$((i / 250)).$((i % 250 + 1))"; done > "$WORK/manifests/base.yaml"
cat > "$WORK/config.yaml" <<YAML
mode: $MODE
source: file
manifests: manifests
clusterCIDR: ["10.182.0.0/16"]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
userspace: {redirects: true}
YAML
ip netns exec $NODE "$BIN" --config "$WORK/config.yaml" 2>"$WORK/proxy.log" & PIDS+=($!)
# Ready once the first Service answers.
ip netns exec $CLI python3 - "$WORK" "$ROUNDS" "$MODE" "$SERVICES" <<'PY'
import os, random, socket, statistics, sys, time
work, rounds, mode, services = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def answers(ip):
    s = socket.socket(); s.settimeout(0.05)
    try: s.connect((ip, 80)); return True
    except OSError: return False
    finally: s.close()
start = time.time()
while not answers("10.96.0.2"):
    if time.time() - start > 120: sys.exit("the first sync never came")
    time.sleep(0.05)
print(f"{mode}, {services} Services: first sync answered after {time.time() - start:.1f} s")
latencies = []
for r in range(rounds):
    ip = f"10.97.0.{r + 1}"
    manifest = f"""apiVersion: v1
kind: Service
metadata: {{name: new-{r}, namespace: bench}}
spec: {{clusterIP: {ip}, ports: [{{name: http, port: 80, targetPort: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: new-{r}-1, namespace: bench, labels: {{kubernetes.io/service-name: new-{r}}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: ["10.182.1.2"]}}]
"""
    tmp = os.path.join(work, f"new-{r}.tmp")
    open(tmp, "w").write(manifest)
    written = time.time()
    os.rename(tmp, os.path.join(work, "manifests", f"new-{r}.yaml"))
    while not answers(ip):
        time.sleep(0.005)
    latencies.append(time.time() - written)
    time.sleep(1.5 + random.random() * 0.5)   # a quiet state, and no phase lock with the 500 ms file poll
latencies.sort()
print(f"new Service + EndpointSlice written -> first answer: median {statistics.median(latencies):.3f} s, "
      f"p90 {latencies[min(len(latencies) - 1, int(len(latencies) * 0.9))]:.3f} s, all {[round(x, 3) for x in latencies]}")
PY
