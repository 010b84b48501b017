#!/usr/bin/env bash
# bench/run.sh KURA_BIN: kura against CNCF distribution 2.8.2 (Debian docker-registry), with nginx
# as the ceiling, all on 127.0.0.1. Each measurement runs on each server in turn, the order
# alternating from round to round, BENCH_ROUNDS times; bench/report.py prints min/median/max and
# the kura/distribution ratio of the medians, and the table goes to bench/results/<date>.md.
#
# Environment:
#   BENCH_QUICK=1      smaller sizes and 1 round: a smoke run of under 2 minutes
#   BENCH_ROUNDS=N     rounds (default 3; 1 when quick)
#   BENCH_DURATION=S   seconds per request-rate measurement (default 5; 1 when quick)
#   BENCH_EXPO_SLICES=N alternating 1 s slices of plain vs enterprise per round (default 4)
#   BENCH_PORT=P       first of 3 loopback ports (kura, distribution, nginx); default 18500
#   BENCH_KEEP=1       keep bench/work/run.* (registry data, logs) after the run
#   BENCH_NO_RESULTS=1 print the table but do not write bench/results/
#
# Every server is started here and stopped by its PID on exit; every loop is bounded in count
# and every client call in time (curl --max-time, loadgen --duration).
set -euo pipefail

KURA_SRC=${1:?usage: bench/run.sh KURA_BIN}
[ -x "$KURA_SRC" ] || { echo "run.sh: $KURA_SRC is not executable" >&2; exit 2; }
KURA_SRC=$(readlink -f "$KURA_SRC")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

