#!/usr/bin/env bash
# `make e2e-cluster`: a real single-node Kubernetes cluster (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd + runc + CNI, kubelet) inside namespaces this
# script makes, with deploy/daemonset.yaml running our image, checked with real traffic (checks.sh).
# Everything runs in one new PID + network + mount + cgroup namespace (unshare): when its first
# process dies the kernel ends every process in it and drops its mounts and network; the trap then
# removes the cgroups kubelet made. Nothing is left on the host, whatever happens.
# Cached between runs under .build-cluster/: the Kubernetes binaries, the images. KEEP=1 keeps the
# run directory (logs) for a look afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
export CACHE=${CACHE:-$top/.build-cluster}
suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RUN=$CACHE/run-$suffix SUFFIX=$suffix TOP=$top
mkdir -p "$RUN/logs"
times=$RUN/times.txt
step() { local name=$1 start=$SECONDS; shift; "$@"; echo "$name: $((SECONDS - start)) s" | tee -a "$times"; }

# The cgroup path of this shell in each v1 hierarchy (or the v2 one): kubelet's cgroups land below
# it, under skp-e2e-$suffix (its --cgroup-root inside the cgroup namespace).
cgroup_dirs() {
  local id ctrls path c
  while IFS=: read -r id ctrls path; do
    if [[ -z $ctrls ]]; then
      [[ -d /sys/fs/cgroup/unified ]] && echo "/sys/fs/cgroup/unified$path/skp-e2e-$suffix"
      [[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo "/sys/fs/cgroup$path/skp-e2e-$suffix"
      continue
    fi
    c=${ctrls#name=}
    echo "/sys/fs/cgroup/$c${path%/}/skp-e2e-$suffix"
  done < /proc/self/cgroup
}

ns_pid=
teardown() {
  local rc=$?
  set +e
  if [[ -n $ns_pid ]] && kill -0 "$ns_pid" 2>/dev/null; then
    kill -TERM "$ns_pid"; for _ in $(seq 50); do kill -0 "$ns_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$ns_pid" 2>/dev/null; wait "$ns_pid" 2>/dev/null
  fi
  # Empty now (their processes are gone with the PID namespace): remove them deepest first.
  local d
  for d in $(cgroup_dirs); do
    [[ -d $d ]] || continue
    for _ in $(seq 50); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; [[ -d $d ]] || break; sleep 0.2; done
    [[ -d $d ]] && echo "teardown: could not remove $d" >&2
  done
  [[ -f $times ]] && { echo "== step times"; cat "$times"; }
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $RUN"; else rm -rf "$RUN"; fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "kubernetes build (cached after the first)" "$here/build-kubernetes.sh"
step "images (cached after the first)" "$here/images.sh"

# --kill-child: if this script dies without its trap (SIGKILL), unshare's death still ends the namespace.
unshare --pid --net --mount --cgroup --uts --ipc --fork --kill-child --mount-proc --propagation private \
  "$here/node.sh" &
ns_pid=$!
wait "$ns_pid"
