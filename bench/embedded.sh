#!/usr/bin/env bash
# bench/embedded.sh KURA_BIN: kura on its default single-node stores (SQLite, blobs in files under
# data/) against distribution 2.8.2 on its filesystem driver, both on this machine's disk, for two
# questions of issue 11 that bench/run.sh does not answer:
#
#   - tag PUT under the durability each now has: kura's SQLite commits with synchronous=FULL (the
#     WAL is fsynced at every commit); distribution fsyncs the files it writes. Measured as
#     bench/run.sh does (10,000 new tags, at most 25 s, sequential and 8 at a time), with the
#     fsync-family calls per tag PUT counted by strace;
#   - a fresh blob's first pull: 1 GiB pushed (POST, then one PUT with the body), then pulled at
#     once, as a CI pipeline does, and pulled a second time. Both write uploads through the page
#     cache (kura starts each buffer's writeback as it goes, sync_file_range), so the first pull
#     finds the blob there; kura sends it with sendfile.
#
# Rounds alternate the order of the two servers. The CPU seconds of each server and of the client
# are recorded per measurement. Without BENCH_OUT the page goes to
# bench/results/<date>-embedded.md (quick runs: -embedded-quick.md).
#
# Environment:
#   BENCH_QUICK=1      64 MiB, 1 round, 500 tags in at most 5 s
#   BENCH_ROUNDS=N     rounds (default 3; 1 when quick)
#   BENCH_PORT=P       kura on P, distribution on P+1 (default 18740)
#   BENCH_OUT=DIR      leave results.tsv, cpu.tsv, info and durability in DIR (bench/cluster.sh)
#   BENCH_TAGPUT_ONLY=1 the tag PUTs (and the durability count) only: no big blob, no pulls
#   BENCH_KEEP=1       keep the work directory; BENCH_NO_RESULTS=1: print the page only
#   BENCH_PULL_ONLY=1  only the push and the two pulls (no durability count, no tag PUT)
#
# Both servers are stopped by their PIDs on exit; every client call is bounded in time.
set -euo pipefail

KURA_SRC=${1:?usage: bench/embedded.sh KURA_BIN}
[ -x "$KURA_SRC" ] || { echo "embedded.sh: $KURA_SRC is not executable" >&2; exit 2; }
KURA_SRC=$(readlink -f "$KURA_SRC")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
for tool in docker-registry curl jq openssl python3 strace; do
  command -v "$tool" >/dev/null || { echo "embedded.sh: $tool is missing" >&2; exit 2; }
done
LOADGEN=$("$HERE/build.sh")

