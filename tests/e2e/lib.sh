# Helpers shared by the end-to-end scripts (sourced). They use the caller's W, LOG,
# STEP_TIMEOUT, D (docker client), PASSN and FAILN.

stop_pid() { # PID SECONDS: SIGTERM, wait, then SIGKILL
  local p=$1 n=$(( $2 * 4 ))
  kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null
  for _ in $(seq "$n"); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
step() { # NAME CMD...: runs CMD (a command or an exported function) with a timeout, counts, logs
  local name=$1; shift
  local out=$W/logs/step.out rc=0
  { echo; echo "=== $(date +%T) $name"; printf '+'; printf ' %q' "$@"; echo; } >>"$LOG"
  timeout -k 5 "$STEP_TIMEOUT" bash -c 'set -euo pipefail; "$@"' _ "$@" >"$out" 2>&1 </dev/null || rc=$?
  cat "$out" >>"$LOG"
  if [ "$rc" -eq 0 ]; then
    PASSN=$((PASSN + 1)); echo "PASS $name"
  else
    FAILN=$((FAILN + 1))
    [ "$rc" -eq 124 ] && echo "(timed out after ${STEP_TIMEOUT}s)" >>"$LOG"
    echo "FAIL $name (exit $rc)"
    tail -n 15 "$out" | sed 's/^/    | /'
    [ "$rc" -eq 124 ] && echo "    | (timed out after ${STEP_TIMEOUT}s)"
  fi
  echo "--- exit $rc" >>"$LOG"
  return 0
}
fails_with() { # REGEX CMD...: CMD must exit non-zero and say something matching REGEX (grep -Ei)
  local re=$1 out rc=0; shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out"; echo "(exit $rc; want non-zero and /$re/)"
  [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -Eqi -- "$re"
}
is_free() { ! ss -Htln "sport = :$1" | grep -q .; }
pick_port() { # EXCLUDE...
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768+): no clash with client sockets
    is_free "$p" || continue
    case " $* " in *" $p "*) continue ;; esac
    echo "$p"; return 0
  done
  echo "no free port" >&2; return 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c%s "$1"; }
put_blob() { # LAYOUTDIR FILE: moves FILE into the layout's blobs, prints "DIGEST SIZE"
  local d s; d=$(sha "$2"); s=$(size "$2"); mkdir -p "$1/blobs/sha256"; mv "$2" "$1/blobs/sha256/$d"; echo "$d $s"
}
docker_pull_fresh() { $D rmi "$1" >/dev/null 2>&1 || true; $D pull "$1"; }
wait_dockerd() { for _ in $(seq 120); do $D version >/dev/null 2>&1 && { $D version; return 0; }; sleep 0.5; done; tail -20 logs/dockerd.log; return 1; }
cleanup_work() { # SERVER-PID...: stops dockerd (and its containerd), the servers, anything else
  # started from the work dir $W; then removes $W (unless E2E_KEEP=1), unmounting first.
  set +e
  if [ -n "${DOCKERD_PID:-}" ]; then
    local kids; kids=$(pgrep -P "$DOCKERD_PID" 2>/dev/null)   # its containerd
    stop_pid "$DOCKERD_PID" 30
    for k in $kids; do stop_pid "$k" 10; done
  fi
  for p in "$@"; do [ -n "$p" ] && stop_pid "$p" 10; done
  # anything still running from the work dir (a containerd that dockerd spawned as it was stopped)
  for p in $(pgrep -f -- "$W/" 2>/dev/null); do [ "$p" != $$ ] && kill -9 "$p" 2>/dev/null; done
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "work dir kept: $W"
  else
    # dockerd/podman may leave mounts under the work dir; never delete through a mount
    grep -o " $W[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
  fi
}
