#!/usr/bin/env bash
# bench/cluster.sh KURA_BIN: kura's scale-out configuration (metadata in PostgreSQL, blobs in S3)
# against CNCF distribution 2.8.2 with its S3 driver, on one Ceph gateway and one PostgreSQL
# started here, all on 127.0.0.1 (issue 11). Three parts, each in BENCH_ROUNDS rounds with the
# order of the servers alternating from round to round:
#
#   1. one kura node against distribution: 1 GiB monolithic push (POST, then one PUT with the
#      body: the same requests to both), the first pull of that blob right after its push and a
#      second pull, GET manifest by tag and HEAD blob (64 connections), tag PUT (sequential and 8
#      at a time); distribution's pull also through a second distribution that redirects clients
#      to the gateway (its default; the first one streams the bytes itself, as kura does);
#   2. three kura nodes behind haproxy against one node behind the same haproxy (and the node
#      without haproxy): GET manifest and HEAD blob, as requests per CPU second of the kura
#      processes;
#   3. for every measurement of 1 and 2, the CPU seconds (user + system, /proc/PID/stat before
#      and after) of each kura node, distribution, haproxy, radosgw, ceph-osd, ceph-mon, every
#      PostgreSQL process and the client: where the time goes;
# then bench/embedded.sh on the same binary (the default single-node stores: SQLite and files)
# for tag PUT under equal durability and a fresh blob's first pull.
#
# PostgreSQL runs with its durability on (PG_DURABLE=1 scripts/pg-up.sh: fsync,
# synchronous_commit, full_page_writes), as kura's "acknowledged means durable" requires; the
# settings and the WAL syncs per tag PUT are in the results. The results page goes to
# bench/results/<date>-cluster.md (quick runs: <date>-cluster-quick.md).
#
# Environment:
#   BENCH_QUICK=1       64 MiB blobs, 1 round, 1 s rates: a smoke run of a few minutes
#   BENCH_ROUNDS=N      rounds (default 3; 1 when quick)
#   BENCH_DURATION=S    seconds per request-rate measurement (default 5; 1 when quick)
#   BENCH_PORT=P        first of the bench's loopback ports (default 18700; P..P+45)
#   PG_PORT, RGW_PORT, MON_V2_PORT, MON_V1_PORT   PostgreSQL and Ceph (default 5460, 7500, 3330,
#                       6780: not 6800, the first of the ports 6800-7300 OSDs bind, where
#                       another engineer's OSD may sit)
#   BENCH_EMBEDDED=0    skip bench/embedded.sh
#   BENCH_KEEP=1        keep bench/work/cluster.* (logs, data) after the run
#   BENCH_NO_RESULTS=1  print the page but do not write bench/results/
#
# Every process is started here and stopped by its PID on exit (Ceph by scripts/ceph-down.sh,
# PostgreSQL by scripts/pg-down.sh); every loop is bounded in count and every client call in time.
set -euo pipefail

KURA_SRC=${1:?usage: bench/cluster.sh KURA_BIN}
[ -x "$KURA_SRC" ] || { echo "cluster.sh: $KURA_SRC is not executable" >&2; exit 2; }
KURA_SRC=$(readlink -f "$KURA_SRC")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

for tool in haproxy docker-registry ceph-osd radosgw curl jq openssl python3 strace pgrep; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool is missing (scripts/setup.sh test)" >&2; exit 2; }
done
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || { echo "cluster.sh: no PostgreSQL server" >&2; exit 2; }
"$KURA_SRC" db migrate --help >/dev/null 2>&1 || { echo "cluster.sh: $KURA_SRC has no 'kura db migrate'" >&2; exit 2; }
LOADGEN=$("$HERE/build.sh")

# ------------------------------------------------------------------ parameters
QUICK=${BENCH_QUICK:-0}
MiB=$((1 << 20))
if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1}; DUR=${BENCH_DURATION:-1}; WARM=0.2
  BIG_MIB=64; TAGS=200; TAGPUT_LIMIT=3
