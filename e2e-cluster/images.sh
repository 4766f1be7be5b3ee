#!/usr/bin/env bash
# The three images the cluster runs, as archives for `ctr images import` (no registry):
#   swift-kube-proxy:latest  image/build.sh (what `make image` makes; the DaemonSet's image name)
#   skp-pause:e2e            the pod sandbox: pause.c, static
#   skp-echo:e2e             the backend pods and the test client: echo.c, static
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:-$here/../.build-cluster}
mkdir -p "$CACHE/images"
"$here/../image/build.sh" >"$CACHE/images/build.log" 2>&1 || { tail -30 "$CACHE/images/build.log"; exit 1; }
cp "$here/../.build-image/swift-kube-proxy.tar" "$CACHE/images/swift-kube-proxy.tar"

for prog in pause echo; do
  img=$CACHE/images/skp-$prog.tar
  [[ -f $img && $img -nt $here/$prog.c ]] && continue
  root=$(mktemp -d)
  gcc -static -O2 -Wall -o "$root/$prog" "$here/$prog.c"
  "$here/../image/pack.sh" "$root" "skp-$prog:e2e" "$img" "[\"/$prog\"]" docker
  rm -rf "$root"
done
# The same client on the node, for traffic from the node itself.
gcc -static -O2 -Wall -o "$CACHE/images/echo" "$here/echo.c"