# ------------------------------------------------------------------ tools
need=()
for p in nginx-light:nginx docker-registry:docker-registry wrk:wrk jq:jq curl:curl \
         openssl:openssl python3:python3 strace:strace valgrind:valgrind g++:g++ libboost1.81-dev:; do
  pkg=${p%%:*}; cmd=${p#*:}
  if [ -n "$cmd" ]; then command -v "$cmd" >/dev/null || need+=("$pkg")
  else dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg"); fi
done
if [ ${#need[@]} -gt 0 ]; then
  echo "run.sh: installing ${need[*]}"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
LOADGEN=$("$HERE/build.sh")

# ------------------------------------------------------------------ parameters
QUICK=${BENCH_QUICK:-0}
MiB=$((1 << 20))
if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1}; DUR=${BENCH_DURATION:-1}; WARM=0.2
  BIG_MIB=64; SMALL_N=20; TAGS=500; REPOS=100; TAGPUT_LIMIT=5; PAGE=20
else
  ROUNDS=${BENCH_ROUNDS:-3}; DUR=${BENCH_DURATION:-5}; WARM=0.5
  BIG_MIB=1024; SMALL_N=200; TAGS=10000; REPOS=1000; TAGPUT_LIMIT=25; PAGE=100
fi
CHUNK=$((8 * MiB))
EXPO_SLICES=${BENCH_EXPO_SLICES:-4}; EXPO_DUR=1; IR_REQUESTS=3000
[ "$QUICK" = 1 ] && { EXPO_SLICES=${BENCH_EXPO_SLICES:-1}; IR_REQUESTS=500; }
PORT=${BENCH_PORT:-18500}
KP=$PORT; DP=$((PORT + 1)); NP=$((PORT + 2)); EP=$((PORT + 3)); AP=$((PORT + 4))
declare -A BASE=([kura]=http://127.0.0.1:$KP [dist]=http://127.0.0.1:$DP [nginx]=http://127.0.0.1:$NP)
OCI_M=application/vnd.oci.image.manifest.v1+json

mkdir -p "$HERE/work"
W=$(mktemp -d "$HERE/work/run.XXXXXX")
TSV=$W/results.tsv; : >"$TSV"
LOG=$W/bench.log
echo "run.sh: work dir $W (log $LOG)"

# ------------------------------------------------------------------ processes
declare -A PID=()
cleanup() {
  set +e
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  for n in "${!PID[@]}"; do
    for _ in $(seq 50); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null
  done
  if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in $KP $DP $NP $EP $AP; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "run.sh: port $p is in use (set BENCH_PORT)" >&2; exit 2; fi
done

waitfor() { # URL
  for _ in $(seq 100); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done
  echo "run.sh: $1 did not come up" >&2; return 1
}

cp "$KURA_SRC" "$W/kura"   # the build directory may be rebuilt under us
mkdir -p "$W/kura-data" "$W/dist-data" "$W/www" "$W/nginx/logs" "$W/src"
chmod 755 "$W" "$W/www"   # nginx workers run as www-data
"$W/kura" serve --listen 127.0.0.1:$KP --data "$W/kura-data" >"$W/kura.log" 2>&1 & PID[kura]=$!

cat >"$W/dist.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/dist-data
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DP
EOF
env -u REGISTRY_AUTH_FILE /usr/bin/docker-registry serve "$W/dist.yml" >"$W/dist.log" 2>&1 & PID[dist]=$!

cat >"$W/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NP;
    root $W/www;
  }
}
EOF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log" >"$W/nginx/logs/stdout" 2>&1 & PID[nginx]=$!

# The same kura, serving an enterprise instance: its Internet endpoint admits through a
# 10,000-entry allowlist, requests carry a registry token, every decision is an audit line.
ENT_HOST=ent-registry.r1.bench.test; ENT_ADMIN_TOKEN=bench-admin-token-0123456789
ENT_PASS=bench-password-0123; ENT_URL=http://127.0.0.1:$EP
cat >"$W/kura-ent.yml" <<YAML
listen: ""
data: $W/kura-ent-data
domain: bench.test
token_ttl: 3600
endpoints:
  - {listen: 127.0.0.1:$EP, endpoint: internet}
admin:
  listen: 127.0.0.1:$AP
  accounts: {A: {token: $ENT_ADMIN_TOKEN}}
log:
  audit: $W/kura-ent-audit.log
YAML
"$W/kura" serve --config "$W/kura-ent.yml" >"$W/kura-ent.log" 2>&1 & PID[kura_ent]=$!

waitfor "${BASE[kura]}/v2/"; waitfor "${BASE[dist]}/v2/"; waitfor "${BASE[nginx]}/"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$AP/" && break; sleep 0.1; done

rss_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # PID FIELD
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }              # METRIC TARGET ROUND VALUE P99
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
order() { if [ $(($1 % 2)) = 1 ]; then echo "$2"; else echo "$2" | tr ' ' '\n' | tac | tr '\n' ' '; fi; }
say() { echo "[$(date +%T)] $*"; }

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_START_K=$(rss_kib "${PID[kura]}" VmRSS); RSS_START_D=$(rss_kib "${PID[dist]}" VmRSS)

# ------------------------------------------------------------------ test data
sha() { sha256sum "$1" | cut -d' ' -f1; }
# A small image: config, one 4 KiB layer, manifest; the manifest is also nginx's small file.
head -c 4096 /dev/urandom >"$W/src/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$(sha "$W/src/layer")" >"$W/src/config"
CFG_D=sha256:$(sha "$W/src/config"); LAYER_D=sha256:$(sha "$W/src/layer")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$OCI_M" "$CFG_D" "$(stat -c%s "$W/src/config")" "$LAYER_D" 4096 >"$W/src/manifest"
MAN_D=sha256:$(sha "$W/src/manifest")
cp "$W/src/manifest" "$W/www/small.json"
printf '%s %s\n%s %s\n' "$W/src/config" "$CFG_D" "$W/src/layer" "$LAYER_D" >"$W/src/image.list"
say "generating the ${BIG_MIB} MiB blob"
head -c $((BIG_MIB * MiB)) /dev/urandom >"$W/www/big"

# Tag and catalog URL lists.
for i in $(seq 0 $((TAGS - 1))); do printf '/v2/bench/tags10k/manifests/t%05d\n' "$i"; done >"$W/src/tags10k.urls"
for i in $(seq 0 $((REPOS - 1))); do printf '/v2/cat/r%04d/blobs/uploads/?mount=%s&from=bench/app\n' "$i" "$CFG_D"; done >"$W/src/cat-mount1.urls"
for i in $(seq 0 $((REPOS - 1))); do printf '/v2/cat/r%04d/blobs/uploads/?mount=%s&from=bench/app\n' "$i" "$LAYER_D"; done >"$W/src/cat-mount2.urls"
for i in $(seq 0 $((REPOS - 1))); do printf '/v2/cat/r%04d/manifests/v1\n' "$i"; done >"$W/src/cat-manifest.urls"
# Catalog pages of PAGE entries: the names sort, so every page's "last" is known beforehand.
{ printf '/v2/_catalog?n=%d&last=cat\n' $PAGE
  for i in $(seq $((PAGE - 1)) $PAGE $((REPOS - 2))); do printf '/v2/_catalog?n=%d&last=cat/r%04d\n' $PAGE "$i"; done
} >"$W/src/catalog.urls"
CAT_PAGES=$(wc -l <"$W/src/catalog.urls")

lg() { "$LOADGEN" "$@" 2>>"$LOG"; }                 # loadgen, its stderr to the log
jqv() { jq -r "$1" <<<"$2"; }
# mount TARGET REPO: makes the small image's blobs present in REPO (cross-repository mount).
mount_image() {
  local c
  for d in "$CFG_D" "$LAYER_D"; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H 'Content-Length: 0' \
      "${BASE[$1]}/v2/$2/blobs/uploads/?mount=$d&from=bench/app")
    [ "$c" = 201 ] || { echo "run.sh: mount into $1 $2 answered $c" >&2; return 1; }
  done
}
check_json() { # what JSON: fails unless loadgen reported no error
  local e; e=$(jqv .errors "$2")
  [ "$e" = 0 ] || { echo "run.sh: $1: $2" >&2; return 1; }
}

