#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with the S3 gateway, for kura's S3 blob store tests: one
# monitor, optionally a manager, one OSD (bluestore on a sparse file) and radosgw (beast) on
# 127.0.0.1:$RGW_PORT, with an S3 user. Nothing runs under systemd; every daemon binds 127.0.0.1,
# keeps its files under DIR and writes its PID to DIR/run/<name>.pid, which scripts/ceph-down.sh
# reads to stop it.
#
# usage: scripts/ceph-up.sh DIR        (DIR must not hold a cluster already)
#   env: RGW_PORT     S3 port (default 7480)
#        MON_V2_PORT, MON_V1_PORT  monitor ports (default 3300, 6789)
#        STORE_BYTES  size of the OSD's sparse block file (default 8 GiB; only written blocks
#                     take disk space)
#        WITH_MGR=1   also start a manager (default 0: radosgw does not need one; without it
#                     `ceph -s` shows the placement groups as unknown)
#        S3_ACCESS_KEY, S3_SECRET_KEY  the S3 user's keys (defaults below)
# On success it prints the lines of DIR/s3.env, a file to source:
#   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_DEFAULT_REGION,
#   CEPH_CONF (for ceph and radosgw-admin), and KURA_S3_QUOTA_ACCESS_KEY_ID/_SECRET_ACCESS_KEY:
#   a second user whose quota (1 MiB) any larger object exceeds, for the storage-full tests.
# On failure it stops whatever it had started (scripts/ceph-down.sh DIR) and exits non-zero.
#
# Runs as root on a fresh Debian 12 machine in about 10 s; needs
#   apt-get install --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common
set -euo pipefail

DIR=${1:?usage: $0 DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
RGW_PORT=${RGW_PORT:-7480}
MON_V2_PORT=${MON_V2_PORT:-3300}
MON_V1_PORT=${MON_V1_PORT:-6789}
STORE_BYTES=${STORE_BYTES:-$((8 * 1024 * 1024 * 1024))}
WITH_MGR=${WITH_MGR:-0}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-KURATESTACCESSKEY001}
S3_SECRET_KEY=${S3_SECRET_KEY:-kuratestsecretkey0000000000000000000001}
QUOTA_ACCESS_KEY=KURATESTQUOTAKEY0001
QUOTA_SECRET_KEY=kuratestquotasecret000000000000000000001

for tool in ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin curl; do
  command -v "$tool" >/dev/null || {
    echo "ceph-up: $tool is missing (scripts/setup.sh test installs it)" >&2
    exit 1
  }
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -e "$DIR/ceph.conf" ]; then
  echo "ceph-up: $DIR holds a cluster already; scripts/ceph-down.sh $DIR --purge first" >&2
  exit 1
fi

# A taken port makes a daemon retry binding for ~10 s before it gives up: say so at once.
for port in "$RGW_PORT" "$MON_V2_PORT" "$MON_V1_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "ceph-up: 127.0.0.1:$port is in use (set RGW_PORT, MON_V2_PORT, MON_V1_PORT)" >&2
    exit 1
  fi
done

