#!/usr/bin/env bash
# S3Client against a throwaway Ceph gateway, beside curl doing the same transfers.
#
# usage: bench/s3_bench.sh [BUILD_DIR]     (default build; builds kura_s3_bench there)
#   env: BENCH_MIB (default 1024)  BENCH_ROUNDS (default 3)  BENCH_PART_MIB (default 16)
#        RGW_PORT, MON_V2_PORT, MON_V1_PORT (default 17580, 13400, 16889: not the tests' ports)
#        BENCH_S3_ENV=FILE  use that gateway (an s3.env) instead of starting one
#
# Every round measures, on a fresh key each:
#   kura multipart   kura_s3_bench: CreateMultipartUpload, BENCH_MIB/BENCH_PART_MIB parts one
#                    after another, Complete; then kura get: GetObject of it into a counting sink;
#                    then kura put: one PutObject of BENCH_MIB. Signed payloads (SHA-256); the
#                    put again with UNSIGNED-PAYLOAD, and the multipart with 4 parts at once.
#   curl multipart   one curl process uploading the same parts from /dev/shm (one connection,
#                    -T per part, UNSIGNED-PAYLOAD), then a curl Complete
#   curl get / put   curl --aws-sigv4 GET to /dev/null; PUT of the file with UNSIGNED-PAYLOAD
# and the CPU seconds each process spent (the client, radosgw, ceph-osd: /proc/PID/stat), which
# says where the time goes. Prints a table of the medians; the cluster is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MIB=${BENCH_MIB:-1024}
ROUNDS=${BENCH_ROUNDS:-3}
PART_MIB=${BENCH_PART_MIB:-16}
export RGW_PORT=${RGW_PORT:-17580} MON_V2_PORT=${MON_V2_PORT:-13400} MON_V1_PORT=${MON_V1_PORT:-16889}

