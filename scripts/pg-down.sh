#!/usr/bin/env bash
# Stops the cluster that scripts/pg-up.sh DIR started (its data stays in DIR; --purge removes it).
# Usage: scripts/pg-down.sh DIR [--purge]
set -uo pipefail
DIR=${1:?usage: $0 DIR [--purge]}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$BIN" ] && [ -f "$DIR/postmaster.pid" ]; then
  as_owner=()
  [ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)
  "${as_owner[@]}" "$BIN/pg_ctl" -D "$DIR" -m fast -w -t 60 stop >/dev/null
fi
if [ "${2:-}" = --purge ]; then rm -rf "$DIR" "$DIR.initdb.log"; fi
exit 0