else
  ROUNDS=${BENCH_ROUNDS:-3}; DUR=${BENCH_DURATION:-5}; WARM=0.5
  BIG_MIB=1024; TAGS=3000; TAGPUT_LIMIT=10
fi
PART=$((16 * MiB))  # kura's S3 part size (S3BlobStore::kPartBytes); distribution's chunksize too
PORT=${BENCH_PORT:-18700}
NODES=3
node_port() { echo $((PORT + $1)); }          # node N's registry: P+1..P+3
health_port() { echo $((PORT + 10 + $1)); }   # node N's /readyz: P+11..P+13
HA1_PORT=$((PORT + 21))                       # haproxy in front of node 1 alone
HA3_PORT=$((PORT + 23))                       # haproxy in front of nodes 1..3
DP=$((PORT + 30)); DRP=$((PORT + 31))         # distribution; distribution redirecting pulls
PG_PORT=${PG_PORT:-5460}
export RGW_PORT=${RGW_PORT:-7500} MON_V2_PORT=${MON_V2_PORT:-3330} MON_V1_PORT=${MON_V1_PORT:-6780}
LB_SOURCE=127.0.0.2   # haproxy connects from it; the nodes trust PROXY headers from it only
declare -A BASE=([kura]=http://127.0.0.1:$(node_port 1) [dist]=http://127.0.0.1:$DP
                 [dist_redir]=http://127.0.0.1:$DRP [ha1]=http://127.0.0.1:$HA1_PORT
                 [ha3]=http://127.0.0.1:$HA3_PORT)
OCI_M=application/vnd.oci.image.manifest.v1+json
TCK=$(getconf CLK_TCK)

mkdir -p "$HERE/work"
W=$(mktemp -d "$HERE/work/cluster.XXXXXX")
chmod 755 "$W"   # PostgreSQL runs as the user postgres and must reach W/pg
SHM=$(mktemp -d /dev/shm/kura-cluster-bench.XXXXXX)   # the client's blob, in memory
TSV=$W/results.tsv; CPU_TSV=$W/cpu.tsv; : >"$TSV"; : >"$CPU_TSV"
LOG=$W/bench.log
echo "cluster.sh: work dir $W (log $LOG)"

# ------------------------------------------------------------------ processes
declare -A PID=()
STORES_UP=0
stop_all() {
  set +e
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  for n in "${!PID[@]}"; do
    for _ in $(seq 50); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null
    unset "PID[$n]"
  done
  if [ "$STORES_UP" = 1 ]; then
    "$REPO/scripts/pg-down.sh" "$W/pg" >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ]; then "$REPO/scripts/ceph-down.sh" "$W/ceph"
    else "$REPO/scripts/ceph-down.sh" "$W/ceph" --purge; fi
    STORES_UP=0
  fi
  set -e
}
cleanup() {
  stop_all
  rm -rf "$SHM"
  if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$(node_port 1)" "$(node_port 2)" "$(node_port 3)" "$(health_port 1)" "$(health_port 2)" \
  "$(health_port 3)" $HA1_PORT $HA3_PORT $DP $DRP "$PG_PORT" "$RGW_PORT" "$MON_V2_PORT" "$MON_V1_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "cluster.sh: port $p is in use (set BENCH_PORT, PG_PORT, RGW_PORT, MON_V2_PORT, MON_V1_PORT)" >&2; exit 2
  fi
done

say() { echo "[$(date +%T)] $*"; }
waitfor() { # URL [SECONDS]
  for _ in $(seq $((${2:-10} * 10))); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done
  echo "cluster.sh: $1 did not come up" >&2; return 1
}
cp "$KURA_SRC" "$W/kura"   # the build directory may be rebuilt under us

say "starting PostgreSQL (durable) on $PG_PORT and Ceph (RGW $RGW_PORT)"
STORES_UP=1
PG_DURABLE=1 "$REPO/scripts/pg-up.sh" "$W/pg" "$PG_PORT" >"$W/pg-up.log" 2>&1 &
pg_job=$!
STORE_BYTES=$((48 << 30)) "$REPO/scripts/ceph-up.sh" "$W/ceph" >"$W/ceph-up.log" 2>&1 ||
  { echo "cluster.sh: Ceph did not start; see $W/ceph-up.log" >&2; tail -5 "$W/ceph-up.log" >&2; exit 1; }
wait "$pg_job" || { echo "cluster.sh: PostgreSQL did not start" >&2; cat "$W/pg-up.log" >&2; exit 1; }
PG_URL=$(<"$W/pg/url")
PG_PID=$(sed -n 1p "$W/pg/postmaster.pid")
PSQL=("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -X -q -tA -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kura)
PG_SETTINGS=$("${PSQL[@]}" -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'server_version')")
case "$PG_SETTINGS" in
  *fsync=on*full_page_writes=on*synchronous_commit=on*) ;;
  *) echo "cluster.sh: PostgreSQL is not durable: $PG_SETTINGS" >&2; exit 1 ;;
