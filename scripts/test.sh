#!/usr/bin/env bash
# Runs every test suite of kura against the build in $1 (default: build) and prints a summary.
# Suites: GoogleTest unit tests (ctest), black-box HTTP tests (pytest), attacks of a hostile
# tenant (pytest, tests/adversarial), real clients (e2e),
# real clients through instance hostnames, and the network lab on every example topology.
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
suite unit bash -c "cd '$BUILD' && ctest --output-on-failure -j 2"
suite http /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/http
suite adversarial /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/adversarial
suite real-clients tests/e2e/real_clients.sh "$KURA_BIN"
suite instance-clients tests/e2e/instance_clients.sh "$KURA_BIN"
suite lab tests/lab/lab_examples.sh "$KURA_BIN"
[ ${#failures[@]} -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
