#!/usr/bin/env bash
# Packs a root filesystem directory into an OCI image archive with buildah, no registry involved.
# usage: [EXPOSE='PORT ...'] image/pack.sh ROOTFS NAME:TAG OUT.tar ENTRYPOINT-JSON [oci|docker]
#   e.g. image/pack.sh .build-image/rootfs swift-kube-proxy:latest out.tar '["/usr/local/bin/swift-kube-proxy"]'
# The archive carries NAME:TAG, so `ctr images import OUT.tar` and `podman load -i OUT.tar` name it.
# buildah keeps its storage under a private directory (vfs: works without overlay support, e.g. in a
# container or a namespace), removed afterwards.
set -euo pipefail
# buildah's push keeps a blob-info cache in /var/lib/containers/cache whatever --root says: it runs in
# a mount namespace of its own with a tmpfs on /var/lib, so the host's is left as it was.
if [[ -z ${SKP_PACK_PRIVATE:-} ]]; then
  exec env SKP_PACK_PRIVATE=1 unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs tmpfs /var/lib
rootfs=$1 name=$2 out=$3 entrypoint=$4 format=${5:-docker}
store=$(mktemp -d "${TMPDIR:-/tmp}/skp-buildah.XXXXXX")
trap 'buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs rm --all >/dev/null 2>&1 || true; rm -rf "$store"' EXIT
# Its network backend would make /etc/cni/net.d and a lock file there: pointed at the store instead.
printf '[network]\nnetwork_config_dir = "%s/cni"\n' "$store" > "$store/containers.conf"
export CONTAINERS_CONF=$store/containers.conf
b() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }

ctr=$(b from scratch)
b copy --quiet "$ctr" "$rootfs/" /
b config --entrypoint "$entrypoint" --cmd '' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  $(for p in ${EXPOSE:-}; do echo --port "$p"; done) --label org.opencontainers.image.title="${name%%:*}" "$ctr"
b commit --quiet --squash --rm "$ctr" "localhost/$name" >/dev/null
rm -f "$out"
# docker-archive names the image docker.io/library/NAME:TAG for both containerd and podman, which is
# what a Pod's `image: NAME:TAG` resolves to: kubelet finds it without a pull.
case $format in
  docker) b push --quiet "localhost/$name" "docker-archive:$out:$name" ;;
  oci)    b push --quiet "localhost/$name" "oci-archive:$out:$name" ;;
esac
