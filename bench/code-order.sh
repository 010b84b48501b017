#!/usr/bin/env bash
# bench/code-order.sh KURA_BIN: writes bench/hot-code.order, the functions kura executes while it
# starts and serves a push, a pull, tags, a catalog and an enterprise instance's token flow.
#
# Why: an idle server's resident memory is mostly its own code. The kernel maps the 64 KiB
# around every code page that faults in, and the functions a request runs were spread over the
# whole 6 MiB binary, so most of it became resident. The linker (lld, --symbol-ordering-file)
# places the listed functions side by side at the front (bench/README.md: "What profiling
# changed"). Names that no longer exist are skipped, so a stale list only costs memory; run this
# after a change that moves the request path, and commit the list.
set -euo pipefail
BIN=$(readlink -f "${1:?usage: bench/code-order.sh KURA_BIN}")
HERE=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "code-order.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
W=$(mktemp -d /tmp/kura-code-order.XXXXXX)
PID=
cleanup() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi; rm -rf "$W"; }
trap cleanup EXIT

P=${CODE_ORDER_PORT:-18700}; EP=$((P + 1)); AP=$((P + 2))
U=http://127.0.0.1:$P; EU=http://127.0.0.1:$EP; HOST=ent-registry.r1.order.test
ADMIN=order-admin-token-0123456789; PASS=order-password-0123
cat >"$W/kura.yml" <<YAML
listen: 127.0.0.1:$P
data: $W/data
domain: order.test
endpoints:
  - {listen: 127.0.0.1:$EP, endpoint: internet}
admin:
  listen: 127.0.0.1:$AP
  accounts: {A: {token: $ADMIN}}
log:
  audit: $W/audit.log
YAML
valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.out" "$BIN" serve --config "$W/kura.yml" \
  >"$W/kura.log" 2>&1 &
PID=$!
for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "$U/v2/" && break; sleep 0.2; done

c() { curl -s -o /dev/null --max-time 60 -w '%{http_code}' "$@"; }
expect() { # CODE what curl-args...: runs curl, fails unless it answers CODE
  local want=$1 what=$2 got; shift 2
  got=$(c "$@"); [ "$got" = "$want" ] || { echo "code-order.sh: $what answered $got, want $want" >&2; exit 1; }
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
OCI_M=application/vnd.oci.image.manifest.v1+json

# An image: a config, a 4 KiB layer pushed in one POST, a 9 MiB layer pushed monolithically
# (PUT), a 12 MiB layer in 4 MiB PATCHes, and a manifest.
head -c 4096 /dev/urandom >"$W/small"; head -c $((9 << 20)) /dev/urandom >"$W/big"
head -c $((12 << 20)) /dev/urandom >"$W/chunked"; split -b $((4 << 20)) -d "$W/chunked" "$W/part"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/config"
for f in config small big chunked; do eval "D_$f=sha256:$(sha "$W/$f")"; done
layer() { printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}' "$1" "$2"; }
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s,%s,%s]}' \
  "$OCI_M" "$D_config" "$(stat -c%s "$W/config")" "$(layer "$D_small" 4096)" \
  "$(layer "$D_big" $((9 << 20)))" "$(layer "$D_chunked" $((12 << 20)))" >"$W/manifest"
D_manifest=sha256:$(sha "$W/manifest")
location() { curl -s -D - -o /dev/null --max-time 10 -X POST -H 'Content-Length: 0' "$1" |
  awk 'tolower($1) == "location:" {print $2}' | tr -d '\r'; }
at() { case $1 in http*) echo "$1" ;; *) echo "$U$1" ;; esac; }
sep() { case $1 in *\?*) echo '&' ;; *) echo '?' ;; esac; }

expect 200 "GET /v2/" "$U/v2/"
for f in config small; do
  expect 201 "POST $f" -H 'Expect:' -X POST --data-binary @"$W/$f" "$U/v2/order/app/blobs/uploads/?digest=$(eval echo \$D_$f)"