# ------------------------------------------------------------------ seeding (identical on both)
for t in kura dist; do
  say "seeding $t"
  out=$(lg --push-list "$W/src/image.list" --url "${BASE[$t]}/v2/bench/app" --duration 30); check_json "$t image blobs" "$out"
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT -H "Content-Type: $OCI_M" \
    --data-binary @"$W/src/manifest" "${BASE[$t]}/v2/bench/app/manifests/latest")
  [ "$c" = 201 ] || { echo "run.sh: $t manifest PUT answered $c" >&2; exit 1; }
  mount_image $t bench/tags10k
  out=$(lg --url "${BASE[$t]}/" --url-file "$W/src/tags10k.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections 8 --threads 1 --max-requests $TAGS --duration 300)
  check_json "$t tags" "$out"; echo "$t seed $TAGS tags: $out" >>"$LOG"
  for f in cat-mount1 cat-mount2; do
    out=$(lg --url "${BASE[$t]}/" --url-file "$W/src/$f.urls" --method POST --connections 8 --threads 1 \
      --max-requests $REPOS --duration 300)
    check_json "$t $f" "$out"
  done
  out=$(lg --url "${BASE[$t]}/" --url-file "$W/src/cat-manifest.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections 8 --threads 1 --max-requests $REPOS --duration 300)
  check_json "$t catalog repos" "$out"; echo "$t seed $REPOS repos: $out" >>"$LOG"
  # Sanity: the first catalog page starts at cat/r0000 and is full; the tag list is complete.
  first=$(curl -s --max-time 30 "${BASE[$t]}$(head -1 "$W/src/catalog.urls")" | jq -r '.repositories | "\(.[0]) \(length)"')
  [ "$first" = "cat/r0000 $PAGE" ] || { echo "run.sh: $t catalog page 1: $first" >&2; exit 1; }
  n=$(curl -s --max-time 30 "${BASE[$t]}/v2/bench/tags10k/tags/list" | jq '.tags | length')
  [ "$n" = "$TAGS" ] || { echo "run.sh: $t tags list has $n tags, want $TAGS" >&2; exit 1; }
done

# The enterprise instance: created closed, opened to 10,000 sources (127.0.0.1 among them).
say "seeding the enterprise instance (10,000-entry allowlist, token)"
admin() { # METHOD PATH [JSON or @FILE]
  curl -sf --max-time 30 -X "$1" -H "Authorization: Bearer $ENT_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$AP/api/v1$2" >/dev/null
}
admin POST /instances '{"name":"ent","region":"r1","edition":"enterprise"}'
admin POST /instances/ent/internet/enable
python3 -c '
import json
entries = [{"cidr": "10.%d.%d.%d/32" % (i >> 16, (i >> 8) & 255, i & 255), "description": "bench %d" % i}
           for i in range(9999)] + [{"cidr": "127.0.0.1/32", "description": "the load generator"}]
print(json.dumps({"entries": entries}))' >"$W/src/allowlist.json"
admin PUT /instances/ent/internet/allowlist "@$W/src/allowlist.json"
admin PUT /instances/ent/credentials/bench "{\"password\":\"$ENT_PASS\"}"
ENT=(-u "bench:$ENT_PASS" -H "Host: $ENT_HOST")
for pair in "$W/src/config $CFG_D" "$W/src/layer $LAYER_D"; do
  read -r file digest <<<"$pair"
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${ENT[@]}" -H 'Expect:' -X POST \
    --data-binary @"$file" "$ENT_URL/v2/bench/app/blobs/uploads/?digest=$digest")
  [ "$c" = 201 ] || { echo "run.sh: enterprise blob push answered $c" >&2; exit 1; }
done
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${ENT[@]}" -X PUT -H "Content-Type: $OCI_M" \
  --data-binary @"$W/src/manifest" "$ENT_URL/v2/bench/app/manifests/latest")
[ "$c" = 201 ] || { echo "run.sh: enterprise manifest PUT answered $c" >&2; exit 1; }
ENT_TOKEN=$(curl -s --max-time 10 "${ENT[@]}" \
  "$ENT_URL/token?service=$ENT_HOST&scope=repository:bench/app:pull" | jq -r .token)
[ -n "$ENT_TOKEN" ] && [ "$ENT_TOKEN" != null ] || { echo "run.sh: no enterprise token" >&2; exit 1; }
ENT_H=(--header "Host: $ENT_HOST" --header "Authorization: Bearer $ENT_TOKEN")
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Host: $ENT_HOST" \
  -H "Authorization: Bearer $ENT_TOKEN" "$ENT_URL/v2/bench/app/manifests/latest")
[ "$c" = 200 ] || { echo "run.sh: enterprise manifest GET with the token answered $c" >&2; exit 1; }

# ------------------------------------------------------------------ durability check
# Counts fsync-family calls per blob push and per tag PUT (strace attached to the server).
fsyncs() { # TARGET WHAT -- command...: prints the number of fsync/fdatasync/sync_file_range calls
  local t=$1 what=$2; shift 3
  strace -f -qq -c -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$W/strace-$t-$what" -p "${PID[$t]}" & local sp=$!
  sleep 0.5; "$@" >/dev/null; sleep 0.3
  kill -INT $sp; wait $sp 2>/dev/null || true
  if [ -e "$W/strace-$t-$what" ]; then
    awk '$NF ~ /^(fsync|fdatasync|sync_file_range|syncfs)$/ {n += $4} END {print n + 0}' "$W/strace-$t-$what"
  else echo "?"; fi
}
head -c $MiB /dev/urandom >"$W/src/dur.blob"
printf '%s sha256:%s\n' "$W/src/dur.blob" "$(sha "$W/src/dur.blob")" >"$W/src/dur.list"
for i in $(seq 0 9); do printf '/v2/bench/dur/manifests/d%d\n' "$i"; done >"$W/src/dur.urls"
DURABILITY=""
for t in kura dist; do
  mount_image $t bench/dur
  b=$(fsyncs $t blob -- lg --push-list "$W/src/dur.list" --url "${BASE[$t]}/v2/bench/dur" --duration 30)
  m=$(fsyncs $t tags -- lg --url "${BASE[$t]}/" --url-file "$W/src/dur.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections 1 --threads 1 --max-requests 10 --duration 30)
  DURABILITY+="$t: $b fsync-family calls for one 1 MiB blob push, $m for 10 tag PUTs"$'\n'
done
echo "$DURABILITY" >>"$LOG"

# ------------------------------------------------------------------ measurements
# Blob push of the big file, monolithic (POST, then one PUT with the body) with curl.
push_mono() { # TARGET ROUND REPO FILE DIGEST
  local t=$1 r=$2 repo=$3 f=$4 d=$5 t0 t1 loc code
  t0=$(now)
  loc=$(curl -s -D - -o /dev/null --max-time 10 -X POST -H 'Content-Length: 0' "${BASE[$t]}/v2/$repo/blobs/uploads/" |
    awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
  [ -n "$loc" ] || { echo "run.sh: $t POST upload gave no Location" >&2; return 1; }
  case $loc in http*) ;; *) loc=${BASE[$t]}$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 600 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$f" "$loc")
  t1=$(now)
  [ "$code" = 201 ] || { echo "run.sh: $t monolithic PUT answered $code" >&2; return 1; }
  rec push_mono $t "$r" "$(awk -v s="$(stat -c%s "$f")" -v e="$(elapsed "$t0" "$t1")" 'BEGIN {printf "%.1f", s / e / 1048576}')" ""
}

# The same in CHUNK-byte PATCHes, then an empty PUT (loadgen: one keep-alive connection).
push_chunked() { # TARGET ROUND REPO LIST
  local out
  out=$(lg --push-list "$4" --url "${BASE[$1]}/v2/$3" --chunk-size $CHUNK --duration 600)
  check_json "$1 chunked push" "$out"
  rec push_chunked "$1" "$2" "$(jqv .mib_per_s "$out")" ""
}

push_small() { # METRIC TARGET ROUND REPO LIST CONNECTIONS
  local out
  out=$(lg --push-list "$5" --url "${BASE[$2]}/v2/$4" --connections "$6" --duration 300)
  check_json "$2 $1" "$out"
  rec "$1" "$2" "$3" "$(jqv .blobs_per_s "$out")" ""
}

pull_big() { # TARGET ROUND URL: one warm-up pull, then the timed one (MiB/s)
  local out
  curl -s -o /dev/null --max-time 300 "$3"
  out=$(curl -s -o /dev/null --max-time 300 -w '%{http_code} %{size_download} %{time_total}' "$3")
  set -- "$1" "$2" "$3" $out
  [ "$4" = 200 ] && [ "$5" = $((BIG_MIB * MiB)) ] || { echo "run.sh: $1 pull: $out" >&2; return 1; }
  rec pull_big "$1" "$2" "$(awk -v s="$5" -v e="$6" 'BEGIN {printf "%.1f", s / e / 1048576}')" ""
}

# rate METRIC TARGET ROUND CONNECTIONS URL [loadgen args...]: requests/s and p99 (µs).
rate() {
  local m=$1 t=$2 r=$3 c=$4 u=$5 out; shift 5
  out=$(lg --url "$u" --connections "$c" --threads 2 --duration "$DUR" --warmup "$WARM" "$@")
  echo "$m $t r$r: $out" >>"$LOG"
  check_json "$t $m" "$out"
  rec "$m" "$t" "$r" "$(jqv .rate "$out")" "$(jqv .p99_us "$out")"
}

# Tag PUT of TAGS new tags in a new repository, sequential or 8 at a time (bounded in time).
tag_put() { # METRIC TARGET ROUND REPO CONNECTIONS
  local out
  mount_image "$2" "$4"
  for i in $(seq 0 $((TAGS - 1))); do printf '/v2/%s/manifests/p%05d\n' "$4" "$i"; done >"$W/src/tagput.urls"
  out=$(lg --url "${BASE[$2]}/" --url-file "$W/src/tagput.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections "$5" --threads 1 --max-requests $TAGS --duration $TAGPUT_LIMIT)
  echo "$1 $2 r$3: $out" >>"$LOG"
  check_json "$2 $1" "$out"
  rec "$1" "$2" "$3" "$(jqv .rate "$out")" "$(jqv .p99_us "$out")"
}

# Makes a new variant of the big blob (first bytes rewritten) and its push list.
variant() { # NAME: sets VAR_D
  printf 'kura-bench %s %s ' "$1" "$RANDOM$RANDOM" | dd of="$W/www/big" conv=notrunc status=none
  VAR_D=sha256:$(openssl dgst -sha256 -r "$W/www/big" | cut -d' ' -f1)
  printf '%s %s\n' "$W/www/big" "$VAR_D" >"$W/src/big.list"
  sync
}
smalls() { # NAME: SMALL_N new 1 MiB blobs and their push list
  local d=$W/src/small-$1
  rm -rf "$W"/src/small-*; mkdir -p "$d"
  head -c $((SMALL_N * MiB)) /dev/urandom | split -b $MiB -d -a 4 - "$d/b"
  sha256sum "$d"/b* | awk '{print $2, "sha256:" $1}' >"$d.list"
  sync
}

MAN_H=("--header" "Accept: $OCI_M")
for r in $(seq 1 "$ROUNDS"); do
  two=$(order "$r" "kura dist"); three=$(order "$r" "kura dist nginx")
  for t in kura dist; do
    for f in VmRSS:rss_idle RssAnon:rss_idle_anon RssFile:rss_idle_file; do
      rec "${f#*:}" $t "$r" "$(awk -v k="$(rss_kib "${PID[$t]}" "${f%%:*}")" 'BEGIN {printf "%.1f", k / 1024}')" ""
    done
    # Where the resident memory is, mapping by mapping (KiB), for whoever digs into it.
    { echo "$t r$r resident mappings over 100 KiB:"
      awk '/^[0-9a-f]+-/ {m = $1 " " $2 " " $6} /^Rss:/ && $2 > 100 {print "  " $2, m}' "/proc/${PID[$t]}/smaps"; } >>"$LOG"
  done

  say "round $r/$ROUNDS: push ${BIG_MIB} MiB monolithic"
  variant "mono-r$r"
  for t in $two; do push_mono $t "$r" bench/big "$W/www/big" "$VAR_D"; done
  say "round $r/$ROUNDS: push ${BIG_MIB} MiB in $((CHUNK / MiB)) MiB chunks"
  variant "chunked-r$r"
  for t in $two; do push_chunked $t "$r" bench/big "$W/src/big.list"; done
  say "round $r/$ROUNDS: pull ${BIG_MIB} MiB"
  for t in $three; do
    if [ $t = nginx ]; then u=${BASE[nginx]}/big; else u=${BASE[$t]}/v2/bench/big/blobs/$VAR_D; fi
    pull_big $t "$r" "$u"
  done
  say "round $r/$ROUNDS: push $SMALL_N x 1 MiB, sequential and 8 at a time"
  smalls "seq-r$r"; for t in $two; do push_small push_small_seq $t "$r" bench/small "$W/src/small-seq-r$r.list" 1; done
  smalls "par-r$r"; for t in $two; do push_small push_small_par $t "$r" bench/small "$W/src/small-par-r$r.list" 8; done

  say "round $r/$ROUNDS: request rates (64 connections, ${DUR} s each)"
  for t in $three; do
    if [ $t = nginx ]; then rate small_file nginx "$r" 64 "${BASE[nginx]}/small.json"; continue; fi
    rate manifest_get $t "$r" 64 "${BASE[$t]}/v2/bench/app/manifests/latest" "${MAN_H[@]}"
    rec rss_load $t "$r" "$(awk -v k="$(rss_kib "${PID[$t]}" VmRSS)" 'BEGIN {printf "%.1f", k / 1024}')" ""
  done
  for t in $two; do rate manifest_head $t "$r" 64 "${BASE[$t]}/v2/bench/app/manifests/$MAN_D" --method HEAD "${MAN_H[@]}"; done
  for t in $two; do rate blob_head $t "$r" 64 "${BASE[$t]}/v2/bench/app/blobs/$LAYER_D" --method HEAD; done
  for t in $two; do rate base_get $t "$r" 64 "${BASE[$t]}/v2/"; done
  # The same rates through the enterprise instance: what the exposure checks cost. The plain
  # registry gets the very same request bytes (it ignores Host and the token), and the two are
  # measured in short alternating slices, so that neither the header bytes nor a change in the
  # machine's load between two measurements counts as a cost.
  say "round $r/$ROUNDS: plain vs enterprise instance, $EXPO_SLICES alternating slices of ${EXPO_DUR} s"
  for s in $(seq "$EXPO_SLICES"); do
    for t in $(order $((r + s)) "kura_hdr kura_ent"); do
      if [ $t = kura_ent ]; then u=$ENT_URL; else u=${BASE[kura]}; fi
      DUR=$EXPO_DUR WARM=0.2 rate manifest_get $t "$r" 64 "$u/v2/bench/app/manifests/latest" "${ENT_H[@]}" "${MAN_H[@]}"
      DUR=$EXPO_DUR WARM=0.2 rate manifest_head $t "$r" 64 "$u/v2/bench/app/manifests/$MAN_D" --method HEAD "${ENT_H[@]}" "${MAN_H[@]}"
      DUR=$EXPO_DUR WARM=0.2 rate blob_head $t "$r" 64 "$u/v2/bench/app/blobs/$LAYER_D" --method HEAD "${ENT_H[@]}"
      DUR=$EXPO_DUR WARM=0.2 rate base_get $t "$r" 64 "$u/v2/" "${ENT_H[@]}"
    done
  done

  say "round $r/$ROUNDS: tags list ($TAGS tags), catalog ($REPOS repositories, $CAT_PAGES pages)"
  for t in $two; do rate tags_list $t "$r" 8 "${BASE[$t]}/v2/bench/tags10k/tags/list"; done
  for t in $two; do rate catalog_page $t "$r" 8 "${BASE[$t]}/" --url-file "$W/src/catalog.urls"; done

  say "round $r/$ROUNDS: tag PUT ($TAGS tags, at most $TAGPUT_LIMIT s), sequential and 8 at a time"
  for t in $two; do tag_put tag_put_seq $t "$r" "tagput/r$r-seq" 1; done
  for t in $two; do tag_put tag_put_par $t "$r" "tagput/r$r-par" 8; done
done
for t in kura dist; do rec rss_peak $t 0 "$(awk -v k="$(rss_kib "${PID[$t]}" VmHWM)" 'BEGIN {printf "%.1f", k / 1024}')" ""; done

# ------------------------------------------------------------------ a login flood's bystander
# A server of its own (bench/login_flood.sh): one tenant's token pulls, alone and while another
# tenant's endpoint takes a flood of wrong passwords. Its rows go into the same results.tsv.
say "bystander pull latency, alone and under a login flood"
BENCH_TSV=$TSV BENCH_ROUNDS=$ROUNDS BENCH_DURATION=$DUR BENCH_FLOOD_PORT=$((PORT + 20)) \
  "$HERE/login_flood.sh" "$W/kura" >>"$LOG" 2>&1

# ------------------------------------------------------------------ instructions per request
# Rates move with whatever else the machine runs; the instructions kura executes per request do
# not. Both kura servers are restarted under callgrind on their own data (the enterprise World,
# its token key and the image persist) and each request is counted over IR_REQUESTS requests.
say "instructions per request (callgrind): plain, plain with the enterprise headers, enterprise"
stop() { # NAME: stops one server by its PID
  kill "${PID[$1]}" 2>/dev/null
  for _ in $(seq 100); do kill -0 "${PID[$1]}" 2>/dev/null || break; sleep 0.1; done
  wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"
}
stop kura; stop kura_ent
CG=(valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.%p")
"${CG[@]}" "$W/kura" serve --listen 127.0.0.1:$KP --data "$W/kura-data" >"$W/kura-cg.log" 2>&1 & PID[kura]=$!
"${CG[@]}" "$W/kura" serve --config "$W/kura-ent.yml" >"$W/kura-ent-cg.log" 2>&1 & PID[kura_ent]=$!
for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "${BASE[kura]}/v2/" && break; sleep 0.2; done
for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "${ENT_H[@]/--header/-H}" "$ENT_URL/v2/" && break; sleep 0.2; done
instructions() { # METRIC TARGET URL [loadgen args]: records instructions per request
  local m=$1 t=$2 u=$3 pid f ir out n; shift 3
  pid=${PID[kura]}; [ "$t" = kura_ent ] && pid=${PID[kura_ent]}
  lg --url "$u" --connections 8 --threads 1 --max-requests 300 --duration 60 "$@" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  out=$(lg --url "$u" --connections 8 --threads 1 --max-requests "$IR_REQUESTS" --duration 120 "$@")
  check_json "$t $m (callgrind)" "$out"
  callgrind_control -d "$pid" >/dev/null
  f=$(ls -t "$W"/callgrind."$pid"* | head -1)
  ir=$(awk '$1 == "summary:" || $1 == "totals:" {print $2; exit}' "$f")
  n=$(jqv .requests "$out")
  rec "ir_$m" "$t" 1 "$((ir / n))" ""
}
for m in manifest_get manifest_head blob_head base_get; do
  case $m in
    manifest_get) path=/v2/bench/app/manifests/latest; extra=("${MAN_H[@]}") ;;
    manifest_head) path=/v2/bench/app/manifests/$MAN_D; extra=(--method HEAD "${MAN_H[@]}") ;;
    blob_head) path=/v2/bench/app/blobs/$LAYER_D; extra=(--method HEAD) ;;
    base_get) path=/v2/; extra=() ;;
  esac
  instructions "$m" kura "${BASE[kura]}$path" "${extra[@]}"
  instructions "$m" kura_hdr "${BASE[kura]}$path" "${ENT_H[@]}" "${extra[@]}"
  instructions "$m" kura_ent "$ENT_URL$path" "${ENT_H[@]}" "${extra[@]}"
