#!/usr/bin/env bash
# A kura cluster on one machine, for trying scale-out and for the tests of tests/cluster: one
# PostgreSQL (metadata), one Ceph with its S3 gateway (blobs), CLUSTER_NODES stateless kura nodes
# over both, and haproxy in front of them. Everything listens on 127.0.0.1 only, keeps its files
# under DIR and is stopped by the PID it wrote there.
#
# usage: scripts/cluster.sh up DIR           start a new, empty cluster in DIR (what an earlier
#                                            cluster left in DIR is deleted first)
#        scripts/cluster.sh down DIR         stop everything (idempotent); logs and data stay in DIR
#        scripts/cluster.sh status DIR       what runs, each node's /readyz, haproxy's view
#        scripts/cluster.sh kill-node DIR N  SIGKILL node N (a crash)
#        scripts/cluster.sh start-node DIR N start node N again (after kill-node), wait until ready
#
# Environment (ports are derived from CLUSTER_PORT unless set one by one):
#   KURA_BIN        the kura binary (default: build/kura of this repository)
#   CLUSTER_PORT    haproxy's registry port (default 5080); docker push 127.0.0.1:$CLUSTER_PORT/...
#   CLUSTER_NODES   number of kura nodes (default 3, at most 9)
#   NODE_PORT_BASE  node N's plain registry is on NODE_PORT_BASE+N (default CLUSTER_PORT)
#   HEALTH_PORT_BASE, ADMIN_PORT_BASE, ENDPOINT_PORT_BASE   likewise for node N's health listener
#                   (default CLUSTER_PORT+10), admin API (+20) and Internet endpoint listener (+30)
#   PG_PORT         PostgreSQL (default CLUSTER_PORT+40)
#   RGW_PORT, MON_V2_PORT, MON_V1_PORT   Ceph's S3 gateway and monitor (default CLUSTER_PORT+50,
#                   +51, +52)
#   CLUSTER_LB_SOURCE   the loopback address haproxy connects to the nodes from, the only sender
#                   whose PROXY headers the nodes trust (default 127.0.0.2; see below)
#   CLUSTER_ADMIN_TOKEN the admin token of account A on every node (default: a random one)
#   CLUSTER_ACCESS_LOG  1 (default): every node logs each request with its peer; 0: not
#
# Why haproxy runs in TCP mode: registry uploads are long streams (a layer is one PATCH or PUT
# of gigabytes); in TCP mode haproxy only copies bytes, never buffers or times out a body
# between headers, and with send-proxy-v2 each node still sees the client's own address (access
# log, audit, allowlists) in the PROXY v2 header. Health checks ask each node's health listener
# for /readyz (HTTP, without a PROXY header), every 250 ms: a killed node is out after two failed
# checks (about 0.5 s). When no node is ready (a shared store is down), haproxy still forwards to
# them as backups, so clients get kura's 503 with Retry-After instead of a closed connection.
#
# Why the nodes trust CLUSTER_LB_SOURCE (127.0.0.2) rather than 127.0.0.1: a listener that
# trusts a sender requires a PROXY header from it, so trusting 127.0.0.1 would close every
# direct connection to a node (curl, docker, the tests talking to one node). haproxy connects
# from 127.0.0.2 instead (`source`), and only it may claim an address.
#
# `up` writes DIR/cluster.env (`export NAME=value` lines; KURA_TEST_STORES of tests/http reads it):
# KURA_POSTGRES, KURA_S3_ENV, CLUSTER_REGISTRY, NODEn_REGISTRY/_HEALTH/_ADMIN/_ENDPOINT/_CONFIG/
# _LOG, CLUSTER_PIDS (the file of "NAME PID" lines), CLUSTER_HAPROXY_SOCKET, ...
# On failure `up` prints one line naming the log to read, and stops what it had started.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMD=${1:-}
DIR=${2:-}
case "$CMD" in
  up | down | status | kill-node | start-node) ;;
  *)
    sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
[ -n "$DIR" ] || {
  echo "usage: $0 $CMD DIR" >&2
  exit 2
}
if [ "$CMD" = up ]; then mkdir -p "$DIR"; fi
if [ ! -d "$DIR" ]; then
  [ "$CMD" = down ] && exit 0 # nothing was ever started there
  echo "cluster $CMD: no cluster in $DIR" >&2
  exit 1