esac
# shellcheck disable=SC1091
. "$W/ceph/s3.env"
RGW_PID=$(<"$W/ceph/run/client.rgw.a.pid"); OSD_PID=$(<"$W/ceph/run/osd.0.pid"); MON_PID=$(<"$W/ceph/run/mon.a.pid")
"$W/kura" db migrate --database "$PG_URL" >"$W/migrate.log" 2>&1 ||
  { echo "cluster.sh: kura db migrate failed" >&2; cat "$W/migrate.log" >&2; exit 1; }
s3curl() {
  curl -sS --fail --max-time 30 --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
s3curl -X PUT "$AWS_ENDPOINT_URL/dist-bench" -o /dev/null   # distribution does not create buckets

# ------------------------------------------------------------------ kura nodes, haproxy
for n in $(seq $NODES); do
  mkdir -p "$W/node$n"
  cat >"$W/node$n.yaml" <<EOF
# node $n (bench/cluster.sh): as scripts/cluster.sh writes them, without an access log
listen: 127.0.0.1:$(node_port "$n")
data: $W/node$n/data
threads: 2
proxy_protocol: [$LB_SOURCE/32]
log: {access: false}
metadata: {postgres: "$PG_URL"}
blobs:
  s3: {endpoint: "$AWS_ENDPOINT_URL", bucket: kura-bench, prefix: "", region: $AWS_REGION,
       access_key: $AWS_ACCESS_KEY_ID, secret_key: $AWS_SECRET_ACCESS_KEY}
health: {listen: 127.0.0.1:$(health_port "$n")}
EOF
done
start_node() {
  "$W/kura" serve --config "$W/node$1.yaml" >"$W/node$1/kura.log" 2>&1 & PID[node$1]=$!
}
start_node 1   # node 1 alone first: it creates the bucket the others then find
waitfor "http://127.0.0.1:$(health_port 1)/readyz" 20
for n in $(seq 2 $NODES); do start_node "$n"; done
for n in $(seq 2 $NODES); do waitfor "http://127.0.0.1:$(health_port "$n")/readyz" 20; done

servers() { # FIRST LAST
  for n in $(seq "$1" "$2"); do
    echo "  server node$n 127.0.0.1:$(node_port "$n") send-proxy-v2 check port $(health_port "$n")"
  done
}
mkdir -p "$W/haproxy"
cat >"$W/haproxy/haproxy.cfg" <<EOF
# bench/cluster.sh: the balancer of scripts/cluster.sh (TCP, PROXY v2, /readyz every 250 ms),
# once in front of node 1 alone and once in front of the three nodes
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 1s
  timeout client 10m
  timeout server 10m
  timeout check 1s
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 250ms fastinter 250ms downinter 250ms rise 2 fall 2
frontend one
  bind 127.0.0.1:$HA1_PORT
  default_backend one
frontend three
  bind 127.0.0.1:$HA3_PORT
  default_backend three
backend one
  source $LB_SOURCE
$(servers 1 1)
backend three
  balance roundrobin
  source $LB_SOURCE
$(servers 1 $NODES)
EOF
haproxy -c -q -f "$W/haproxy/haproxy.cfg" || { echo "cluster.sh: haproxy refuses its configuration" >&2; exit 1; }
haproxy -db -f "$W/haproxy/haproxy.cfg" >"$W/haproxy/haproxy.log" 2>&1 & PID[haproxy]=$!

# ------------------------------------------------------------------ distribution (S3 driver)
dist_config() { # PORT REDIRECT(true|false)
  cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    regionendpoint: $AWS_ENDPOINT_URL
    region: $AWS_REGION
    bucket: dist-bench
    accesskey: $AWS_ACCESS_KEY_ID
    secretkey: $AWS_SECRET_ACCESS_KEY
    secure: false
    v4auth: true
    chunksize: $PART
    rootdirectory: /
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  redirect:
    disable: $([ "$2" = true ] && echo false || echo true)
http:
  addr: 127.0.0.1:$1
EOF
}
dist_config $DP false >"$W/dist.yml"
dist_config $DRP true >"$W/dist-redir.yml"
# The Debian package's environment may hold REGISTRY_* settings (REGISTRY_AUTH_FILE among them),
# which override the file, and the AWS SDK reads AWS_* (AWS_CA_BUNDLE, set on this machine, makes
# distribution 2.8.2 panic: "unable to load custom CA bundle"): none reaches distribution.
unset_registry=()
for v in $(compgen -e | grep -E '^(REGISTRY_|AWS_)' || true); do unset_registry+=(-u "$v"); done
env -u REGISTRY_AUTH_FILE "${unset_registry[@]}" /usr/bin/docker-registry serve "$W/dist.yml" >"$W/dist.log" 2>&1 & PID[dist]=$!
env -u REGISTRY_AUTH_FILE "${unset_registry[@]}" /usr/bin/docker-registry serve "$W/dist-redir.yml" >"$W/dist-redir.log" 2>&1 & PID[dist_redir]=$!
for t in kura dist dist_redir ha1 ha3; do waitfor "${BASE[$t]}/v2/" 20; done
say "PostgreSQL $PG_SETTINGS; 3 kura nodes, haproxy, 2 distributions up"

# ------------------------------------------------------------------ CPU accounting
# Every process measured, as "GROUP PID" lines: each kura node, distribution, haproxy, the Ceph
# daemons, and PostgreSQL (the postmaster and all its children: kura's pooled backends persist,
# so a backend's CPU is in its own /proc/PID/stat).
group_pids() {
  local n p
  for n in $(seq $NODES); do echo "node$n ${PID[node$n]}"; done
  echo "dist ${PID[dist]}"; echo "dist_redir ${PID[dist_redir]}"; echo "haproxy ${PID[haproxy]}"
  echo "radosgw $RGW_PID"; echo "osd $OSD_PID"; echo "mon $MON_PID"; echo "pg $PG_PID"
  for p in $(pgrep -P "$PG_PID"); do echo "pg $p"; done
}
snap() { # prints "GROUP PID CPU_SECONDS" (utime + stime, fields 14 and 15 of /proc/PID/stat)
  group_pids | awk -v tck="$TCK" '{
    f = "/proc/" $2 "/stat"
    if ((getline line < f) > 0) { sub(/.*\) /, "", line); split(line, a, " "); print $1, $2, (a[12] + a[13]) / tck }
    close(f) }'
}
cpu_begin() { snap >"$W/snap0"; times >"$W/times0"; }
cpu_end() { times >"$W/times1"; snap >"$W/snap1"; }   # right after the measured command
# cpu_rec METRIC TARGET ROUND UNITS: appends "METRIC TARGET ROUND UNITS GROUP SECONDS" lines for
# the interval between cpu_begin and cpu_end; the client is this shell's waited-for children
# (`times`, second line: curl or loadgen).
cpu_rec() {
  local c
  c=$(cat "$W/times0" "$W/times1" | awk 'NR % 2 == 0 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }; v[NR / 2] = s }
    END { printf "%.2f", v[2] - v[1] }')
  awk -v m="$1" -v t="$2" -v r="$3" -v u="$4" -v c="$c" '
    NR == FNR { before[$2] = $3; next }
    { d[$1] += $3 - ($2 in before ? before[$2] : 0); if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    END { for (i = 1; i <= n; i++) printf "%s\t%s\t%s\t%s\t%s\t%.2f\n", m, t, r, u, order[i], d[order[i]]
          printf "%s\t%s\t%s\t%s\tclient\t%s\n", m, t, r, u, c }' "$W/snap0" "$W/snap1" >>"$CPU_TSV"
}

rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }   # METRIC TARGET ROUND VALUE P99
now() { echo "$EPOCHREALTIME"; }
order() { if [ $(($1 % 2)) = 1 ]; then echo "$2"; else echo "$2" | tr ' ' '\n' | tac | tr '\n' ' '; fi; }
lg() { "$LOADGEN" "$@" 2>>"$LOG"; }
jqv() { jq -r "$1" <<<"$2"; }
check_json() { # WHAT JSON: fails unless loadgen reported no error
  [ "$(jqv .errors "$2")" = 0 ] || { echo "cluster.sh: $1: $2" >&2; return 1; }
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ test data, seeding
mkdir -p "$W/src"
head -c 4096 /dev/urandom >"$W/src/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$(sha "$W/src/layer")" >"$W/src/config"
CFG_D=sha256:$(sha "$W/src/config"); LAYER_D=sha256:$(sha "$W/src/layer")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$OCI_M" "$CFG_D" "$(stat -c%s "$W/src/config")" "$LAYER_D" 4096 >"$W/src/manifest"
printf '%s %s\n%s %s\n' "$W/src/config" "$CFG_D" "$W/src/layer" "$LAYER_D" >"$W/src/image.list"
say "generating the ${BIG_MIB} MiB blob (in /dev/shm)"
head -c $((BIG_MIB * MiB)) /dev/urandom >"$SHM/big"

mount_image() { # TARGET REPO: the small image's blobs into REPO (cross-repository mount)
  local c d
  for d in "$CFG_D" "$LAYER_D"; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H 'Content-Length: 0' \
      "${BASE[$1]}/v2/$2/blobs/uploads/?mount=$d&from=bench/app")
    [ "$c" = 201 ] || { echo "cluster.sh: mount into $1 $2 answered $c" >&2; return 1; }
  done
}
for t in kura dist; do
  say "seeding $t"
  out=$(lg --push-list "$W/src/image.list" --url "${BASE[$t]}/v2/bench/app" --duration 60); check_json "$t image" "$out"
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X PUT -H "Content-Type: $OCI_M" \
    --data-binary @"$W/src/manifest" "${BASE[$t]}/v2/bench/app/manifests/latest")
  [ "$c" = 201 ] || { echo "cluster.sh: $t manifest PUT answered $c" >&2; exit 1; }
