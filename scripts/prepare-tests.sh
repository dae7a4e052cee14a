#!/usr/bin/env bash
# What `npm test` needs on this machine, set up before the tests run; a second run finds everything in place and
# takes a second or two. On a fresh Debian 12 machine it installs Debian's packages (as root, or through sudo),
# lets 127.0.0.1 into the machine's PostgreSQL without a password (the external-database tests), starts it, and
# fetches and builds the catalog's Keycloak versions into a cache outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "prepare-tests: '$*' needs root; run it once as root (or install sudo)." >&2
    exit 1
  fi
}

# Debian packages: PostgreSQL for the external-database tests; Chromium for the browser tests; HAProxy for the edge;
# Java, Maven and unzip for the Keycloak distributions; iproute2 for the network-namespace tests; Prometheus for
# the instance metrics and the metrics test (it scrapes /metrics and loads the example alert rules); etcd and Go for
# the Kubernetes API server of the Kubernetes-region tests (Debian's Go fetches the newer release the build needs).
declare -A package_of=(
  [pg_ctlcluster]=postgresql [chromium]=chromium [haproxy]=haproxy [mvn]=maven [unzip]=unzip
  [java]=openjdk-17-jdk-headless [ip]=iproute2 [prometheus]=prometheus [etcd]=etcd-server [go]=golang-go
)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null || missing+=("${package_of[$command]}")
done
if ((${#missing[@]})); then
  echo "prepare-tests: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Backups use pg_dump/pg_restore of the server's major version: 15, the embedded PostgreSQL's and Debian 12's
# (docs/decisions.md, "One backup mechanism"). The postgresql package brings them; a client-only machine needs them.
if [ ! -x /usr/lib/postgresql/15/bin/pg_restore ]; then
  echo "prepare-tests: installing postgresql-client-15"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-client-15 >/dev/null
fi

# The machine's PostgreSQL on 127.0.0.1:5432 with trust for 127.0.0.1 (a test server only: nothing else listens
# beyond loopback). The rule goes first so that it wins over the package's scram-sha-256 line.
pg_version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$pg_version/main/pg_hba.conf
trust_rule='host all all 127.0.0.1/32 trust # keyhouse tests'
if ! as_root grep -qF "$trust_rule" "$hba"; then
  as_root sed -i "1i $trust_rule" "$hba"
  if pg_isready -q -h 127.0.0.1 -p 5432; then as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload; fi
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
fi

# Keycloak: fetched (Maven Central) and built once per catalog version; later runs reuse the cache.
npx tsx scripts/prepare-keycloak.ts

# Kubernetes: the real kube-apiserver and kube-controller-manager, built with Go once per machine into a cache outside
# the clone (scripts/build-kubernetes-control-plane.sh; several minutes the first time, then instant).
bash scripts/build-kubernetes-control-plane.sh >/dev/null

# pebble, Let's Encrypt's ACME test server, built from its Go module once per machine (the ACME tests).
bash scripts/build-pebble.sh
