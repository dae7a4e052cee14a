#!/usr/bin/env bash
# Let's Encrypt's ACME test server `pebble`, built from its Go module for the ACME tests (test/integration/acme-*.ts)
# into a cache outside the clone: KEYHOUSE_TEST_PEBBLE_DIR, default /var/tmp/keyhouse-test-pebble. A second run finds
# the binary of this version in place and returns at once. Needs Go (1.22 or later) and the Go module proxy.
set -euo pipefail
version=v2.10.3
dir=${KEYHOUSE_TEST_PEBBLE_DIR:-/var/tmp/keyhouse-test-pebble}
binary=$dir/$version/pebble
if [ -x "$binary" ]; then exit 0; fi
if ! command -v go >/dev/null; then
  echo "build-pebble: Go is not installed; the ACME tests need it to build pebble $version (apt-get install golang-go)." >&2
  exit 1
fi
mkdir -p "$dir/$version"
echo "build-pebble: building pebble $version into $dir/$version"
# GOBIN puts the binary where we want it; a private GOPATH keeps the module cache beside it, not in the clone.
GOPATH=$dir/gopath GOBIN=$dir/$version.partial GOFLAGS=-modcacherw CGO_ENABLED=0 \
  go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$version"
mv "$dir/$version.partial/pebble" "$binary"
rmdir "$dir/$version.partial"