done
# The nodes behind haproxy see node 1's image (one database, one bucket).
for t in ha1 ha3; do
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Accept: $OCI_M" "${BASE[$t]}/v2/bench/app/manifests/latest")
  [ "$c" = 200 ] || { echo "cluster.sh: GET manifest through $t answered $c" >&2; exit 1; }
done

# ------------------------------------------------------------------ what one operation costs
# For one 1 MiB blob push, 10 tag PUTs, 100 GET manifests and 100 HEAD blobs on each server, and
# for 2 s of nothing (the stores' own background work): the fsync-family calls of the server, of
# PostgreSQL (the postmaster, its children and what they fork) and of the OSD (strace attached to
# each), and the S3 requests radosgw received (its "req" counter, from its admin socket).
fsync_count() { # OUTFILE PID...: starts strace counting until killed; prints its PID
  local out=$1 args=() p; shift
  for p in "$@"; do args+=(-p "$p"); done
  # its stdout is not the caller's $(...): that would wait for strace to end
  strace -f -qq -c -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$out" "${args[@]}" >/dev/null 2>&1 &
  echo $!
}
strace_total() { # FILE
  if [ -e "$1" ]; then awk '$NF ~ /^(fsync|fdatasync|sync_file_range|syncfs)$/ {n += $4} END {print n + 0}' "$1"; else echo "?"; fi
}
s3_requests() { ceph --admin-daemon "$W/ceph/run/client.rgw.a.asok" perf dump 2>/dev/null | jq '.rgw.req'; }
head -c $MiB /dev/urandom >"$W/src/dur.blob"
printf '%s sha256:%s\n' "$W/src/dur.blob" "$(sha "$W/src/dur.blob")" >"$W/src/dur.list"
for i in $(seq 0 9); do printf '/v2/bench/dur/manifests/d%d\n' "$i"; done >"$W/src/dur.urls"
operation() { # TARGET WHAT: runs it once
  case $2 in
    blob) lg --push-list "$W/src/dur.list" --url "${BASE[$1]}/v2/bench/dur" --duration 30 >/dev/null ;;
    tags) lg --url "${BASE[$1]}/" --url-file "$W/src/dur.urls" --method PUT --body-file "$W/src/manifest" \
      --header "Content-Type: $OCI_M" --connections 1 --threads 1 --max-requests 10 --duration 30 >/dev/null ;;
    get) lg --url "${BASE[$1]}/v2/bench/app/manifests/latest" --header "Accept: $OCI_M" --connections 1 \
      --threads 1 --max-requests 100 --duration 30 >/dev/null ;;
    head) lg --url "${BASE[$1]}/v2/bench/app/blobs/$LAYER_D" --method HEAD --connections 1 --threads 1 \
      --max-requests 100 --duration 30 >/dev/null ;;
    idle) sleep 2 ;;
  esac
}
declare -A OP_LABEL=([blob]="one 1 MiB blob push" [tags]="10 tag PUTs" [get]="100 GET manifest by tag"
                     [head]="100 HEAD blob" [idle]="nothing (the stores alone)")
