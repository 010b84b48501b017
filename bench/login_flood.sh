#!/usr/bin/env bash
# bench/login_flood.sh KURA_BIN: a bystander tenant's pull latency with and without a flood of
# wrong passwords at another tenant, on one kura serving both (127.0.0.1 only).
#
# The bystander pulls a manifest by tag with a registry token (the usual client path) over 2
# keep-alive connections (bench/loadgen, 1 thread): a latency measurement, not a saturation one.
# The flood (bench/login_flood.py, 32 threads) sends wrong passwords from ever new loopback sources
# over 40 users of the attacker's own instance, so that each guess costs a bcrypt check until the
# per-user limits or the password checks' queue refuse it (429). Each round measures the bystander
# alone, then under the flood, BENCH_DURATION s each (users are new every round: the limits of the
# round before are still counting).
#
# Environment: BENCH_ROUNDS (3), BENCH_DURATION (5), BENCH_FLOOD_PORT (18520; 2 ports),
# BENCH_TSV (append the rows to this results.tsv of run.sh), BENCH_KEEP=1 (keep the work dir).
# The server is started here and stopped by its PID on exit; every loop is bounded.
set -euo pipefail

KURA=${1:?usage: bench/login_flood.sh KURA_BIN}
KURA=$(readlink -f "$KURA")
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=$("$HERE/build.sh")
ROUNDS=${BENCH_ROUNDS:-3}; DUR=${BENCH_DURATION:-5}
FP=${BENCH_FLOOD_PORT:-18520}; AP=$((FP + 1))
USERS=40; THREADS=32
ADMIN_TOKEN=flood-bench-admin-token-0123456789
PASS=flood-bench-password-0123
OCI_M=application/vnd.oci.image.manifest.v1+json
SHOP=shop-registry.r1.bench.test; FLOOD=flood-registry.r1.bench.test