QUICK=${BENCH_QUICK:-0}
MiB=$((1 << 20))
if [ "$QUICK" = 1 ]; then ROUNDS=${BENCH_ROUNDS:-1}; BIG_MIB=64; TAGS=500; TAGPUT_LIMIT=5
else ROUNDS=${BENCH_ROUNDS:-3}; BIG_MIB=1024; TAGS=10000; TAGPUT_LIMIT=25; fi
PORT=${BENCH_PORT:-18740}
KP=$PORT; DP=$((PORT + 1))
declare -A BASE=([kura]=http://127.0.0.1:$KP [dist]=http://127.0.0.1:$DP)
OCI_M=application/vnd.oci.image.manifest.v1+json
TCK=$(getconf CLK_TCK)

mkdir -p "$HERE/work"
W=$(mktemp -d "$HERE/work/embedded.XXXXXX")   # the servers' data: on the disk, as deployed
SHM=$(mktemp -d /dev/shm/kura-embedded-bench.XXXXXX)   # the client's blob, in memory
OUT=${BENCH_OUT:-$W/out}
mkdir -p "$OUT"
TSV=$OUT/results.tsv; CPU_TSV=$OUT/cpu.tsv; : >"$TSV"; : >"$CPU_TSV"
LOG=$W/bench.log
echo "embedded.sh: work dir $W (log $LOG)"

declare -A PID=()
cleanup() {
  set +e
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  for n in "${!PID[@]}"; do
    for _ in $(seq 50); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null
  done
  rm -rf "$SHM"
  if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for p in $KP $DP; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "embedded.sh: port $p is in use (set BENCH_PORT)" >&2; exit 2; fi
done
say() { echo "[$(date +%T)] $*"; }
waitfor() {
  for _ in $(seq 100); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done
  echo "embedded.sh: $1 did not come up" >&2; return 1
}

cp "$KURA_SRC" "$W/kura"
mkdir -p "$W/kura-data" "$W/dist-data" "$W/src"
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
unset_registry=()
for v in $(compgen -e | grep '^REGISTRY_' || true); do unset_registry+=(-u "$v"); done
env -u REGISTRY_AUTH_FILE "${unset_registry[@]}" /usr/bin/docker-registry serve "$W/dist.yml" >"$W/dist.log" 2>&1 & PID[dist]=$!
waitfor "${BASE[kura]}/v2/"; waitfor "${BASE[dist]}/v2/"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ helpers
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }
now() { echo "$EPOCHREALTIME"; }
order() { if [ $(($1 % 2)) = 1 ]; then echo "$2"; else echo "$2" | tr ' ' '\n' | tac | tr '\n' ' '; fi; }
lg() { "$LOADGEN" "$@" 2>>"$LOG"; }
jqv() { jq -r "$1" <<<"$2"; }
check_json() { [ "$(jqv .errors "$2")" = 0 ] || { echo "embedded.sh: $1: $2" >&2; return 1; }; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
mibps() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", s / e / 1048576 }'; }
snap() {
  printf 'kura %s\ndist %s\n' "${PID[kura]}" "${PID[dist]}" | awk -v tck="$TCK" '{
    f = "/proc/" $2 "/stat"
    if ((getline line < f) > 0) { sub(/.*\) /, "", line); split(line, a, " "); print $1, $2, (a[12] + a[13]) / tck }
    close(f) }'
}
cpu_begin() { snap >"$W/snap0"; times >"$W/times0"; }
cpu_end() { times >"$W/times1"; snap >"$W/snap1"; }
cpu_rec() { # METRIC TARGET ROUND UNITS (as bench/cluster.sh)
  local c
  c=$(cat "$W/times0" "$W/times1" | awk 'NR % 2 == 0 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }; v[NR / 2] = s }
    END { printf "%.2f", v[2] - v[1] }')
  awk -v m="$1" -v t="$2" -v r="$3" -v u="$4" -v c="$c" '
    NR == FNR { before[$2] = $3; next }
    { printf "%s\t%s\t%s\t%s\t%s\t%.2f\n", m, t, r, u, $1, $3 - before[$2] }
    END { printf "%s\t%s\t%s\t%s\tclient\t%s\n", m, t, r, u, c }' "$W/snap0" "$W/snap1" >>"$CPU_TSV"
}

# ------------------------------------------------------------------ seeding, durability
head -c 4096 /dev/urandom >"$W/src/layer"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$(sha "$W/src/layer")" >"$W/src/config"
CFG_D=sha256:$(sha "$W/src/config"); LAYER_D=sha256:$(sha "$W/src/layer")
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$OCI_M" "$CFG_D" "$(stat -c%s "$W/src/config")" "$LAYER_D" 4096 >"$W/src/manifest"
printf '%s %s\n%s %s\n' "$W/src/config" "$CFG_D" "$W/src/layer" "$LAYER_D" >"$W/src/image.list"
mount_image() {
  local c d
  for d in "$CFG_D" "$LAYER_D"; do
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H 'Content-Length: 0' \
      "${BASE[$1]}/v2/$2/blobs/uploads/?mount=$d&from=bench/app")
    [ "$c" = 201 ] || { echo "embedded.sh: mount into $1 $2 answered $c" >&2; return 1; }
  done
}
for t in kura dist; do
  out=$(lg --push-list "$W/src/image.list" --url "${BASE[$t]}/v2/bench/app" --duration 30); check_json "$t image" "$out"
done
TAGPUT_ONLY=${BENCH_TAGPUT_ONLY:-0}
if [ "$TAGPUT_ONLY" != 1 ]; then
  say "generating the ${BIG_MIB} MiB blob (in /dev/shm)"
  head -c $((BIG_MIB * MiB)) /dev/urandom >"$SHM/big"
fi

