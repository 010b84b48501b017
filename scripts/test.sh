#!/usr/bin/env bash
# Runs every test suite of kura against the build in $1 (default: build) and prints a summary.
# Suites: GoogleTest unit tests (ctest; the store suites on SQLite, PostgreSQL, files and S3),
# black-box HTTP tests (pytest), attacks of a hostile tenant (pytest, tests/adversarial), real
# clients (e2e), real clients through instance hostnames, the network lab on every example
# topology, and a cluster of three nodes behind haproxy (the HTTP suite and the real clients
# again, on PostgreSQL + S3).
#
# The shared stores are started here and stopped at exit: a throwaway PostgreSQL
# (scripts/pg-up.sh) and a single-node Ceph with its S3 gateway (scripts/ceph-up.sh), on loopback
# ports that KURA_TEST_PG_PORT, KURA_TEST_RGW_PORT and KURA_TEST_MON_PORT move.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
export KURA_BIN=$PWD/$BUILD/kura
passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  if "$@"; then passed=$((passed + 1)); echo "=== $name passed in $((SECONDS - t0)) s"
  else failed=$((failed + 1)); failures+=("$name"); echo "=== $name FAILED in $((SECONDS - t0)) s"; fi
}
STORES=$(mktemp -d /tmp/kura-stores.XXXXXX)
chmod 755 "$STORES"  # PostgreSQL runs as user postgres and must reach its directory
stop_stores() {
  scripts/pg-down.sh "$STORES/pg" --purge
  scripts/ceph-down.sh "$STORES/ceph" --purge >/dev/null
  rm -rf "$STORES"
}
trap stop_stores EXIT
PG_PORT=${KURA_TEST_PG_PORT:-25433}
MON_PORT=${KURA_TEST_MON_PORT:-23300}
if ! PG_URL=$(scripts/pg-up.sh "$STORES/pg" "$PG_PORT" | tail -1); then
  echo "test.sh: PostgreSQL did not start" >&2; exit 1
fi
if ! RGW_PORT=${KURA_TEST_RGW_PORT:-27480} MON_V2_PORT=$MON_PORT MON_V1_PORT=$((MON_PORT + 1)) \
    scripts/ceph-up.sh "$STORES/ceph" >"$STORES/ceph-up.log" 2>&1; then
  cat "$STORES/ceph-up.log" >&2; echo "test.sh: Ceph did not start" >&2; exit 1
fi
export KURA_TEST_POSTGRES=$PG_URL KURA_TEST_S3=$STORES/ceph/s3.env
printf 'export KURA_POSTGRES=%s\nexport KURA_S3_ENV=%s\n' "$PG_URL" "$KURA_TEST_S3" \
  >"$STORES/stores.env"
echo "=== stores: PostgreSQL $PG_URL, S3 $(grep AWS_ENDPOINT_URL "$KURA_TEST_S3" | cut -d= -f2)"

suite unit bash -c "cd '$BUILD' && ctest --output-on-failure -j 2"
suite http /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/http
stop_stores  # the cluster suite starts stores of its own; these served the store suites only
trap - EXIT
suite adversarial /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/adversarial
suite real-clients tests/e2e/real_clients.sh "$KURA_BIN"
suite instance-clients tests/e2e/instance_clients.sh "$KURA_BIN"
suite lab tests/lab/lab_examples.sh "$KURA_BIN"
# Three nodes on PostgreSQL and S3 behind haproxy: the cluster's own tests, the real clients
# through haproxy and the HTTP suite on the cluster's stores (tests/cluster/run.sh).
suite cluster tests/cluster/run.sh "$KURA_BIN"
[ ${#failures[@]} -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