done

# ------------------------------------------------------------------ load tool check against wrk
say "loadgen vs wrk (GET, 2 threads, 64 connections, ${DUR} s)"
wrk_rate() { wrk -t2 -c64 -d"${DUR}s" --latency "$@" 2>>"$LOG" | awk '/Requests\/sec/ {print $2}'; }
TOOLCHECK=""
for w in nginx:/small.json kura:/v2/bench/app/manifests/latest dist:/v2/bench/app/manifests/latest; do
  t=${w%%:*}; u=${BASE[$t]}${w#*:}
  a=$(jqv .rate "$(lg --url "$u" --connections 64 --threads 2 --duration "$DUR" --header "Accept: $OCI_M")")
  b=$(wrk_rate -H "Accept: $OCI_M" "$u")
  TOOLCHECK+="$t"$'\t'"${w#*:}"$'\t'"$a"$'\t'"$b"$'\n'
done

# ------------------------------------------------------------------ report
cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
sha_k=$(openssl speed -evp sha256 -bytes 1048576 -seconds 1 2>/dev/null | awk '/^sha256/ {print $NF}' | tr -d k)
git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || git_rev="$git_rev+dirty"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "loadavg_start=$LOADAVG_START"
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nproc=$(nproc)"
  echo "cpu=$cpu"
  echo "mem=$(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "kernel=$(uname -r)"
  echo "sha256_kbps=$sha_k"
  echo "kura=$("$W/kura" --version 2>&1 | head -1) (git $git_rev)"
  echo "distribution=$(/usr/bin/docker-registry --version 2>&1 | awk '{print $NF}')"
  echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
  echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  echo "curl=$(curl --version | head -1 | awk '{print $2}')"
  echo "rounds=$ROUNDS"
  echo "quick=$QUICK"
  echo "duration=$DUR"
  echo "expo_slices=$EXPO_SLICES"
  echo "ir_requests=$IR_REQUESTS"
  echo "big_mib=$BIG_MIB"
  echo "small_n=$SMALL_N"
  echo "tags=$TAGS"
  echo "repos=$REPOS"
  echo "pages=$CAT_PAGES"
  echo "page=$PAGE"
  echo "tagput_limit=$TAGPUT_LIMIT"
  echo "rss_start_kura=$RSS_START_K"
  echo "rss_start_dist=$RSS_START_D"
} >"$W/info"
printf '%s' "$DURABILITY" >"$W/durability"
printf '%s' "$TOOLCHECK" >"$W/toolcheck"
cp "$TSV" "$W/info" "$W/durability" "$W/toolcheck" "$HERE/work/" 2>/dev/null || true
out=$(python3 "$HERE/report.py" "$W")
echo "$out"
if [ "${BENCH_NO_RESULTS:-0}" != 1 ]; then
  mkdir -p "$HERE/results"
  suffix=; [ "$QUICK" = 1 ] && suffix=-quick
  f=$HERE/results/$(date +%F)$suffix.md
  echo "$out" >"$f"
  echo "run.sh: wrote $f"
  if [ "$QUICK" != 1 ] && grep -q '^## Latest summary' "$HERE/README.md"; then
    # bench/README.md ends with the latest full run's targets.
    { sed '/^## Latest summary/q' "$HERE/README.md"; echo; python3 "$HERE/report.py" "$W" --summary "$(basename "$f")"; } >"$W/README.md"
    cp "$W/README.md" "$HERE/README.md"
    echo "run.sh: updated $HERE/README.md"
  fi
fi
