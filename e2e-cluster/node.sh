#!/usr/bin/env bash
# The node: runs as PID 1 of the namespaces run.sh made. Mounts and network here are private to
# them; the host's /var/lib, /var/log, /run and sysctls are never written. Starts the control plane,
# containerd and kubelet, then checks.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${RUN:?} ${CACHE:?} ${SUFFIX:?} ${TOP:?}"
B=$CACHE/bin
NODE_IP=10.99.0.2 NODE=skp-e2e-node
export PATH=$B:$PATH KUBECONFIG=$RUN/admin.kubeconfig
step() { local name=$1 start=$SECONDS; shift; "$@"; echo "$name: $((SECONDS - start)) s" | tee -a "$RUN/times.txt"; }
# Polls a command until it succeeds, at most N times a second apart.
until_ok() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; echo "gave up waiting for: $*" >&2; return 1; }
# Whatever ends this script (PID 1 here) ends every process in the namespace with it.
bg() { local name=$1; shift; "$@" >"$RUN/logs/$name.log" 2>&1 & }

filesystem() {
  hostname "$NODE"
  mount --make-rprivate /
  # sysfs of this network namespace; cgroup hierarchies rooted at this cgroup namespace.
  mount -t sysfs sysfs /sys
  mount -t tmpfs cgroup /sys/fs/cgroup
  local id ctrls path dir
  while IFS=: read -r id ctrls path; do
    if [[ -z $ctrls ]]; then continue; fi
    dir=${ctrls#name=}; mkdir -p "/sys/fs/cgroup/$dir"
    if [[ $ctrls == name=* ]]; then mount -t cgroup -o "none,$ctrls" cgroup "/sys/fs/cgroup/$dir"
    else mount -t cgroup -o "$ctrls" cgroup "/sys/fs/cgroup/$dir"; fi
  done < /proc/self/cgroup

  # kubelet sets kernel-wide sysctls (vm.overcommit_memory, kernel.panic, ...) it finds different
  # from its wishes: it is shown its wishes instead, then /proc/sys is read-only here, except
  # net/ (this network namespace's own).
  local kv f v
  mkdir -p "$RUN/proc"; mount -t proc proc "$RUN/proc"
  mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
            kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    f=${kv%%=*} v=${kv#*=}
    [[ $(cat "/proc/sys/$f") == "$v" ]] && continue
    echo "$v" > "$RUN/sysctl-${f//\//_}"; mount --bind -o ro "$RUN/sysctl-${f//\//_}" "/proc/sys/$f"
  done
  mount --bind "$RUN/proc/sys/net" /proc/sys/net

  # Paths kubelet, containerd and the DaemonSet's hostPath use that no flag moves.
  mount -t tmpfs tmpfs /run
  mount -t tmpfs tmpfs /var/lib
  mkdir -p /var/lib/kubelet "$RUN/kubelet" "$RUN/var-log" && mount --bind "$RUN/kubelet" /var/lib/kubelet
  mount --bind "$RUN/var-log" /var/log
}

network() {
  ip link set lo up
  # The node's address: on one end of a veth pair whose both ends stay in this namespace, so nothing
  # here can leave it (this kernel has no dummy links).
  ip link add eth0 type veth peer name eth0-peer
  ip link set eth0-peer up
  ip addr add "$NODE_IP/24" dev eth0
  ip link set eth0 up
  ip route add default dev eth0
  echo 1 > /proc/sys/net/ipv4/ip_forward
}

certificates() {
  cd "$RUN"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=skp-e2e-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
  printf 'subjectAltName=IP:%s,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' "$NODE_IP" > san.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile san.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  local token; token=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$token,admin,admin,system:masters" > tokens.csv
  cat > admin.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters: [{name: e2e, cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$RUN/ca.crt"}}]
users: [{name: admin, user: {token: "$token"}}]
contexts: [{name: e2e, context: {cluster: e2e, user: admin}}]
current-context: e2e
KC
  cd - >/dev/null
}

control_plane() {
  bg etcd etcd --name e2e --data-dir "$RUN/etcd" --listen-client-urls http://127.0.0.1:2379 \
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster e2e=http://127.0.0.1:2380
  bg kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 --insecure-port=0 \
    --tls-cert-file="$RUN/apiserver.crt" --tls-private-key-file="$RUN/apiserver.key" --client-ca-file="$RUN/ca.crt" \
    --token-auth-file="$RUN/tokens.csv" --authorization-mode=RBAC \
    --service-cluster-ip-range=10.96.0.0/16 --service-node-port-range=30000-32767 \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$RUN/sa.pub" --service-account-signing-key-file="$RUN/sa.key" \
    --kubelet-preferred-address-types=InternalIP --allow-privileged=true --profiling=false
  until_ok 120 kubectl get --raw /readyz
  bg kube-controller-manager kube-controller-manager --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --service-account-private-key-file="$RUN/sa.key" --root-ca-file="$RUN/ca.crt" \
    --bind-address=127.0.0.1 --port=0 --profiling=false
  bg kube-scheduler kube-scheduler --kubeconfig="$KUBECONFIG" --leader-elect=false --bind-address=127.0.0.1 --port=0
}

runtime() {
  mkdir -p "$RUN/containerd" "$RUN/cni" "$RUN/cni-ipam"
  # Without CAP_SYS_RESOURCE (bit 24) runc cannot give pods kubelet's negative oom_score_adj.
  local runc_options=
  if (( (0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24 & 1) == 0 )); then
    runc_options="[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]
        BinaryName = \"$here/runc-without-sys-resource.sh\""
  fi
  cat > "$RUN/containerd/config.toml" <<TOML
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$RUN/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/skp-pause:e2e"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      $runc_options
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni"
TOML
  # ptp: a veth per pod with a /32 route on the node, so pod-to-Service-to-pod traffic is routed
  # through the node's netfilter hooks (a bridge would need br_netfilter, a host-wide module).
  cat > "$RUN/cni/10-e2e.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "e2e", "plugins": [{"type": "ptp", "ipMasq": false,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$RUN/cni-ipam"}}]}
CNI
  bg containerd containerd --config "$RUN/containerd/config.toml"
  until_ok 60 ctr -a "$RUN/containerd/containerd.sock" version
  local img
  for img in "$CACHE"/images/*.tar; do
    ctr -a "$RUN/containerd/containerd.sock" -n k8s.io images import "$img" >/dev/null
  done
}

kubelet_start() {
  # kubelet wants its --cgroup-root to exist; a new cpuset cgroup starts with no CPUs or memory nodes.
  local dir
  for dir in /sys/fs/cgroup/*/; do
    mkdir -p "$dir/skp-e2e-$SUFFIX"
    if [[ -f $dir/cpuset.cpus ]]; then
      cat "$dir/cpuset.cpus" > "$dir/skp-e2e-$SUFFIX/cpuset.cpus"; cat "$dir/cpuset.mems" > "$dir/skp-e2e-$SUFFIX/cpuset.mems"
    fi
  done
  echo "search local" > "$RUN/resolv.conf"
  bg kubelet kubelet --kubeconfig="$KUBECONFIG" --container-runtime=remote \
    --container-runtime-endpoint="unix://$RUN/containerd/containerd.sock" \
    --root-dir=/var/lib/kubelet --hostname-override="$NODE" --node-ip="$NODE_IP" \
    --cgroup-driver=cgroupfs --cgroup-root="/skp-e2e-$SUFFIX" --fail-swap-on=false \
    --pod-infra-container-image=docker.io/library/skp-pause:e2e --resolv-conf="$RUN/resolv.conf" \
    --volume-plugin-dir="$RUN/volume-plugins" --read-only-port=0 --anonymous-auth=true \
    --authorization-mode=AlwaysAllow --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --eviction-hard='memory.available<1Mi,nodefs.available<1%,imagefs.available<1%'
  until_ok 180 kubectl wait --for=condition=Ready "node/$NODE" --timeout=1s
}

step "namespaces and mounts" filesystem
step "node network" network
step "certificates" certificates
step "etcd + kube-apiserver ready" control_plane
step "containerd + image import" runtime
step "kubelet: node Ready" kubelet_start
rc=0
"$here/checks.sh" || rc=$?
if ((rc)); then
  echo "== checks failed; last lines of each log (all in $RUN/logs with KEEP=1)"
  for f in "$RUN"/logs/*.log; do echo "-- $f"; tail -15 "$f" | cut -c1-300; done
fi
exit $rc
