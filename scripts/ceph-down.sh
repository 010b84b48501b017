#!/usr/bin/env bash
# Stops the daemons that scripts/ceph-up.sh started in DIR, each by the PID in its pid file.
# usage: scripts/ceph-down.sh DIR [--purge]     (--purge then deletes DIR; without it the logs
#                                                and data stay there to be read)
# The daemons are KILLed, not asked to stop: the cluster is never started again (ceph-up.sh
# refuses a DIR that holds one), bluestore and the monitor's store survive a kill like a crash,
# and a clean stop takes ~10 s (radosgw ~5 s, OSD and monitor ~2 s each, one after the other).
set -uo pipefail
DIR=${1:?usage: $0 DIR [--purge]}
PURGE=${2:-}

pids=()
for f in "$DIR"/run/client.rgw.*.pid "$DIR"/run/osd.*.pid "$DIR"/run/mgr.*.pid \
  "$DIR"/run/mon.*.pid; do
  [ -f "$f" ] || continue
  pid=$(<"$f")
  # A pid file can outlive its daemon and the PID be reused: only a Ceph daemon is signalled.
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
    ceph-mon | ceph-mgr | ceph-osd | radosgw) kill -KILL "$pid" 2>/dev/null && pids+=("$pid") ;;
  esac
  rm -f "$f"
done
# Gone, not merely signalled: the ports are free when this returns. A zombie counts as gone (its
# parent, whatever adopted the daemon, may be slow to reap it).
for pid in "${pids[@]}"; do
  while [ -e "/proc/$pid" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; do
    sleep 0.05
  done
done
[ "$PURGE" = --purge ] && rm -rf "$DIR"
exit 0