DURABILITY=""
for t in idle kura dist; do
  whats="blob tags get head"; server=${PID[dist]}
  [ $t = kura ] && server=${PID[node1]}
  [ $t = idle ] && whats=idle
  [ $t = idle ] || mount_image $t bench/dur
  for what in $whats; do
    w0=$(now); sp_server=$(fsync_count "$W/strace-$t-$what-server" "$server")
    # shellcheck disable=SC2046
    sp_pg=$(fsync_count "$W/strace-$t-$what-pg" "$PG_PID" $(pgrep -P "$PG_PID"))
    sp_osd=$(fsync_count "$W/strace-$t-$what-osd" "$OSD_PID")
    sleep 1
    q0=$(s3_requests); operation $t $what; q1=$(s3_requests)
    sleep 0.5
    kill -INT "$sp_server" "$sp_pg" "$sp_osd"; wait "$sp_server" "$sp_pg" "$sp_osd" 2>/dev/null || true
    w1=$(now)
    srv=$(strace_total "$W/strace-$t-$what-server"); [ $t = idle ] && srv="–"
    DURABILITY+="$t"$'\t'"${OP_LABEL[$what]}"$'\t'"$srv"$'\t'"$(strace_total "$W/strace-$t-$what-pg")"$'\t'
    DURABILITY+="$(strace_total "$W/strace-$t-$what-osd")"$'\t'"$((q1 - q0))"$'\t'
    DURABILITY+="$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }')"$'\n'
  done