# Seconds since the start, from bash's clock in microseconds (no bc on a fresh machine).
T0=${EPOCHREALTIME//[^0-9]/}
log() {
  local us=$((${EPOCHREALTIME//[^0-9]/} - T0))
  printf '[ceph-up %d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"
}
fail() {
  echo "ceph-up: $*" >&2
  exit 1
}
# Whatever fails, stop what did start: a half-started cluster would hold the ports.
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "ceph-up: failed; logs in $DIR/log; stopping" >&2;
      "$HERE/ceph-down.sh" "$DIR" >&2; fi' EXIT

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

mkdir -p "$DIR"/{run,log,mon/ceph-a,osd/ceph-0,mgr/ceph-x,rgw,tmp}
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon initial members = a
mon host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/\$name.keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/tmp
exe path = /usr/bin
; One OSD: one copy of everything, placement across OSDs rather than hosts.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
; Commit map changes (each pool, the OSD's boot) in 50 ms instead of batching them for 1 s: this
; alone takes several seconds off the start.
paxos propose interval = 0.05
paxos min wait = 0.01
; The monitor refuses to start below "crit" percent of free disk; CI disks are often nearly full.
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false

[mon]
mon data = $DIR/mon/\$cluster-\$id
keyring = $DIR/mon/\$cluster-\$id/keyring

[mgr]
mgr data = $DIR/mgr/\$cluster-\$id
keyring = $DIR/mgr/\$cluster-\$id/keyring
mgr initial modules = iostat
mgr standby modules = false

[osd]
osd data = $DIR/osd/\$cluster-\$id
keyring = $DIR/osd/\$cluster-\$id/keyring
osd objectstore = bluestore
; bluestore on a sparse file instead of a disk: the file, its DB and WAL in one.
bluestore block path = $DIR/osd/\$cluster-\$id/block.file
bluestore block create = true
bluestore block size = $STORE_BYTES
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mkfs = false
osd memory target = 1073741824
bluestore cache autotune = true
osd crush update on start = true
osd op num shards = 2
osd op num threads per shard = 1

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
keyring = $DIR/rgw/keyring
rgw enable usage log = false
rgw dns name = localhost
; Deleted objects' space comes back within ~20 s rather than two hours (a GET still reading an
; object deleted more than 10 s before may then fail: no matter for tests).
rgw gc obj min wait = 10
rgw gc processor period = 10
EOF

# --- keys --------------------------------------------------------------------------------------
# Every daemon's key goes into the monitor's initial keyring, so the monitor starts knowing them
# all (no `ceph auth add` round trip per daemon after it is up).
keyring=$DIR/tmp/mon.keyring
ceph-authtool --create-keyring "$keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/client.admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/osd/ceph-0/keyring" --gen-key -n osd.0 \
  --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool --create-keyring "$DIR/rgw/keyring" --gen-key -n client.rgw.a \
  --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
ceph-authtool --create-keyring "$DIR/mgr/ceph-x/keyring" --gen-key -n mgr.x \
  --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
for k in "$DIR/client.admin.keyring" "$DIR/osd/ceph-0/keyring" "$DIR/rgw/keyring" \
  "$DIR/mgr/ceph-x/keyring"; do
  ceph-authtool "$keyring" --import-keyring "$k" >/dev/null
done

# --- OSD's file system --------------------------------------------------------------------------
# Made in the background while the monitor starts (it takes ~1.5 s). --no-mon-config: mkfs needs
# only ceph.conf, not the monitor's configuration.
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ceph-osd -i 0 --no-mon-config --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.log" 2>&1 &
MKFS_PID=$!

# --- monitor -----------------------------------------------------------------------------------
monmaptool --create --fsid "$FSID" \
  --addv a "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$DIR/tmp/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DIR/tmp/monmap" --keyring "$keyring"
ceph-mon -i a # daemonizes once it listens
wait_for 30 ceph --connect-timeout 2 mon stat || fail "the monitor did not answer"
log "monitor up"

if [ "$WITH_MGR" = 1 ]; then
  ceph-mgr -i x
  log "manager started"
fi

# --- OSD and pools -----------------------------------------------------------------------------
# One `ceph` process (its interactive mode reads commands from stdin) for what would otherwise be
# 15 processes at ~0.3 s each: register the OSD, then create the pools radosgw would otherwise
# create one at a time while starting. The OSD id is 0 (the first of a new cluster).
{
  echo "osd new $OSD_UUID 0"
  for pool in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    echo "osd pool create $pool 8 8"
    echo "osd pool application enable $pool rgw"
  done
} | ceph >"$DIR/log/setup-commands.log" 2>&1
# The interactive mode exits 0 whatever happened, and says "Error ..." for a failed command.
if grep -q '^Error' "$DIR/log/setup-commands.log"; then
  cat "$DIR/log/setup-commands.log" >&2
  fail "a cluster set-up command failed"
fi
wait "$MKFS_PID" || {
  cat "$DIR/log/osd-mkfs.log" >&2
  fail "ceph-osd --mkfs failed"
}
ceph-osd -i 0 2>>"$DIR/log/osd-start.log" # daemonizes once the monitor has its boot
log "OSD started, pools created"

# --- RADOS gateway -----------------------------------------------------------------------------
# radosgw waits for the OSD by itself; it answers once its pools are usable.
radosgw -n client.rgw.a
wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/" ||
  fail "radosgw did not answer on 127.0.0.1:$RGW_PORT; see $DIR/log/client.rgw.a.log"
log "radosgw answers on 127.0.0.1:$RGW_PORT"

radosgw-admin user create --uid=kura --display-name="kura tests" \
  --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" >"$DIR/log/user-kura.json"
radosgw-admin user create --uid=kura-quota --display-name="kura tests, 1 MiB quota" \
  --access-key="$QUOTA_ACCESS_KEY" --secret="$QUOTA_SECRET_KEY" >"$DIR/log/user-kura-quota.json"
radosgw-admin quota set --quota-scope=user --uid=kura-quota --max-size=1048576
radosgw-admin quota enable --quota-scope=user --uid=kura-quota
log "S3 users kura and kura-quota created"

cat >"$DIR/s3.env" <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_REGION=default
export AWS_DEFAULT_REGION=default
export KURA_S3_QUOTA_ACCESS_KEY_ID=$QUOTA_ACCESS_KEY
export KURA_S3_QUOTA_SECRET_ACCESS_KEY=$QUOTA_SECRET_KEY
export CEPH_CONF=$CONF
EOF
cat "$DIR/s3.env"