cmake --build "$BUILD" --target kura_s3_bench >/dev/null
BENCH_BIN=$BUILD/kura_s3_bench
WORK=$(mktemp -d /dev/shm/kura-s3-bench.XXXXXX)
CEPH_DIR=
cleanup() {
  [ -n "$CEPH_DIR" ] && scripts/ceph-down.sh "$CEPH_DIR" --purge
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${BENCH_S3_ENV:-}" ]; then
  ENV_FILE=$BENCH_S3_ENV
else
  CEPH_DIR=$(mktemp -d /tmp/kura-s3-bench-ceph.XXXXXX)
  # Room for a round's 6 GiB (sparse: only what is written takes disk) while radosgw's garbage
  # collection frees the deleted objects behind it.
  STORE_BYTES=${STORE_BYTES:-$((24 << 30))} scripts/ceph-up.sh "$CEPH_DIR" >/dev/null
  ENV_FILE=$CEPH_DIR/s3.env
fi
# shellcheck disable=SC1090
source "$ENV_FILE"
RUN_DIR=$(dirname "$CEPH_CONF")/run
RGW_PID=$(<"$RUN_DIR"/client.rgw.a.pid)
OSD_PID=$(<"$RUN_DIR"/osd.0.pid)
E=$AWS_ENDPOINT_URL
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
curl_s3() {
  curl -sS --fail --aws-sigv4 "aws:amz:$REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
curl_s3 -X PUT "$E/kura-bench" -o /dev/null || true # the bucket (kura_s3_bench makes it too)

# The bytes curl sends: one file and its parts, in memory (/dev/shm), not on the disk.
head -c $((MIB << 20)) /dev/urandom >"$WORK/blob"
split -b $((PART_MIB << 20)) -d -a 4 "$WORK/blob" "$WORK/part."
PARTS=("$WORK"/part.*)

cpu() { # CPU seconds of a PID: utime + stime, fields 14 and 15 of /proc/PID/stat
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' \
    "/proc/$1/stat"
}

RESULTS=$WORK/results.tsv # name, MiB/s, client cpu, radosgw cpu, osd cpu
# Runs "$@" (a curl), records its MiB/s and the CPU of it, radosgw and the OSD.
measure_curl() {
  local name=$1
  shift
  local r0 o0 t0 t1 times
  r0=$(cpu "$RGW_PID")
  o0=$(cpu "$OSD_PID")
  t0=${EPOCHREALTIME//[^0-9]/}
  times=$({ TIMEFORMAT='%U %S'; time "$@" >/dev/null 2>&1; } 2>&1)
  t1=${EPOCHREALTIME//[^0-9]/}
  awk -v name="$name" -v mib="$MIB" -v us=$((t1 - t0)) -v times="$times" \
    -v r0="$r0" -v r1="$(cpu "$RGW_PID")" -v o0="$o0" -v o1="$(cpu "$OSD_PID")" 'BEGIN {
      split(times, t, " ")
      printf "%s\t%.1f\t%.2f\t%.2f\t%.2f\n", name, mib * 1e6 / us, t[1] + t[2], r1 - r0, o1 - o0
    }' >>"$RESULTS"
}

# kura_s3_bench prints "NAME  X MiB/s  S s  cpu: kura_s3_bench C s, radosgw R s, ceph-osd O s".
measure_kura() {
  local suffix=$1
  shift
  "$BENCH_BIN" --env "$ENV_FILE" --mib "$MIB" --part-mib "$PART_MIB" --watch "$RGW_PID" \
    --watch "$OSD_PID" "$@" |
    awk -v s="$suffix" '/MiB\/s/ { gsub(/,/, ""); print "kura " $1 s "\t" $2 "\t" $8 "\t" $11 "\t" $14 }' \
      >>"$RESULTS"
}

curl_multipart() {
  local key=$1 id args=() i=1 etags
  id=$(curl_s3 -X POST -H 'Content-Type: application/octet-stream' "$E/kura-bench/$key?uploads=" |
    sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
  for p in "${PARTS[@]}"; do
    args+=(-T "$p" "$E/kura-bench/$key?partNumber=$i&uploadId=$id")
    i=$((i + 1))
  done
  etags=$(curl_s3 -w '%header{etag}\n' -o /dev/null "${args[@]}")
  local body="<CompleteMultipartUpload>" n=1
  while read -r etag; do
    body+="<Part><PartNumber>$n</PartNumber><ETag>$etag</ETag></Part>"
    n=$((n + 1))
  done <<<"$etags"
  body+="</CompleteMultipartUpload>"
  curl_s3 -X POST -H 'Content-Type: application/xml' --data "$body" "$E/kura-bench/$key?uploadId=$id" \
    -o /dev/null
}

for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS ($(uptime | sed 's/.*load/load/'))" >&2
  measure_kura "" --phases multipart,get,put
  measure_kura " unsigned" --unsigned --phases put
  measure_kura " 4 threads" --threads 4 --phases multipart
  measure_curl "curl multipart" curl_multipart "curl-mp-$round"
  measure_curl "curl get" curl_s3 -o /dev/null "$E/kura-bench/curl-mp-$round"
  measure_curl "curl put" curl_s3 -T "$WORK/blob" "$E/kura-bench/curl-put-$round" -o /dev/null
  curl_s3 -X DELETE "$E/kura-bench/curl-mp-$round" -o /dev/null
  curl_s3 -X DELETE "$E/kura-bench/curl-put-$round" -o /dev/null
done

echo
echo "$MIB MiB, parts of $PART_MIB MiB, $ROUNDS rounds: medians (CPU seconds per transfer)"
printf '| %-24s | %8s | %10s | %10s | %10s |\n' transfer MiB/s "client cpu" "radosgw cpu" "osd cpu"
printf '|%s|%s|%s|%s|%s|\n' -------------------------- ---------- ------------ ------------ ------------
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  !($1 in rate) { names[++count] = $1 }
  {
    rate[$1] = rate[$1] " " $2; c[$1] = c[$1] " " $3; r[$1] = r[$1] " " $4; o[$1] = o[$1] " " $5 }
  END { for (i = 1; i <= count; i++) { k = names[i]
    printf "| %-24s | %8.1f | %10.2f | %11.2f | %10.2f |\n", k, median(rate[k]), median(c[k]), median(r[k]), median(o[k]) } }' "$RESULTS"
