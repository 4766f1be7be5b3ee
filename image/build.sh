#!/usr/bin/env bash
# `make image`: the swift-kube-proxy OCI image without a registry. The root filesystem is Debian's
# own packages (the apt mirror this host is configured with), unpacked with dpkg-deb: no base image,
# no package manager, no shell in the image; then our release binary (Swift runtime linked in
# statically) and the example config, packed by image/pack.sh (buildah). Same contents as the
# Containerfile's runtime stage, for those who have a registry.
# Output: .build-image/swift-kube-proxy.tar (docker-archive, name swift-kube-proxy:latest) and
# .build-image/swift-kube-proxy.oci.tar (oci-archive). Load with
#   ctr -n k8s.io images import .build-image/swift-kube-proxy.tar     or  podman load -i ...
set -euo pipefail
cd "$(dirname "$0")/.."
out=${IMAGE_DIR:-.build-image}
name=${IMAGE_NAME:-swift-kube-proxy:latest}
bin=${IMAGE_BINARY:-}

# What the program runs or links: the netfilter libraries (libnftnl/libmnl), the iptables tools (nft
# and legacy variants, and their restore/save) with their libraries, nft and conntrack for whoever
# debugs in the pod, CA certificates for kubeconfigs that name a public API server. The dependencies
# are listed, not resolved by apt, so nothing Essential (perl, debconf, a shell) comes along;
# check_libraries below fails the build when a listed binary lacks a library.
packages=(
  libc6 libgcc-s1 libstdc++6 zlib1g
  libnftnl11 libmnl0 libnfnetlink0 libnetfilter-conntrack3 libnetfilter-cthelper0 libnetfilter-queue1
  iptables libip4tc2 libip6tc2 libxtables12
  nftables libnftables1 libjansson4 libedit2 libgmp10 libbsd0 libmd0 libtinfo6
  conntrack ca-certificates coreutils
)

if [[ -z $bin ]]; then
  swift build -c release --static-swift-stdlib --product swift-kube-proxy
  bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/swift-kube-proxy"
fi

mkdir -p "$out/debs"
( cd "$out/debs" && for p in "${packages[@]}"; do ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -qq -o APT::Sandbox::User=root "$p"; done )

root="$out/rootfs"
rm -rf "$root"; mkdir -p "$root"
for deb in "$out"/debs/*.deb; do [[ $deb == */coreutils_* ]] || dpkg-deb -x "$deb" "$root"; done

# Only env from coreutils: the program runs iptables-*-restore through /usr/bin/env (PATH lookup).
coreutils=$(mktemp -d); dpkg-deb -x "$out"/debs/coreutils_*.deb "$coreutils"
install -D -m 0755 "$coreutils/usr/bin/env" "$root/usr/bin/env"; rm -rf "$coreutils"
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,bash-completion,bug} "$root"/usr/lib/x86_64-linux-gnu/gconv \
  "$root"/etc/{init.d,default,logrotate.d}

# Debian's default iptables (update-alternatives in the package scripts, which are not run here).
for t in iptables ip6tables; do
  for s in "" -save -restore; do ln -sf "xtables-nft-multi" "$root/usr/sbin/$t$s"; done
done
# update-ca-certificates' output, without running it (it needs a shell and openssl).
mkdir -p "$root/etc/ssl/certs"
cat "$root"/usr/share/ca-certificates/*/*.crt > "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
mkdir -p "$root/tmp" "$root/run" "$root/proc" "$root/sys" "$root/dev" && chmod 1777 "$root/tmp"

# Stripped: 149 MB → 79 MB. A crash backtrace then shows addresses; the unstripped binary of the same
# build (.build/release) symbolicates them.
install -D -m 0755 "$bin" "$root/usr/local/bin/swift-kube-proxy"
strip "$root/usr/local/bin/swift-kube-proxy"
install -D -m 0644 config.example.yaml "$root/etc/swift-kube-proxy/config.example.yaml"

# Every ELF file must find its libraries inside the image: ask the image's own loader.
check_libraries() {
  local missing=0 f listing
  while read -r f; do
    [[ $(head -c4 "$f" | od -An -c | tr -d ' ') == 177ELF ]] || continue
    if ! listing=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "${f#"$root"}" 2>&1) || grep -q 'not found' <<<"$listing"; then
      echo "missing libraries for ${f#"$root"}: $listing" >&2
      missing=1
    fi
  done < <(find "$root/usr/sbin" "$root/usr/bin" "$root/usr/local/bin" "$root/sbin" -type f 2>/dev/null)
  return $missing
}
check_libraries
# With a /proc (Foundation reads the arguments there), in a mount namespace that goes away with it.
unshare --mount --propagation private --pid --fork sh -c \
  "mount -t proc proc '$root/proc' && chroot '$root' /usr/local/bin/swift-kube-proxy --help" | grep -q OVERVIEW
chroot "$root" /usr/bin/env iptables-nft-restore --version >/dev/null

EXPOSE="10249 10256" image/pack.sh "$root" "$name" "$out/swift-kube-proxy.tar" '["/usr/local/bin/swift-kube-proxy"]' docker
EXPOSE="10249 10256" image/pack.sh "$root" "$name" "$out/swift-kube-proxy.oci.tar" '["/usr/local/bin/swift-kube-proxy"]' oci
echo "image: $out/swift-kube-proxy.tar ($(du -m "$out/swift-kube-proxy.tar" | cut -f1) MiB archive, rootfs $(du -sm "$root" | cut -f1) MiB)"
