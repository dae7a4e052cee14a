#!/usr/bin/env bash
# Builds the Kubernetes control plane of the tests (test/kubernetes-control-plane: the real kube-apiserver and
# kube-controller-manager of k8s.io/kubernetes in one binary) once per machine, into a cache outside the clone:
#   $KEYHOUSE_TEST_KUBERNETES_CACHE (default /var/tmp/keyhouse-test-kubernetes)/<version>-<source hash>/kube-control-plane
# with the Go module and build caches beside it. A second run finds the binary and prints its path at once.
# Needs Go ≥ 1.26 (the version k8s.io/kubernetes v1.36 asks for); an older Go fetches it from the module proxy. A cold build is about 8 CPU-minutes of compilation
# plus the module downloads (3.3 GB of caches); measured figures are in README.md ("Running on Kubernetes").
set -euo pipefail
cd "$(dirname "$0")/../test/kubernetes-control-plane"

cache=${KEYHOUSE_TEST_KUBERNETES_CACHE:-/var/tmp/keyhouse-test-kubernetes}
# The Go release fetched when the machine's Go is older than the go.mod asks for.
go_toolchain=go1.26.8
version=$(awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' go.mod)
source_hash=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
target="$cache/$version-$source_hash/kube-control-plane"
if [ -x "$target" ]; then
  echo "$target"
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "build-kubernetes-control-plane: Go is missing; install Go (Debian's golang-go will do: it fetches Go $go_toolchain)." >&2
  exit 1
fi
mkdir -p "$cache"
export GOMODCACHE="$cache/gomodcache" GOCACHE="$cache/gocache" GOFLAGS=-modcacherw
# k8s.io/kubernetes v1.36 needs Go ≥ 1.26. An older Go (Debian 12 has 1.19, too old to switch toolchains by itself)
# fetches the Go toolchain as the module golang.org/toolchain from the Go module proxy, checked against the checksum
# database as any module, into the cache; the module zip carries no file modes, so its tools are made executable.
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ "${go_minor:-0}" -lt 26 ]; then
  module="golang.org/toolchain@v0.0.1-$go_toolchain.linux-$(go env GOARCH)"
  echo "build-kubernetes-control-plane: $(go env GOVERSION) is too old; fetching $module" >&2
  # Outside this module: an old Go cannot read its `go 1.26.0` line.
  toolchain_dir=$(cd "$cache" && GO111MODULE=on GOTOOLCHAIN=local go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  chmod +x "$toolchain_dir"/bin/* "$toolchain_dir"/pkg/tool/*/*
  export PATH="$toolchain_dir/bin:$PATH"
fi
export GOTOOLCHAIN=local
# Another run on this machine may be building the same thing: one builds, the other waits and reuses it.
exec 9>"$cache/build.lock"
flock 9
if [ ! -x "$target" ]; then
  echo "build-kubernetes-control-plane: building kube-apiserver and kube-controller-manager $version (once per machine)" >&2
  started=$(date +%s)
  minor=$(echo "$version" | cut -d. -f2)
  stamp="k8s.io/component-base/version"
  mkdir -p "$(dirname "$target")"
  go build -trimpath -o "$target.partial" \
    -ldflags "-s -w -X $stamp.gitVersion=$version -X $stamp.gitMajor=1 -X $stamp.gitMinor=$minor -X $stamp.gitTreeState=clean" .
  mv "$target.partial" "$target"
  echo "build-kubernetes-control-plane: built in $(($(date +%s) - started)) s" >&2
fi
echo "$target"