mkdir -p "$HERE/work"
W=$(mktemp -d "$HERE/work/flood.XXXXXX")
PID=
cleanup() {
  set +e
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
  fi
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for p in $FP $AP; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "login_flood.sh: port $p is in use (set BENCH_FLOOD_PORT)" >&2; exit 2; fi
done

cat >"$W/kura.yml" <<YAML
listen: ""
data: $W/data
domain: bench.test
token_ttl: 3600
endpoints:
  - {listen: 127.0.0.1:$FP, endpoint: internet}
admin:
  listen: 127.0.0.1:$AP
  accounts: {A: {token: $ADMIN_TOKEN}}
log:
  audit: $W/audit.log
YAML
"$KURA" serve --config "$W/kura.yml" >"$W/kura.log" 2>&1 & PID=$!
for _ in $(seq 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$AP/" && break; sleep 0.1; done

admin() { # METHOD PATH [JSON]
  curl -sf --max-time 30 -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$AP/api/v1$2" >/dev/null
}
say() { echo "[$(date +%T)] $*"; }

say "login flood: seeding (bystander image, $((USERS * ROUNDS)) users of the flooded instance)"
for i in shop flood; do admin POST /instances "{\"name\":\"$i\",\"region\":\"r1\",\"edition\":\"personal\"}"; done
admin PUT /instances/shop/credentials/owner "{\"password\":\"$PASS\"}"
for r in $(seq "$ROUNDS"); do
  for i in $(seq 0 $((USERS - 1))); do admin PUT "/instances/flood/credentials/r$r-u$i" "{\"password\":\"$PASS\"}"; done
done
head -c 4096 /dev/urandom >"$W/layer"; printf '{"architecture":"amd64","os":"linux"}' >"$W/config"
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
SHOP_AUTH=(-u "owner:$PASS" -H "Host: $SHOP")
for f in config layer; do
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${SHOP_AUTH[@]}" -H 'Expect:' -X POST \
    --data-binary @"$W/$f" "http://127.0.0.1:$FP/v2/bench/app/blobs/uploads/?digest=$(sha "$W/$f")")
  [ "$c" = 201 ] || { echo "login_flood.sh: blob push answered $c" >&2; exit 1; }
done
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":4096}]}' \
  "$OCI_M" "$(sha "$W/config")" "$(stat -c%s "$W/config")" "$(sha "$W/layer")" >"$W/manifest"
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${SHOP_AUTH[@]}" -X PUT -H "Content-Type: $OCI_M" \
  --data-binary @"$W/manifest" "http://127.0.0.1:$FP/v2/bench/app/manifests/latest")
[ "$c" = 201 ] || { echo "login_flood.sh: manifest PUT answered $c" >&2; exit 1; }
TOKEN=$(curl -s --max-time 10 "${SHOP_AUTH[@]}" \
  "http://127.0.0.1:$FP/token?service=$SHOP&scope=repository:bench/app:pull" | jq -r .token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "login_flood.sh: no token" >&2; exit 1; }

pull() { # -> loadgen JSON of the bystander's pulls
  "$LOADGEN" --url "http://127.0.0.1:$FP/v2/bench/app/manifests/latest" --header "Host: $SHOP" \
    --header "Authorization: Bearer $TOKEN" --header "Accept: $OCI_M" \
    --connections 2 --threads 1 --duration "$DUR" --warmup 0.5 2>>"$W/loadgen.log"
}
rec() { # METRIC TARGET ROUND VALUE P99
  local line; line=$(printf '%s\t%s\t%s\t%s\t%s' "$@")
  echo "$line" >>"$W/results.tsv"
  if [ -n "${BENCH_TSV:-}" ]; then echo "$line" >>"$BENCH_TSV"; fi
}
check() { # WHAT JSON: every bystander pull succeeded
  [ "$(jq -r .errors <<<"$2")" = 0 ] || { echo "login_flood.sh: $1: $2" >&2; exit 1; }
}

for r in $(seq "$ROUNDS"); do
  say "login flood round $r/$ROUNDS: bystander alone, ${DUR} s"
  out=$(pull); check "quiet pulls" "$out"; echo "quiet r$r: $out" >>"$W/bench.log"
  rec bystander_pull flood_quiet "$r" "$(jq -r .p50_us <<<"$out")" "$(jq -r .p99_us <<<"$out")"
  say "login flood round $r/$ROUNDS: bystander under $THREADS threads of wrong passwords, ${DUR} s"
  python3 "$HERE/login_flood.py" --port "$FP" --host "$FLOOD" --user-prefix "r$r-u" --users $USERS \
    --threads $THREADS --seconds "$(awk -v d="$DUR" 'BEGIN {print d + 1.5}')" >"$W/flood-r$r.json" &
  flood=$!
  sleep 1
  out=$(pull); wait "$flood"
  check "pulls under the flood" "$out"; echo "flood r$r: $out $(cat "$W/flood-r$r.json")" >>"$W/bench.log"
  rec bystander_pull flood_login "$r" "$(jq -r .p50_us <<<"$out")" "$(jq -r .p99_us <<<"$out")"
  f=$(cat "$W/flood-r$r.json")
  rec flood_checked flood_login "$r" "$(jq -r '.status["401"] // 0' <<<"$f")" ""
  rec flood_refused flood_login "$r" "$(jq -r '.status["429"] // 0' <<<"$f")" ""
  rec flood_requests flood_login "$r" "$(jq -r .requests <<<"$f")" ""
done

python3 - "$W/results.tsv" "$DUR" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l.strip()]
def vals(m, t, i):
    return [float(r[i]) for r in rows if r[0] == m and r[1] == t and r[i]]
def cell(v):
    return "%s / **%s** / %s" % tuple("{:,.0f}".format(x) for x in (min(v), statistics.median(v), max(v)))
print("bystander token pull of a manifest (2 connections), %s s per measurement; min / median / max of the rounds" % sys.argv[2])
print("| | p50 µs | p99 µs |")
print("|---|---|---|")
for t, label in (("flood_quiet", "alone"), ("flood_login", "under the login flood")):
    print("| %s | %s | %s |" % (label, cell(vals("bystander_pull", t, 3)), cell(vals("bystander_pull", t, 4))))
q50, f50 = (statistics.median(vals("bystander_pull", t, 3)) for t in ("flood_quiet", "flood_login"))
q99, f99 = (statistics.median(vals("bystander_pull", t, 4)) for t in ("flood_quiet", "flood_login"))
print("flood over quiet: p50 %.2f×, p99 %.2f×" % (f50 / q50, f99 / q99))
print("flood per round: requests %s, answered 401 (checked) %s, 429 (refused) %s" % tuple(
    ", ".join("%d" % x for x in vals(m, "flood_login", 3)) for m in ("flood_requests", "flood_checked", "flood_refused")))
PY
