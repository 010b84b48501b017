#!/usr/bin/env bash
# Builds every example topology as network namespaces (kura lab up), logs in from every host and
# compares with the analyzer (kura lab verify), tears it down (kura lab down), and checks that
# nothing of the lab is left: no namespace, no /etc/netns entry, no state, no server.
# Needs root. Usage: tests/lab/lab_examples.sh KURA_BIN [EXAMPLE...]
set -uo pipefail
KURA=$(realpath "${1:?usage: $0 KURA_BIN [EXAMPLE...]}"); shift
cd "$(dirname "$0")/../.."
examples=("$@"); [ ${#examples[@]} -eq 0 ] && examples=(examples/*.yaml)
PREFIX=kt; STATE=$(mktemp -d /tmp/kura-lab-test.XXXXXX)
lab() { "$KURA" lab "$@" --prefix "$PREFIX" --state "$STATE"; }
# On exit: down, and should even that fail, stop any server started from this state directory.
trap '"$KURA" lab down --prefix "$PREFIX" --state "$STATE" >/dev/null 2>&1
      pkill -f -- "--config $STATE/" 2>/dev/null; rm -rf "$STATE"' EXIT
if [ "$(id -u)" -ne 0 ]; then echo "lab tests need root (network namespaces)"; echo "0 passed, 1 failed"; exit 1; fi

passed=0; failed=0
check() { # name, command...
  local name=$1; shift
  local out; out=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ]; then passed=$((passed + 1)); echo "PASS $name"
  else failed=$((failed + 1)); echo "FAIL $name"; printf '%s\n' "$out" | tail -20 | sed 's/^/    /'; fi
}
leftovers() {
  local left=""
  ip netns list | grep -q "^$PREFIX-" && left+=" namespaces:$(ip netns list | grep "^$PREFIX-" | cut -d' ' -f1 | tr '\n' ' ')"
  ls -d /etc/netns/"$PREFIX"-* >/dev/null 2>&1 && left+=" /etc/netns entries"
  [ -e "$STATE/$PREFIX" ] && left+=" state dir"
  pgrep -f -- "--config $STATE/$PREFIX/kura.yml" >/dev/null && left+=" kura process"
  [ -z "$left" ] || { echo "left behind:$left"; return 1; }
}

lab down >/dev/null 2>&1
for f in "${examples[@]}"; do
  name=$(basename "$f" .yaml)
  check "$name: lab up" lab up "$f"
  check "$name: live logins match the analysis" lab verify "$f"
  check "$name: lab down" lab down
  check "$name: nothing left behind" leftovers
done
# A crash of `up` half-way must still be undone by `down`: build a namespace by hand, then down.
ip netns add "$PREFIX-h0" && mkdir -p "/etc/netns/$PREFIX-h0"
check "down after a crashed up" lab down
check "nothing left after the crash" leftovers
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
