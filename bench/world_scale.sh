#!/usr/bin/env bash
# The World at scale (issue 11): 10 and 100,000 instances with 10 allowlist entries each, on the
# embedded SQLite store and on PostgreSQL (durable: PG_DURABLE=1), through kura_world_bench
# (bench/world_scale.cc). Writes bench/results/<date>-world-scale.md.
# Usage: bench/world_scale.sh BUILD_DIR            (make bench-world)
#   INSTANCES="10 100000" CHANGES=400 PG_PORT=5470 to change what runs.
set -euo pipefail
BUILD=${1:-build}
REPO=$(cd "$(dirname "$0")/.." && pwd)
INSTANCES=${INSTANCES:-"10 100000"}
CHANGES=${CHANGES:-400}
PG_PORT=${PG_PORT:-5470}
cmake --build "$BUILD" -j 2 --target kura_world_bench >/dev/null
BENCH=$(cd "$BUILD" && pwd)/kura_world_bench
W=$(mktemp -d /tmp/kura-world-bench.XXXXXX)
chmod 755 "$W"
cleanup() {
  "$REPO/scripts/pg-down.sh" "$W/pg" --purge >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
PG_DURABLE=1 "$REPO/scripts/pg-up.sh" "$W/pg" "$PG_PORT" >"$W/pg-up.log" 2>&1 ||
  { cat "$W/pg-up.log" >&2; exit 1; }
PG_URL=$(cat "$W/pg/url")
PSQL=(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres)

results="$W/results.jsonl"
: >"$results"
for n in $INSTANCES; do
  [ -n "${SKIP_SQLITE:-}" ] || {
  echo "world_scale: $n instances on SQLite" >&2
  rm -f "$W/kura.db"*
  "$BENCH" populate --instances "$n" --sqlite "$W/kura.db"
  "$BENCH" measure --instances "$n" --changes "$CHANGES" --sqlite "$W/kura.db" >>"$results"
  }
  echo "world_scale: $n instances on PostgreSQL" >&2
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS world_$n" -c "CREATE DATABASE world_$n"
  url="postgresql://postgres@127.0.0.1:$PG_PORT/world_$n"
  "$BENCH" populate --instances "$n" --postgres "$url"
  "$BENCH" measure --instances "$n" --changes "$CHANGES" --postgres "$url" >>"$results"
done
page="$REPO/bench/results/$(date -u +%F)-world-scale.md"
python3 - "$results" "$page" "$(git -C "$REPO" rev-parse --short HEAD)" "$CHANGES" <<'PY'
import json, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = ["# The World at scale, %s (git %s)" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), sys.argv[3]),
       "",
       "`bench/world_scale.sh` (`make bench-world`): N enterprise instances with 10 allowlist entries each,",
       "saved row by row; a node starts on them, makes %s admin changes one by one (allowlist add and" % sys.argv[4],
       "remove, Internet endpoint off and on, an instance created and deleted), a second node refreshes",
       "after each; then 2,000,000 admissions (FindInstanceByHost + Admit) on one thread, from sources",
       "in the instance's allowlist but every fourth: spread over 4,096 instances drawn at random, and",
       "to 10 instances (the traffic a World of 10 gets; with requests spread over 4,096 instances the",
       "instances and index nodes they touch take megabytes, more than the CPU's caches hold).",
       "PostgreSQL runs durable (fsync on); SQLite runs with synchronous=FULL.",
       "",
       "| store | instances | start-up | RSS after start-up | change median / p99 / max | refresh median / p99 | admission, 4,096 instances | admission, 10 instances |",
       "|---|---|---|---|---|---|---|---|"]
for r in rows:
    c, f = r["change"], r["refresh"]
    out.append("| %s | %d | %.2f s | %.0f MiB | %.2f / %.2f / %.2f ms | %.2f / %.2f ms | %.0f ns | %.0f ns |" % (
        r["store"], r["instances"], r["startup_s"], r["rss_mib"], c["median_ms"], c["p99_ms"],
        c["max_ms"], f["median_ms"], f["p99_ms"], r["admission_ns"], r["admission_10_ns"]))
out += ["", "Targets (issue 11), at 100,000 instances: any admin change within 2 ms, start-up within 2 s,",
        "resident memory within 256 MiB, admission as fast as with 10 instances.", ""]
open(sys.argv[2], "w").write("\n".join(out))
print("\n".join(out))
PY
echo "world_scale: wrote $page" >&2
