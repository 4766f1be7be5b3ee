#!/usr/bin/env bash
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl from Debian's
# `kubernetes` source package (bookworm: 1.20.x), built with Debian's Go (1.19), cached in
# $CACHE/bin: a second run builds nothing.
# The source comes through a private apt configuration under $CACHE/apt (a deb-src entry for the
# mirror the host already uses): the host's apt sources are not changed.
# Go 1.19 refuses 1.20's go.mod in module mode ("updates to go.mod needed, disabled by -mod=vendor"),
# so this builds in GOPATH mode from vendor/, as Debian's debian/rules and 1.20's hack/ scripts do.
set -euo pipefail
CACHE=${CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.build-cluster}
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
have=1; for b in "${bins[@]}"; do [[ -x $CACHE/bin/$b ]] || have=0; done
((have)) && exit 0

mkdir -p "$CACHE/apt/lists/partial" "$CACHE/src" "$CACHE/bin"
mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main" > "$CACHE/apt/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$CACHE/apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
src=$(ls -d "$CACHE"/src/kubernetes-*/ 2>/dev/null | head -1 || true)
if [[ -z $src ]]; then
  apt-get "${apt_private[@]}" update -qq
  (cd "$CACHE/src" && apt-get "${apt_private[@]}" source --download-only -qq kubernetes)
  tar -xzf "$CACHE"/src/kubernetes_*.orig.tar.gz -C "$CACHE/src"
  src=$(ls -d "$CACHE"/src/kubernetes-*/ | head -1)
fi

# GOPATH mode: the tree must sit at $GOPATH/src/k8s.io/kubernetes; vendor/ (with the staging repos
# linked into it) supplies every dependency, nothing is downloaded.
mkdir -p "$CACHE/gopath/src/k8s.io"
ln -sfn "${src%/}" "$CACHE/gopath/src/k8s.io/kubernetes"
cd "$CACHE/gopath/src/k8s.io/kubernetes"
export GO111MODULE=off CGO_ENABLED=0 GOPATH=$CACHE/gopath GOCACHE=$CACHE/gocache
start=$SECONDS

# kube-apiserver needs pkg/generated/openapi, which the release tarball (and so Debian's source, whose
# build makes only kubectl) does not carry: upstream's `make generated_files` writes it. Here only that
# generator runs, on the packages Makefile.generated_files would pick (those with a
# `+k8s:openapi-gen=` tag, code-generator and sample-apiserver left out); its API-rule report must
# equal upstream's known-violations list, as upstream's rule checks.
if [[ ! -f pkg/generated/openapi/zz_generated.openapi.go ]]; then
  go build -o "$CACHE/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  dirs=$(find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) -name '*.go' -type f \
    | sed 's|^\./||' | while read -r f; do
        { grep -q '^// *+k8s:' "$f" && grep -q '+k8s:openapi-gen=' "$f" && dirname "${f/#staging\/src\//vendor/}"; } || true
      done | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' | sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
  "$CACHE/openapi-gen" --logtostderr -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h hack/boilerplate/boilerplate.generatego.txt -r "$CACHE/openapi-violations.txt"
  diff "$CACHE/openapi-violations.txt" api/api-rules/violation_exceptions.list
  echo "openapi generated in $((SECONDS - start)) s"
fi
go build -ldflags '-s -w' -o "$CACHE/bin/" "${bins[@]/#/./cmd/}"
echo "kubernetes binaries built in $((SECONDS - start)) s: $(ls "$CACHE/bin" | tr '\n' ' ')"