done
printf '%s' "$DURABILITY" >"$W/durability"
echo "$DURABILITY" >>"$LOG"

# ------------------------------------------------------------------ measurements
GIB=$(awk -v m=$BIG_MIB 'BEGIN { printf "%.4f", m / 1024 }')
variant() { # NAME: rewrites the big blob's first bytes; sets VAR_D
  printf 'kura-cluster-bench %s %s ' "$1" "$RANDOM$RANDOM" | dd of="$SHM/big" conv=notrunc status=none
  VAR_D=sha256:$(openssl dgst -sha256 -r "$SHM/big" | cut -d' ' -f1)
}
mibps() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", s / e / 1048576 }'; }

# POST, then one PUT ?digest= with the whole body (curl -T), timed together.
push_mono() { # TARGET ROUND REPO
  local t=$1 r=$2 loc code t0 t1
  cpu_begin; t0=$(now)
  loc=$(curl -s -D - -o /dev/null --max-time 30 -X POST -H 'Content-Length: 0' "${BASE[$t]}/v2/$3/blobs/uploads/" |
    awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
  [ -n "$loc" ] || { echo "cluster.sh: $t POST upload gave no Location" >&2; return 1; }
  case $loc in http*) ;; *) loc=${BASE[$t]}$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$VAR_D" ;; *) loc="$loc?digest=$VAR_D" ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 900 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$SHM/big" "$loc")
  cpu_end; t1=$(now); cpu_rec push_mono "$t" "$r" "$GIB"
  [ "$code" = 201 ] || { echo "cluster.sh: $t monolithic PUT answered $code" >&2; return 1; }
  rec push_mono "$t" "$r" "$(mibps $((BIG_MIB * MiB)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")" ""
}