done
loc=$(at "$(location "$U/v2/order/app/blobs/uploads/")")
expect 201 "PUT big" -H 'Expect:' -X PUT -T "$W/big" "$loc$(sep "$loc")digest=$D_big"
loc=$(at "$(location "$U/v2/order/app/blobs/uploads/")"); off=0
for part in "$W"/part*; do
  n=$(stat -c%s "$part")
  loc=$(curl -s -D - -o /dev/null --max-time 30 -X PATCH -H 'Expect:' -H "Content-Range: $off-$((off + n - 1))" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$part" "$loc" |
    awk 'tolower($1) == "location:" {print $2}' | tr -d '\r'); loc=$(at "$loc"); off=$((off + n))
done
expect 201 "PUT chunked" -X PUT -H 'Content-Length: 0' "$loc$(sep "$loc")digest=$D_chunked"
expect 201 "PUT manifest" -X PUT -H "Content-Type: $OCI_M" --data-binary @"$W/manifest" "$U/v2/order/app/manifests/latest"
for i in $(seq 20); do
  expect 201 "PUT tag $i" -X PUT -H "Content-Type: $OCI_M" --data-binary @"$W/manifest" "$U/v2/order/app/manifests/t$i"
done
expect 201 "mount" -X POST -H 'Content-Length: 0' "$U/v2/order/other/blobs/uploads/?mount=$D_small&from=order/app"
for _ in 1 2 3; do
  expect 200 "GET manifest" -H "Accept: $OCI_M" "$U/v2/order/app/manifests/latest"
  expect 200 "HEAD manifest" -I -H "Accept: $OCI_M" "$U/v2/order/app/manifests/$D_manifest"
  expect 200 "HEAD blob" -I "$U/v2/order/app/blobs/$D_small"
  expect 200 "GET blob" "$U/v2/order/app/blobs/$D_big"
  expect 206 "GET blob range" -H 'Range: bytes=0-99' "$U/v2/order/app/blobs/$D_small"
  expect 200 "tags list" "$U/v2/order/app/tags/list?n=10"
  expect 200 "catalog" "$U/v2/_catalog?n=10"
  expect 200 "referrers" "$U/v2/order/app/referrers/$D_manifest"
  expect 404 "unknown manifest" "$U/v2/order/app/manifests/nope"
done
expect 202 "DELETE tag" -X DELETE "$U/v2/order/app/manifests/t20"

# The enterprise instance: an allowlist, a password, a token, requests with it.
admin() { expect "$1" "admin $2 $3" -X "$2" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  ${4:+--data-binary "$4"} "http://127.0.0.1:$AP/api/v1$3"; }
admin 201 POST /instances '{"name":"ent","region":"r1","edition":"enterprise"}'
admin 200 POST /instances/ent/internet/enable
admin 200 PUT /instances/ent/internet/allowlist '{"entries":[{"cidr":"10.0.0.0/8"},{"cidr":"127.0.0.1/32"}]}'
admin 200 PUT /instances/ent/credentials/order "{\"password\":\"$PASS\"}"
expect 201 "enterprise POST blob" -u "order:$PASS" -H "Host: $HOST" -H 'Expect:' -X POST --data-binary @"$W/small" \
  "$EU/v2/order/app/blobs/uploads/?digest=$D_small"
token=$(curl -s --max-time 10 -u "order:$PASS" -H "Host: $HOST" "$EU/token?service=$HOST&scope=repository:order/app:pull" |
  sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "code-order.sh: no enterprise token" >&2; exit 1; }
for _ in 1 2 3; do
  expect 200 "enterprise GET /v2/" -H "Host: $HOST" -H "Authorization: Bearer $token" "$EU/v2/"
  expect 200 "enterprise HEAD blob" -I -H "Host: $HOST" -H "Authorization: Bearer $token" "$EU/v2/order/app/blobs/$D_small"
  expect 401 "enterprise without token" -H "Host: $HOST" "$EU/v2/order/app/blobs/$D_small"
done

kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
python3 "$HERE/code_order.py" "$BIN" "$W/callgrind.out" >"$HERE/hot-code.order"
echo "code-order.sh: $(wc -l <"$HERE/hot-code.order") functions in bench/hot-code.order"