fi
DIR=$(cd "$DIR" && pwd)

# The other commands use the settings `up` used, whatever the environment says now.
if [ "$CMD" != up ] && [ -f "$DIR/settings" ]; then
  # shellcheck disable=SC1091
  . "$DIR/settings"
fi
KURA_BIN=${KURA_BIN:-$ROOT/build/kura}
case "$KURA_BIN" in /*) ;; *) KURA_BIN=$PWD/$KURA_BIN ;; esac
CLUSTER_PORT=${CLUSTER_PORT:-5080}
CLUSTER_NODES=${CLUSTER_NODES:-3}
NODE_PORT_BASE=${NODE_PORT_BASE:-$CLUSTER_PORT}
HEALTH_PORT_BASE=${HEALTH_PORT_BASE:-$((CLUSTER_PORT + 10))}
ADMIN_PORT_BASE=${ADMIN_PORT_BASE:-$((CLUSTER_PORT + 20))}
ENDPOINT_PORT_BASE=${ENDPOINT_PORT_BASE:-$((CLUSTER_PORT + 30))}
PG_PORT=${PG_PORT:-$((CLUSTER_PORT + 40))}
export RGW_PORT=${RGW_PORT:-$((CLUSTER_PORT + 50))}
export MON_V2_PORT=${MON_V2_PORT:-$((CLUSTER_PORT + 51))}
export MON_V1_PORT=${MON_V1_PORT:-$((CLUSTER_PORT + 52))}
LB_SOURCE=${CLUSTER_LB_SOURCE:-127.0.0.2}
ACCESS_LOG=${CLUSTER_ACCESS_LOG:-1}
BUCKET=kura
READY_SECONDS=20

RUN=$DIR/run   # pid files of the nodes and haproxy
LOGS=$DIR/logs # output of the set-up steps
HA=$DIR/haproxy
SOCK=$HA/admin.sock

T0=${EPOCHREALTIME//[^0-9]/}
elapsed() {
  local us=$((${EPOCHREALTIME//[^0-9]/} - T0))
  printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}
say() { echo "[cluster $(elapsed)s] $*"; }
# One line, naming what to read; `up`'s EXIT trap then stops what did start.
fail() {
  echo "cluster $CMD: $1${2:+; read $2}" >&2
  exit 1
}

node_port() { echo $((NODE_PORT_BASE + $1)); }
health_port() { echo $((HEALTH_PORT_BASE + $1)); }
admin_port() { echo $((ADMIN_PORT_BASE + $1)); }
endpoint_port() { echo $((ENDPOINT_PORT_BASE + $1)); }

# PID of a pid file, if the process it names is alive and its command line contains $2 (a pid
# file can outlive its process and the PID be reused: only our own process counts).
live_pid() {
  local f=$1 match=$2 pid
  [ -f "$f" ] || return 1
  pid=$(<"$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$match" || return 1
  echo "$pid"
}

# Stops the process of a pid file: signal $3 (default TERM), then KILL after 5 s; returns once it
# is gone (a zombie counts as gone: whatever adopted it reaps it).
stop_pidfile() {
  local f=$1 match=$2 sig=${3:-TERM} pid
  if pid=$(live_pid "$f" "$match"); then
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    while [ -e "/proc/$pid" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
      fi
      sleep 0.05
    done
  fi
  rm -f "$f"
}

# The postmaster's PID (first line of its postmaster.pid), if it runs.
pg_pid() {
  local pid
  [ -f "$DIR/pg/postmaster.pid" ] || return 1
  pid=$(sed -n 1p "$DIR/pg/postmaster.pid")
  [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 1
  echo "$pid"
}

# DIR/pids: "NAME PID" of every process of the cluster, for people and for cluster.env.
write_pids() {
  local out=$DIR/pids.tmp f pid n
  : >"$out"
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if pid=$(live_pid "$RUN/node$n.pid" "$DIR/node$n.yaml"); then echo "node$n $pid" >>"$out"; fi
  done
  if pid=$(live_pid "$RUN/haproxy.pid" "$HA/haproxy.cfg"); then echo "haproxy $pid" >>"$out"; fi
  if pid=$(pg_pid); then echo "postgres $pid" >>"$out"; fi
  for f in "$DIR"/ceph/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(<"$f")
    if [ -e "/proc/$pid" ]; then echo "$(basename "$f" .pid) $pid" >>"$out"; fi
  done
  mv "$out" "$DIR/pids"
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

# haproxy's operational state of a server: 2 UP, 0 DOWN (srv_op_state of "show servers state").
server_state() {
  echo "show servers state kura" | socat -t 2 - "UNIX-CONNECT:$SOCK" 2>/dev/null |
    awk -v s="$1" '$4 == s { print $6 }'
}

write_node_config() {
  local n=$1 url=$2
  # shellcheck disable=SC1091
  . "$DIR/ceph/s3.env"
  mkdir -p "$DIR/node$n/data"
  cat >"$DIR/node$n.yaml" <<EOF
# node $n of the cluster in $DIR (scripts/cluster.sh)
listen: 127.0.0.1:$(node_port "$n")
data: $DIR/node$n/data
threads: 2
proxy_protocol: [$LB_SOURCE/32]
log: {access: $([ "$ACCESS_LOG" = 1 ] && echo true || echo false), audit: $DIR/node$n/audit.log}
metadata: {postgres: "$url"}
blobs:
  s3:
    endpoint: $AWS_ENDPOINT_URL
    bucket: $BUCKET
    prefix: ""
    region: $AWS_REGION
    access_key: $AWS_ACCESS_KEY_ID
    secret_key: $AWS_SECRET_ACCESS_KEY
health: {listen: 127.0.0.1:$(health_port "$n")}
endpoints:
  - listen: 127.0.0.1:$(endpoint_port "$n")
    endpoint: internet
    proxy_protocol: [$LB_SOURCE/32]
admin:
  listen: 127.0.0.1:$(admin_port "$n")
  accounts: {A: {token: $ADMIN_TOKEN}}
EOF
}

# Starts node N in a session of its own (Ctrl-C of the caller does not reach it).
launch_node() {
  local n=$1
  mkdir -p "$RUN"
  echo "=== $(date -u +%FT%TZ) start" >>"$DIR/node$n/kura.log"
  setsid "$KURA_BIN" serve --config "$DIR/node$n.yaml" </dev/null >>"$DIR/node$n/kura.log" 2>&1 &
  echo $! >"$RUN/node$n.pid"
}

wait_node_ready() {
  local n=$1 deadline=$((SECONDS + READY_SECONDS))
  while [ "$(http_code "http://127.0.0.1:$(health_port "$n")/readyz")" != 200 ]; do
    live_pid "$RUN/node$n.pid" "$DIR/node$n.yaml" >/dev/null ||
      fail "node$n exited while starting" "$DIR/node$n/kura.log"
    [ $SECONDS -lt $deadline ] ||
      fail "node$n not ready (/readyz) within $READY_SECONDS s" "$DIR/node$n/kura.log"
    sleep 0.1
  done
}

write_haproxy_config() {
  mkdir -p "$HA"
  local n servers="" backups=""
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    servers+="  server node$n 127.0.0.1:$(node_port "$n") send-proxy-v2 check port $(health_port "$n")"$'\n'
    backups+="  server node$n-unready 127.0.0.1:$(node_port "$n") send-proxy-v2 backup"$'\n'
  done
  cat >"$HA/haproxy.cfg" <<EOF
# haproxy in front of the kura nodes of $DIR (scripts/cluster.sh)
global
  maxconn 4096
  stats socket $SOCK mode 600 level admin
  log stdout format raw local0 info

defaults
  mode tcp
  log global
  option tcplog
  timeout connect 1s
  # idle limits, not limits on a transfer: a layer may stream for as long as it moves
  timeout client 10m
  timeout server 10m
  timeout check 1s

frontend registry
  bind 127.0.0.1:$CLUSTER_PORT
  default_backend kura

backend kura
  balance roundrobin
  # a connection refused by a node not yet marked DOWN is tried again on another node
  option redispatch
  retries 2
  # the only address the nodes trust a PROXY header from
  source $LB_SOURCE
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 250ms fastinter 250ms downinter 250ms rise 2 fall 2
${servers}  # No node ready (the database or the object store is down): send to them anyway, so
  # that clients get kura's 503 with Retry-After rather than a closed connection.
  option allbackups
${backups}
EOF
  haproxy -c -q -f "$HA/haproxy.cfg" >"$LOGS/haproxy-check.log" 2>&1 ||
    fail "haproxy refuses its configuration" "$LOGS/haproxy-check.log"
}

write_env() {
  local url=$1 n
  {
    echo "# scripts/cluster.sh up $DIR, $(date -u +%FT%TZ)"
    echo "export KURA_POSTGRES='$url'"
    echo "export KURA_S3_ENV=$DIR/ceph/s3.env"
    echo "export CLUSTER_REGISTRY=127.0.0.1:$CLUSTER_PORT"
    echo "export CLUSTER_DIR=$DIR"
    echo "export CLUSTER_NODES=$CLUSTER_NODES"
    echo "export CLUSTER_PIDS=$DIR/pids"
    echo "export CLUSTER_HAPROXY_SOCKET=$SOCK"
    echo "export CLUSTER_HAPROXY_LOG=$HA/haproxy.log"
    echo "export CLUSTER_LB_SOURCE=$LB_SOURCE"
    echo "export CLUSTER_ADMIN_ACCOUNT=A"
    echo "export CLUSTER_ADMIN_TOKEN=$ADMIN_TOKEN"
    echo "export CLUSTER_BUCKET=$BUCKET"
    echo "export CLUSTER_PG_DIR=$DIR/pg"
    echo "export CLUSTER_PG_PORT=$PG_PORT"
    echo "export CLUSTER_CEPH_DIR=$DIR/ceph"
    echo "export KURA_BIN=$KURA_BIN"
    for ((n = 1; n <= CLUSTER_NODES; n++)); do
      echo "export NODE${n}_REGISTRY=127.0.0.1:$(node_port "$n")"
      echo "export NODE${n}_HEALTH=127.0.0.1:$(health_port "$n")"
      echo "export NODE${n}_ADMIN=127.0.0.1:$(admin_port "$n")"
      echo "export NODE${n}_ENDPOINT=127.0.0.1:$(endpoint_port "$n")"
      echo "export NODE${n}_CONFIG=$DIR/node$n.yaml"
      echo "export NODE${n}_DATA=$DIR/node$n/data"
      echo "export NODE${n}_LOG=$DIR/node$n/kura.log"
    done
  } >"$DIR/cluster.env"
  chmod 600 "$DIR/cluster.env" # the admin token and the S3 keys
}

# ---------------------------------------------------------------------------------------- down
cluster_down() {
  local n
  stop_pidfile "$RUN/haproxy.pid" "$HA/haproxy.cfg"
  for ((n = 1; n <= 9; n++)); do
    if [ -f "$RUN/node$n.pid" ]; then stop_pidfile "$RUN/node$n.pid" "$DIR/node$n.yaml"; fi
  done
  if [ -d "$DIR/pg" ]; then "$HERE/pg-down.sh" "$DIR/pg" >/dev/null 2>&1 || true; fi
  if [ -d "$DIR/ceph" ]; then "$HERE/ceph-down.sh" "$DIR/ceph" >/dev/null 2>&1 || true; fi
  rm -f "$DIR/pids"
  return 0
}

# ------------------------------------------------------------------------------------------ up
cluster_up() {
  [[ "$CLUSTER_NODES" =~ ^[1-9]$ ]] || fail "CLUSTER_NODES must be 1 to 9"
  [ -x "$KURA_BIN" ] || fail "no kura binary at $KURA_BIN (build it, or set KURA_BIN)"
  for tool in haproxy socat curl setsid; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup.sh test installs it)"
  done
  for s in pg-up.sh pg-down.sh ceph-up.sh ceph-down.sh; do
    [ -x "$HERE/$s" ] || fail "scripts/$s is missing (merge branch main)"
  done
  "$KURA_BIN" db migrate --help >/dev/null 2>&1 ||
    fail "$KURA_BIN has no 'kura db migrate' (a build without PostgreSQL metadata)"
  local n p
  for ((n = 1; n <= 9; n++)); do
    if live_pid "$RUN/node$n.pid" "$DIR/node$n.yaml" >/dev/null ||
      live_pid "$RUN/haproxy.pid" "$HA/haproxy.cfg" >/dev/null; then
      fail "a cluster runs in $DIR already (scripts/cluster.sh down $DIR first)"
    fi
  done
  local ports=("$CLUSTER_PORT" "$PG_PORT" "$RGW_PORT" "$MON_V2_PORT" "$MON_V1_PORT")
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    ports+=("$(node_port "$n")" "$(health_port "$n")" "$(admin_port "$n")" "$(endpoint_port "$n")")
  done
  for p in "${ports[@]}"; do
    if ss -Hltn "sport = :$p" | grep -q .; then
      fail "port $p is in use (set CLUSTER_PORT, or the port's own variable)"
    fi
  done

  # What an earlier cluster left (its processes are gone: checked above and by ceph-up/pg-up).
  cluster_down
  rm -rf "$DIR/pg" "$DIR/pg.initdb.log" "$DIR/ceph" "$HA" "$RUN" "$LOGS" "$DIR"/node[1-9] \
    "$DIR"/node[1-9].yaml "$DIR/cluster.env" "$DIR/pids"
  mkdir -p "$RUN" "$LOGS"
  local v
  for v in KURA_BIN CLUSTER_PORT CLUSTER_NODES NODE_PORT_BASE HEALTH_PORT_BASE ADMIN_PORT_BASE \
    ENDPOINT_PORT_BASE PG_PORT RGW_PORT MON_V2_PORT MON_V1_PORT; do
    printf '%s=%q\n' "$v" "${!v}"
  done >"$DIR/settings"
  printf 'CLUSTER_LB_SOURCE=%q\nCLUSTER_ACCESS_LOG=%q\n' "$LB_SOURCE" "$ACCESS_LOG" >>"$DIR/settings"
  # PostgreSQL runs as the user postgres (when we are root), which must reach DIR/pg.
  chmod 755 "$DIR"
  trap 'rc=$?; if [ $rc -ne 0 ]; then cluster_down >"$LOGS/down-after-failure.log" 2>&1; fi' EXIT

  ADMIN_TOKEN=${CLUSTER_ADMIN_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

  # PostgreSQL (about 1 s) starts while Ceph (about 10 s) does.
  "$HERE/pg-up.sh" "$DIR/pg" "$PG_PORT" >"$LOGS/pg-up.log" 2>&1 &
  local pg_job=$!
  "$HERE/ceph-up.sh" "$DIR/ceph" >"$LOGS/ceph-up.log" 2>&1 || {
    wait "$pg_job" || true
    fail "Ceph did not start" "$LOGS/ceph-up.log"
  }
  say "Ceph RGW on 127.0.0.1:$RGW_PORT"
  wait "$pg_job" || fail "PostgreSQL did not start" "$LOGS/pg-up.log"
  local url
  if [ -f "$DIR/pg/url" ]; then url=$(<"$DIR/pg/url"); else url=$(tail -n 1 "$LOGS/pg-up.log" | cut -d' ' -f1); fi
  [[ "$url" == postgresql://* ]] || fail "pg-up.sh printed no URL" "$LOGS/pg-up.log"
  say "PostgreSQL at $url"
  "$KURA_BIN" db migrate --database "$url" >"$LOGS/migrate.log" 2>&1 ||
    fail "kura db migrate failed" "$LOGS/migrate.log"
  say "$(tail -n 1 "$LOGS/migrate.log")"

  for ((n = 1; n <= CLUSTER_NODES; n++)); do write_node_config "$n" "$url"; done
  # Node 1 alone first: it creates the bucket and the saved World that the others then read.
  launch_node 1
  wait_node_ready 1
  for ((n = 2; n <= CLUSTER_NODES; n++)); do launch_node "$n"; done
  for ((n = 2; n <= CLUSTER_NODES; n++)); do wait_node_ready "$n"; done
  say "$CLUSTER_NODES kura nodes ready"

  write_haproxy_config
  setsid haproxy -db -f "$HA/haproxy.cfg" </dev/null >"$HA/haproxy.log" 2>&1 &
  echo $! >"$RUN/haproxy.pid"
  local deadline=$((SECONDS + 10))
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    until [ "$(server_state "node$n")" = 2 ]; do
      live_pid "$RUN/haproxy.pid" "$HA/haproxy.cfg" >/dev/null || fail "haproxy exited" "$HA/haproxy.log"
      [ $SECONDS -lt $deadline ] || fail "haproxy does not see node$n UP" "$HA/haproxy.log"
      sleep 0.1
    done
  done
  write_pids
  write_env "$url"
  say "haproxy on 127.0.0.1:$CLUSTER_PORT, all nodes UP; up in $(elapsed) s"
  echo "  push:    docker push 127.0.0.1:$CLUSTER_PORT/NAME:TAG   (docker lets 127.0.0.0/8 go without TLS)"
  echo "           skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://127.0.0.1:$CLUSTER_PORT/NAME:TAG"
  echo "  nodes:   $(for ((n = 1; n <= CLUSTER_NODES; n++)); do printf '127.0.0.1:%s ' "$(node_port "$n")"; done)(health $(health_port 1)..., admin $(admin_port 1)...)"
  echo "  env:     $DIR/cluster.env   status: scripts/cluster.sh status $DIR   stop: scripts/cluster.sh down $DIR"
}

# -------------------------------------------------------------------------------------- status
cluster_status() {
  [ -f "$DIR/cluster.env" ] || {
    echo "no cluster in $DIR"
    exit 1
  }
  local n pid ok=0 state
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    if pid=$(live_pid "$RUN/node$n.pid" "$DIR/node$n.yaml"); then
      state=$(server_state "node$n")
      case "$state" in 2) state=UP ;; 0) state=DOWN ;; "") state="?" ;; esac
      printf 'node%d  pid %-7s registry 127.0.0.1:%s  /readyz %s  haproxy %s\n' "$n" "$pid" \
        "$(node_port "$n")" "$(http_code "http://127.0.0.1:$(health_port "$n")/readyz")" "$state"
    else
      printf 'node%d  not running\n' "$n"
      ok=1
    fi
  done
  if pid=$(live_pid "$RUN/haproxy.pid" "$HA/haproxy.cfg"); then
    printf 'haproxy pid %-7s 127.0.0.1:%s\n' "$pid" "$CLUSTER_PORT"
  else
    echo "haproxy not running"
    ok=1
  fi
  if pid=$(pg_pid); then
    printf 'postgres pid %-7s 127.0.0.1:%s\n' "$pid" "$PG_PORT"
  else
    echo "postgres not running"
    ok=1
  fi
  if pid=$(live_pid "$DIR/ceph/run/client.rgw.a.pid" radosgw); then
    printf 'radosgw pid %-7s 127.0.0.1:%s\n' "$pid" "$RGW_PORT"
  else
    echo "radosgw not running"
    ok=1
  fi
  write_pids
  return $ok
}

node_arg() {
  local n=${1:-}
  [[ "$n" =~ ^[1-9]$ ]] && [ -f "$DIR/node$n.yaml" ] || fail "no node '$n' in $DIR"
  echo "$n"
}

case "$CMD" in
  up) cluster_up ;;
  down) cluster_down ;;
  status) cluster_status ;;
  kill-node)
    n=$(node_arg "${3:-}")
    stop_pidfile "$RUN/node$n.pid" "$DIR/node$n.yaml" KILL
    write_pids
    ;;
  start-node)
    n=$(node_arg "${3:-}")
    live_pid "$RUN/node$n.pid" "$DIR/node$n.yaml" >/dev/null && fail "node$n runs already"
    for p in "$(node_port "$n")" "$(health_port "$n")" "$(admin_port "$n")" "$(endpoint_port "$n")"; do
      ! ss -Hltn "sport = :$p" | grep -q . || fail "port $p is in use"
    done
    # A node that does not become ready is not left running.
    trap 'rc=$?; if [ $rc -ne 0 ]; then stop_pidfile "$RUN/node$n.pid" "$DIR/node$n.yaml"; fi' EXIT
    launch_node "$n"
    wait_node_ready "$n"
    write_pids
    ;;
esac