pull() { # METRIC TARGET ROUND URL [curl args]
  local m=$1 t=$2 r=$3 u=$4 out; shift 4
  cpu_begin
  out=$(curl -s -o /dev/null --max-time 900 -w '%{http_code} %{size_download} %{time_total}' "$@" "$u")
  cpu_end; cpu_rec "$m" "$t" "$r" "$GIB"
  set -- $out
  [ "$1" = 200 ] && [ "$2" = $((BIG_MIB * MiB)) ] || { echo "cluster.sh: $t pull: $out" >&2; return 1; }
  rec "$m" "$t" "$r" "$(mibps "$2" "$3")" ""
}

rate() { # METRIC TARGET ROUND CONNECTIONS URL [loadgen args...]: requests/s, p99 (µs)
  local m=$1 t=$2 r=$3 c=$4 u=$5 out; shift 5
  cpu_begin
  out=$(lg --url "$u" --connections "$c" --threads 2 --duration "$DUR" --warmup "$WARM" "$@")
  cpu_end; cpu_rec "$m" "$t" "$r" "$(jqv .sent "$out")"
  echo "$m $t r$r: $out" >>"$LOG"
  check_json "$t $m" "$out"
  rec "$m" "$t" "$r" "$(jqv .rate "$out")" "$(jqv .p99_us "$out")"
}

