#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for kura's tests, on 127.0.0.1 only, and prints the libpq
# URL of its database "kura" (also written to DIR/url).
# Usage: scripts/pg-up.sh DIR [PORT]     (PORT defaults to 5433)
#   DIR is created and initialised on first use; run again, the script starts the cluster that is
#   there (or only prints its URL when it is running already). Stop it with scripts/pg-down.sh DIR.
#   PostgreSQL refuses to run as root: as root (CI), the cluster is owned by and runs as the user
#   postgres (made by the postgresql-common package), so DIR's parents must be traversable by it.
#   Needs postgresql-15 (scripts/setup.sh test installs it).
#   PG_DURABLE=1: start it with PostgreSQL's own durability (fsync, synchronous_commit and
#   full_page_writes on), as a production database runs; benchmarks of writes need it
#   (bench/cluster.sh). Without it durability is off (see below).
set -euo pipefail
DIR=${1:?usage: $0 DIR [PORT]}
PORT=${2:-5433}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "pg-up: no PostgreSQL server (apt-get install postgresql-15)" >&2; exit 1; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
URL="postgresql://postgres@127.0.0.1:$PORT/kura"

as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
  chown postgres:postgres "$DIR"
fi
chmod 700 "$DIR"
if ! "${as_owner[@]}" test -w "$DIR"; then
  echo "pg-up: the user postgres cannot reach $DIR (a parent folder is closed to it)" >&2
  exit 1
fi

if [ ! -e "$DIR/PG_VERSION" ]; then
  "${as_owner[@]}" "$BIN/initdb" -D "$DIR" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$DIR.initdb.log" 2>&1 || { cat "$DIR.initdb.log" >&2; exit 1; }
fi

if ! "${as_owner[@]}" "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  # Durability is off (fsync, synchronous_commit, full_page_writes) unless PG_DURABLE=1: this
  # cluster holds test data only, and a test never survives a power loss of the machine anyway.
  # A production database keeps the defaults (fsync on): kura's "acknowledged means durable"
  # rests on them.
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_DURABLE:-0}" = 1 ] && durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
    -o "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 $durability -c max_connections=200" \
    start >/dev/null || { tail -20 "$DIR/server.log" >&2; exit 1; }
fi

if ! "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tA \
  -c "SELECT 1 FROM pg_database WHERE datname = 'kura'" | grep -q 1; then
  "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c 'CREATE DATABASE kura' >/dev/null
fi
echo "$URL" >"$DIR/url"
echo "$URL"
