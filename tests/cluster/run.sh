#!/usr/bin/env bash
# Brings a cluster up once (scripts/cluster.sh: PostgreSQL, Ceph RGW, three kura nodes, haproxy),
# runs against it, and tears it down:
#   1. the cluster tests (tests/cluster: across nodes, PROXY v2, propagation, faults);
#   2. the real clients (tests/e2e/real_clients.sh) with the plain-registry steps through
#      haproxy (E2E_REGISTRY): skopeo, podman, buildah and docker push and pull via the cluster;
#   3. the HTTP suite (tests/http) with every test server on the cluster's stores
#      (KURA_TEST_STORES: a PostgreSQL database and an S3 prefix of each server's own).
# The HTTP suite starts servers of its own (auth, TLS, restarts, crashes), so it cannot run through
# haproxy; it runs kura on the same shared stores the cluster uses.
#
# Usage: tests/cluster/run.sh [KURA_BIN]        (default build/kura)
#   env: CLUSTER_PORT      haproxy's port (default: the first free block of 53 ports from 21000)
#        KURA_KEEP_CLUSTER=1   keep the cluster's directory (logs, data) and print its path
#        CLUSTER_SUITES    which of "cluster e2e http" to run (default all three)
# Prints one line per suite with its time, and the cluster's up time; exits non-zero if one failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
KURA_BIN=${1:-build/kura}
case "$KURA_BIN" in /*) ;; *) KURA_BIN=$PWD/$KURA_BIN ;; esac
[ -x "$KURA_BIN" ] || { echo "run.sh: no kura binary at $KURA_BIN" >&2; exit 2; }
export KURA_BIN
SUITES=${CLUSTER_SUITES:-cluster e2e http}

port_block_free() { # BASE: nothing listens on BASE..BASE+52
  ! ss -Hltn | awk '{print $4}' | sed 's/.*://' |
    awk -v lo="$1" -v hi="$(($1 + 52))" '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }'
}
if [ -z "${CLUSTER_PORT:-}" ]; then
  for base in $(seq 21000 100 31000); do
    if port_block_free "$base"; then CLUSTER_PORT=$base; break; fi
  done
  [ -n "${CLUSTER_PORT:-}" ] || { echo "run.sh: no free block of ports" >&2; exit 1; }
fi
export CLUSTER_PORT

DIR=$(mktemp -d /tmp/kura-cluster-run.XXXXXX)
chmod 755 "$DIR" # PostgreSQL runs as the user postgres and must reach DIR/pg
finish() {
  scripts/cluster.sh down "$DIR" >/dev/null 2>&1
  if [ "${KURA_KEEP_CLUSTER:-}" = 1 ]; then echo "cluster directory kept: $DIR"; else rm -rf "$DIR"; fi
}
trap finish EXIT

t0=$SECONDS
if ! scripts/cluster.sh up "$DIR"; then
  echo "run.sh: the cluster did not come up" >&2
  exit 1
fi
echo "=== cluster up in $((SECONDS - t0)) s"
. "$DIR/cluster.env"

passed=0 failed=0 failures=()
suite() {
  local name=$1 t=$SECONDS
  shift
  echo "=== $name: $*"
  if "$@"; then passed=$((passed + 1)); echo "=== $name passed in $((SECONDS - t)) s"
  else failed=$((failed + 1)); failures+=("$name"); echo "=== $name FAILED in $((SECONDS - t)) s"; fi
}
for s in $SUITES; do
  case "$s" in
    cluster) suite cluster env CLUSTER_ENV="$DIR/cluster.env" \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cluster ;;
    e2e) suite real-clients-through-haproxy env E2E_REGISTRY="$CLUSTER_REGISTRY" \
      tests/e2e/real_clients.sh "$KURA_BIN" ;;
    http) suite http-on-cluster-stores env KURA_TEST_STORES="$DIR/cluster.env" \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/http ;;
    *) echo "run.sh: unknown suite $s" >&2; exit 2 ;;
  esac
done
scripts/cluster.sh status "$DIR" || failures+=("cluster-status")
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "cluster suites: $passed passed, $failed failed, $((SECONDS - t0)) s in all"
[ ${#failures[@]} -eq 0 ]
