#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only the ones that are missing.
# usage: scripts/ensure-packages.sh build|run|test|bench|image|cluster
set -euo pipefail

build=(pkg-config libnftnl-dev libmnl-dev)
runtime=(nftables iptables iproute2 conntrack)
# prometheus: for promtool (lints /metrics in the tests); systemd: systemd-analyze verify of the unit.
test_extra=(curl prometheus systemd)
# PyPI: the Kubernetes OpenAPI schemas and a strict validator for deploy/*.yaml.
test_pip=(kubernetes-validate)
bench_extra=(haproxy nginx libnginx-mod-stream iperf3 wrk socat valgrind)
# make image / make e2e-cluster (image/, e2e-cluster/): buildah packs images without a registry;
# the cluster builds Kubernetes with Debian's Go and runs Debian's etcd, containerd, runc and CNI.
image_extra=(buildah gcc libc6-dev)
cluster_extra=(golang-go etcd-server containerd runc containernetworking-plugins openssl)

case "${1:-build}" in
  build) want=("${build[@]}") ;;
  run)   want=("${build[@]}" "${runtime[@]}") ;;
  test)  want=("${build[@]}" "${runtime[@]}" "${test_extra[@]}") ;;
  bench) want=("${build[@]}" "${runtime[@]}" "${test_extra[@]}" "${bench_extra[@]}") ;;
  image) want=("${build[@]}" "${image_extra[@]}") ;;
  cluster) want=("${build[@]}" "${runtime[@]}" "${image_extra[@]}" "${cluster_extra[@]}") ;;
  *) echo "usage: $0 build|run|test|bench|image|cluster" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ "${1:-build}" == test || "${1:-build}" == bench ]]; then
  for p in "${test_pip[@]}"; do
    python3 -m pip show -q "$p" >/dev/null 2>&1 || python3 -m pip install -q "$p"
  done
fi
((${#missing[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