tag_put() { # METRIC TARGET ROUND REPO CONNECTIONS: new tags until TAGS or TAGPUT_LIMIT s
  local out
  mount_image "$2" "$4"
  for i in $(seq 0 $((TAGS - 1))); do printf '/v2/%s/manifests/p%05d\n' "$4" "$i"; done >"$W/src/tagput.urls"
  cpu_begin
  out=$(lg --url "${BASE[$2]}/" --url-file "$W/src/tagput.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections "$5" --threads 1 --max-requests $TAGS --duration $TAGPUT_LIMIT)
  cpu_end; cpu_rec "$1" "$2" "$3" "$(jqv .sent "$out")"
  echo "$1 $2 r$3: $out" >>"$LOG"
  check_json "$2 $1" "$out"
  rec "$1" "$2" "$3" "$(jqv .rate "$out")" "$(jqv .p99_us "$out")"
}

MAN_H=(--header "Accept: $OCI_M")
for r in $(seq 1 "$ROUNDS"); do
  two=$(order "$r" "kura dist")
  say "round $r/$ROUNDS: push ${BIG_MIB} MiB monolithic, pull it at once, pull it again"
  variant "r$r"
  for t in $two; do
    push_mono "$t" "$r" bench/big
    pull pull_first "$t" "$r" "${BASE[$t]}/v2/bench/big/blobs/$VAR_D"
    pull pull_second "$t" "$r" "${BASE[$t]}/v2/bench/big/blobs/$VAR_D"
  done
  # distribution's default: a 307 to a presigned URL of the gateway, which the client follows.
  pull pull_second dist_redir "$r" "${BASE[dist_redir]}/v2/bench/big/blobs/$VAR_D" -L

  say "round $r/$ROUNDS: GET manifest, HEAD blob (64 connections, ${DUR} s)"
  for t in $two; do rate manifest_get "$t" "$r" 64 "${BASE[$t]}/v2/bench/app/manifests/latest" "${MAN_H[@]}"; done
  for t in $two; do rate blob_head "$t" "$r" 64 "${BASE[$t]}/v2/bench/app/blobs/$LAYER_D" --method HEAD; done

  say "round $r/$ROUNDS: tag PUT ($TAGS tags, at most $TAGPUT_LIMIT s), sequential and 8 at a time"
  for t in $two; do tag_put tag_put_seq "$t" "$r" "tagput/r$r-seq" 1; done
  for t in $two; do tag_put tag_put_par "$t" "$r" "tagput/r$r-par" 8; done

  say "round $r/$ROUNDS: 1 node vs 3 nodes behind haproxy (64 connections, ${DUR} s)"
  three=$(order "$r" "ha1 ha3 kura")
  for t in $three; do rate manifest_get "$t" "$r" 64 "${BASE[$t]}/v2/bench/app/manifests/latest" "${MAN_H[@]}"; done
  for t in $three; do rate blob_head "$t" "$r" 64 "${BASE[$t]}/v2/bench/app/blobs/$LAYER_D" --method HEAD; done
done

# ------------------------------------------------------------------ report data
cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
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
  echo "kura=$("$W/kura" --version 2>&1 | head -1) (git $git_rev)"
  echo "distribution=$(/usr/bin/docker-registry --version 2>&1 | awk '{print $NF}')"
  echo "haproxy=$(haproxy -v | head -1 | awk '{print $3}')"
  echo "ceph=$(ceph-osd --version | awk '{print $3}')"
  echo "postgres=$PG_SETTINGS"
  echo "rounds=$ROUNDS"
  echo "quick=$QUICK"
  echo "duration=$DUR"
  echo "big_mib=$BIG_MIB"
  echo "part_mib=$((PART / MiB))"
  echo "tags=$TAGS"
  echo "tagput_limit=$TAGPUT_LIMIT"
} >"$W/info"
stop_all
rm -f "$SHM/big"

# ------------------------------------------------------------------ the default stores
if [ "${BENCH_EMBEDDED:-1}" = 1 ]; then
  say "bench/embedded.sh: SQLite and files, tag PUT and a fresh blob's first pull"
  BENCH_OUT=$W/embedded BENCH_ROUNDS=$ROUNDS BENCH_QUICK=$QUICK BENCH_PORT=$((PORT + 40)) \
    BENCH_NO_RESULTS=1 "$HERE/embedded.sh" "$W/kura" >>"$LOG" 2>&1 ||
    { echo "cluster.sh: bench/embedded.sh failed; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

out=$(python3 "$HERE/cluster_report.py" "$W")
echo "$out"
if [ "${BENCH_NO_RESULTS:-0}" != 1 ]; then
  suffix=-cluster; [ "$QUICK" = 1 ] && suffix=-cluster-quick
  f=$HERE/results/$(date +%F)$suffix.md
  mkdir -p "$HERE/results"
  echo "$out" >"$f"
  echo "cluster.sh: wrote $f"
fi