fsyncs() { # TARGET WHAT -- command...: fsync-family calls of the server during the command
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
: >"$OUT/durability"
PULL_ONLY=${BENCH_PULL_ONLY:-0}
for t in kura dist; do
  [ "$PULL_ONLY" = 1 ] && break
  mount_image $t bench/dur
  b=$(fsyncs $t blob -- lg --push-list "$W/src/dur.list" --url "${BASE[$t]}/v2/bench/dur" --duration 30)
  m=$(fsyncs $t tags -- lg --url "${BASE[$t]}/" --url-file "$W/src/dur.urls" --method PUT --body-file "$W/src/manifest" \
    --header "Content-Type: $OCI_M" --connections 1 --threads 1 --max-requests 10 --duration 30)
  printf '%s\tone 1 MiB blob push\t%s\n%s\t10 tag PUTs\t%s\n' "$t" "$b" "$t" "$m" >>"$OUT/durability"
done

# ------------------------------------------------------------------ measurements
GIB=$(awk -v m=$BIG_MIB 'BEGIN { printf "%.4f", m / 1024 }')
push_mono() { # TARGET ROUND
  local t=$1 r=$2 loc code t0 t1
  cpu_begin; t0=$(now)
  loc=$(curl -s -D - -o /dev/null --max-time 30 -X POST -H 'Content-Length: 0' "${BASE[$t]}/v2/bench/big/blobs/uploads/" |
    awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
  [ -n "$loc" ] || { echo "embedded.sh: $t POST upload gave no Location" >&2; return 1; }
  case $loc in http*) ;; *) loc=${BASE[$t]}$loc ;; esac
  case $loc in *\?*) loc="$loc&digest=$VAR_D" ;; *) loc="$loc?digest=$VAR_D" ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 600 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$SHM/big" "$loc")
  cpu_end; t1=$(now); cpu_rec push_mono "$t" "$r" "$GIB"
  [ "$code" = 201 ] || { echo "embedded.sh: $t monolithic PUT answered $code" >&2; return 1; }
  rec push_mono "$t" "$r" "$(mibps $((BIG_MIB * MiB)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")" ""
}
pull() { # METRIC TARGET ROUND
  local out
  cpu_begin
  out=$(curl -s -o /dev/null --max-time 600 -w '%{http_code} %{size_download} %{time_total}' \
    "${BASE[$2]}/v2/bench/big/blobs/$VAR_D")
  cpu_end; cpu_rec "$1" "$2" "$3" "$GIB"
  set -- "$1" "$2" "$3" $out
  [ "$4" = 200 ] && [ "$5" = $((BIG_MIB * MiB)) ] || { echo "embedded.sh: $2 pull: $out" >&2; return 1; }
  rec "$1" "$2" "$3" "$(mibps "$5" "$6")" ""
}
tag_put() { # METRIC TARGET ROUND REPO CONNECTIONS (bench/run.sh's tag_put)
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

for r in $(seq 1 "$ROUNDS"); do
  two=$(order "$r" "kura dist")
  if [ "$TAGPUT_ONLY" != 1 ]; then
    say "round $r/$ROUNDS: push ${BIG_MIB} MiB, pull it at once, pull it again"
    printf 'kura-embedded-bench r%s %s ' "$r" "$RANDOM$RANDOM" | dd of="$SHM/big" conv=notrunc status=none
    VAR_D=sha256:$(openssl dgst -sha256 -r "$SHM/big" | cut -d' ' -f1)
    for t in $two; do
      push_mono "$t" "$r"
      pull pull_first "$t" "$r"
      pull pull_second "$t" "$r"
    done
  fi
  [ "$PULL_ONLY" = 1 ] && continue
  say "round $r/$ROUNDS: tag PUT ($TAGS tags, at most $TAGPUT_LIMIT s), sequential and 8 at a time"
  for t in $two; do tag_put tag_put_seq "$t" "$r" "tagput/r$r-seq" 1; done
  for t in $two; do tag_put tag_put_par "$t" "$r" "tagput/r$r-par" 8; done
done

git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || git_rev="$git_rev+dirty"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "loadavg_start=$LOADAVG_START"
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nproc=$(nproc)"
  echo "kura=$("$W/kura" --version 2>&1 | head -1) (git $git_rev)"
  echo "distribution=$(/usr/bin/docker-registry --version 2>&1 | awk '{print $NF}')"
  echo "filesystem=$(df -T "$W" | awk 'NR == 2 {print $2 " on " $1}')"
  echo "rounds=$ROUNDS"
  echo "quick=$QUICK"
  echo "big_mib=$BIG_MIB"
  echo "tags=$TAGS"
  echo "tagput_limit=$TAGPUT_LIMIT"
} >"$OUT/info"

if [ -z "${BENCH_OUT:-}" ]; then
  out=$(python3 "$HERE/cluster_report.py" --embedded "$OUT")
  echo "$out"
  if [ "${BENCH_NO_RESULTS:-0}" != 1 ]; then
    suffix=-embedded; [ "$QUICK" = 1 ] && suffix=-embedded-quick
    f=$HERE/results/$(date +%F)$suffix.md
    echo "$out" >"$f"
    echo "embedded.sh: wrote $f"
  fi
fi
