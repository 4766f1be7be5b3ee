#!/usr/bin/env bash
# What the cluster checks, with real pods and real packets: deploy/daemonset.yaml as shipped (only
# the API address filled in, as its comment asks), echo backends in a Deployment, then for each mode
# (nftables, iptables, userspace, switched through the ConfigMap and a rolling update of the
# DaemonSet while a client keeps connecting): ClusterIP, NodePort and a UDP Service from the node
# and from a pod, every backend answering; endpoints followed through scaling up and down.
set -uo pipefail
: "${RUN:?} ${CACHE:?} ${TOP:?}"
E=$CACHE/images/echo NODE_IP=10.99.0.2 NS=kube-system
passed=0 failed=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi; }
timed() { local name=$1 start=$SECONDS; shift; "$@"; local rc=$?; echo "$name: $((SECONDS - start)) s" >> "$RUN/times.txt"; return $rc; }

# N requests from the node or from the client pod; prints one answer (a pod name) or FAIL a line.
ask() { local from=$1 proto=$2 ip=$3 port=$4 n=$5
  if [[ $from == node ]]; then "$E" "$proto" "$ip" "$port" "$n"
  else kubectl exec client -- /echo "$proto" "$ip" "$port" "$n"; fi
}
# Succeeds once n requests all get an answer and the answers name exactly `want` distinct pods
# (polled: endpoints and rules follow the API a little later).
served_by() { local want=$1 from=$2 proto=$3 ip=$4 port=$5 i out
  for ((i = 0; i < 60; i++)); do
    out=$(ask "$from" "$proto" "$ip" "$port" 12 2>/dev/null)
    if ! grep -q FAIL <<<"$out" && [[ $(sort -u <<<"$out" | grep -c .) == "$want" ]]; then return 0; fi
    sleep 1
  done
  echo "  last answers from $from to $proto $ip:$port: $(sort <<<"$out" | uniq -c | tr '\n' ' ')" >&2
  return 1
}

backends() {
  kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: echo
          image: skp-echo:e2e
          imagePullPolicy: Never
          command: ["/echo", "serve", "8080"]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: skp-echo:e2e
      imagePullPolicy: Never
      command: ["/echo", "serve", "9090"]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{name: tcp, protocol: TCP, port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-udp, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: udp, protocol: UDP, port: 5353, targetPort: 8080}]
YAML
  kubectl rollout status deploy/echo --timeout=300s >/dev/null && kubectl wait --for=condition=Ready pod/client --timeout=300s >/dev/null
}

proxy() {
  sed -e 's|# - name: KUBERNETES_SERVICE_HOST|- name: KUBERNETES_SERVICE_HOST|' -e "s|#   value: \"192.0.2.10\"|  value: \"$NODE_IP\"|" \
      -e 's|# - name: KUBERNETES_SERVICE_PORT|- name: KUBERNETES_SERVICE_PORT|' -e 's|#   value: "6443"|  value: "6443"|' \
      "$TOP/deploy/daemonset.yaml" | kubectl apply -f - >/dev/null
  kubectl -n $NS rollout status ds/swift-kube-proxy --timeout=300s >/dev/null
}

# A rolling update of the DaemonSet (a new mode, or the same one) while the node keeps connecting to
# the ClusterIP; prints "requests failed".
rolling_update() { local mode=$1 cip=$2 stop=$RUN/traffic.stop log=$RUN/traffic.log
  rm -f "$stop"; : > "$log"
  ( while [[ ! -e $stop ]]; do "$E" tcp "$cip" 80 1 >> "$log" 2>/dev/null; done ) &
  local loop=$!
  kubectl -n $NS get cm swift-kube-proxy -o json | sed "s/\\\\nmode: [a-z]*\\\\n/\\\\nmode: $mode\\\\n/" | kubectl replace -f - >/dev/null
  kubectl -n $NS rollout restart ds/swift-kube-proxy >/dev/null
  kubectl -n $NS rollout status ds/swift-kube-proxy --timeout=300s >/dev/null
  touch "$stop"; wait "$loop"
  echo "$(grep -c . "$log") $(grep -c FAIL "$log")"
}

eventually() { local i; for ((i = 0; i < 30; i++)); do "$@" && return 0; sleep 1; done; return 1; }

# Our rules for the mode, and none of the other modes' (listings captured first: `grep -q` closing a
# pipe early would fail the pipeline under pipefail).
mode_in_force() { local mode=$1 tables chains
  tables=$(nft list tables) chains=$(iptables-nft-save -t nat)
  has_table() { grep -q " $1\$" <<<"$tables"; }
  has_chains() { grep -q '^:SKP-' <<<"$chains"; }
  case $mode in
    nftables) has_table swift-kube-proxy && ! has_chains && ! has_table swift-kube-proxy-userspace ;;
    iptables) has_chains && ! has_table swift-kube-proxy && ! has_table swift-kube-proxy-userspace ;;
    userspace) has_table swift-kube-proxy-userspace && ! has_table swift-kube-proxy && ! has_chains ;;
  esac
}

timed "backends ready" check "backend Deployment, client pod and Services" backends
timed "DaemonSet ready" check "deploy/daemonset.yaml rolls out and its pod is Ready" proxy
cip=$(kubectl get svc echo -o jsonpath='{.spec.clusterIP}')
ucip=$(kubectl get svc echo-udp -o jsonpath='{.spec.clusterIP}')
echo "ClusterIP $cip, UDP ClusterIP $ucip, NodePort $NODE_IP:30080"

for mode in nftables iptables userspace; do
  echo "== mode $mode"
  read -r total bad < <(timed "rolling update to $mode" rolling_update "$mode" "$cip")
  echo "rolling update to $mode: $total requests, $bad failed" | tee -a "$RUN/times.txt"
  # Polled: the other modes' rules go right after the new mode's first sync, which makes the pod Ready.
  check "$mode: in force after the ConfigMap change and rollout, other modes' rules gone" eventually mode_in_force "$mode"
  start=$SECONDS
  for from in node pod; do
    check "$mode: $from -> ClusterIP TCP, both backends" served_by 2 "$from" tcp "$cip" 80
    check "$mode: $from -> NodePort TCP, both backends" served_by 2 "$from" tcp "$NODE_IP" 30080
    check "$mode: $from -> ClusterIP UDP, both backends" served_by 2 "$from" udp "$ucip" 5353
  done
  kubectl scale deploy/echo --replicas=3 >/dev/null
  check "$mode: scaled to 3, three backends answer" served_by 3 node tcp "$cip" 80
  kubectl scale deploy/echo --replicas=1 >/dev/null
  check "$mode: scaled to 1, one backend answers, no failure" served_by 1 node tcp "$cip" 80
  check "$mode: scaled to 1, UDP follows" served_by 1 node udp "$ucip" 5353
  kubectl scale deploy/echo --replicas=2 >/dev/null
  check "$mode: back to 2" served_by 2 node tcp "$cip" 80
  echo "traffic and scaling checks in $mode: $((SECONDS - start)) s" >> "$RUN/times.txt"
  read -r total bad < <(timed "rolling update within $mode" rolling_update "$mode" "$cip")
  echo "rolling update within $mode: $total requests, $bad failed" | tee -a "$RUN/times.txt"
  # The rule modes leave their rules in the kernel while the pod is replaced (as kube-proxy does);
  # the userspace mode's listeners go with its process, so failures there are counted, not checked.
  [[ $mode == userspace ]] || check "$mode: no failed connection during the rolling update" test "$bad" -eq 0
done

echo "$passed passed, $failed failed"
((failed == 0))
