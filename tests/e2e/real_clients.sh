#!/usr/bin/env bash
# End-to-end test of kura with real registry clients: skopeo, podman, buildah, dockerd 20.10
# (Debian docker.io, /usr/bin/docker), plus curl for the multi-arch index and the referrers API.
#
# Usage: tests/e2e/real_clients.sh KURA_BIN
#
# Starts three servers on loopback: plain HTTP, HTTP + htpasswd auth, TLS + htpasswd auth.
# Environment:
#   E2E_PEER=distribution  run the same clients against CNCF distribution (/usr/bin/docker-registry)
#                          with equivalent configs instead of kura (KURA_BIN then is ignored);
#                          steps for APIs distribution 2.8 lacks (referrers) are skipped.
#   E2E_PORT, E2E_AUTH_PORT, E2E_TLS_PORT   ports (default: free ones picked at random)
#   E2E_REGISTRY=HOST:PORT the plain-HTTP steps use this running registry (e.g. the haproxy of a
#                          cluster, scripts/cluster.sh) instead of a server of their own; the
#                          auth and TLS servers are still started here. Its repositories test/*
#                          should be new (the steps count tags and referrers).
#   E2E_STEP_TIMEOUT       seconds per step (default 90)
#   E2E_KEEP=1             keep the work directory (its path is printed)
# Needs root and: skopeo podman buildah docker.io docker-registry umoci apache2-utils openssl
# curl jq gcc libc6-dev iproute2 (scripts/setup.sh test installs them). Only loopback is used.
# Prints PASS/FAIL/SKIP per step and ends with the line "N passed, M failed".
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
set -a   # every variable below is exported: steps run in `timeout bash -c` with exported functions

PEER=${E2E_PEER:-}
case "$PEER" in
  "") KURA=${1:?usage: $0 KURA_BIN}
      [ -x "$KURA" ] || { echo "not executable: $KURA" >&2; exit 2; }
      KURA=$(cd "$(dirname "$KURA")" && pwd)/$(basename "$KURA")
      SERVER=kura ;;
  distribution) KURA=; SERVER=distribution ;;
  *) echo "E2E_PEER must be empty or 'distribution'" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "run as root (dockerd, podman and buildah storage)" >&2; exit 2; }
for c in skopeo podman buildah dockerd /usr/bin/docker umoci htpasswd openssl curl jq gcc ss timeout; do
  command -v "$c" >/dev/null || { echo "missing command: $c (run scripts/setup.sh test)" >&2; exit 2; }
done
[ -z "$PEER" ] || command -v docker-registry >/dev/null || { echo "missing docker-registry" >&2; exit 2; }

STEP_TIMEOUT=${E2E_STEP_TIMEOUT:-90}
T0=$(date +%s)
W=$(mktemp -d /tmp/kura-e2e.XXXXXX)
LOG=$W/logs/steps.log
mkdir -p "$W"/{logs,certs,certdir,src,data-plain,data-auth,data-tls,containers/root,containers/run,containers/tmp,docker-root,docker-exec,docker-config}

# ------------------------------------------------------------------ processes and cleanup
SERVER_PIDS=()
DOCKERD_PID=
. "$E2E_DIR/lib.sh"   # stop_pid, step, fails_with, pick_port, put_blob, ...
cleanup() { cleanup_work "${SERVER_PIDS[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ step helper
PASSN=0; FAILN=0; SKIPN=0
skip() { SKIPN=$((SKIPN + 1)); echo "SKIP $1 ($2)"; }
fails() { ! "$@"; }          # step NAME fails CMD...: CMD must exit non-zero

# ------------------------------------------------------------------ ports
PLAIN=${E2E_REGISTRY:-}   # empty: a plain server of our own
PORT=${E2E_PORT:-$(pick_port)}
APORT=${E2E_AUTH_PORT:-$(pick_port "$PORT")}
TPORT=${E2E_TLS_PORT:-$(pick_port "$PORT" "$APORT")}
R=${PLAIN:-127.0.0.1:$PORT}; A=127.0.0.1:$APORT; T=127.0.0.1:$TPORT
declare -A PID_OF=()      # server name: PID (none for E2E_REGISTRY's)
USER_=e2euser; PASS_=e2e-Pass.word
BAD_PASS=not-the-password
AUTH_RE='unauthorized|authentication required|invalid username|401|no basic auth'

export REGISTRY_AUTH_FILE=$W/auth.json     # skopeo/podman/buildah credentials
export DOCKER_CONFIG=$W/docker-config      # docker CLI credentials
export DOCKER_HOST=unix://$W/docker.sock
export TMPDIR=$W/containers/tmp            # big temp files of skopeo/podman stay in the work dir
D=/usr/bin/docker                          # Debian client 20.10
PODMAN="podman --root $W/containers/root --runroot $W/containers/run --storage-driver vfs --tmpdir $W/containers/tmp --events-backend none"
BUILDAH="buildah --root $W/containers/root --runroot $W/containers/run --storage-driver vfs"
cd "$W"
echo '{}' > "$REGISTRY_AUTH_FILE"          # buildah refuses an authfile that does not exist
echo "server: $SERVER  plain=$R${PLAIN:+ (E2E_REGISTRY, not started here)} auth=$A tls=$T  work=$W"

# ------------------------------------------------------------------ certificates, htpasswd, servers
htpasswd -Bbn "$USER_" "$PASS_" > "$W/htpasswd"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout certs/domain.key -out certs/domain.crt \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
cp certs/domain.crt certdir/ca.crt      # --cert-dir for skopeo/podman/buildah

if [ "$SERVER" = kura ]; then
  cat > kura-auth.yml <<EOF
listen: $A
data: $W/data-auth
auth:
  htpasswd: $W/htpasswd
  realm: kura
EOF
  cat > kura-tls.yml <<EOF
listen: $T
data: $W/data-tls
tls:
  certificate: $W/certs/domain.crt
  key: $W/certs/domain.key
auth:
  htpasswd: $W/htpasswd
  realm: kura
EOF
  if [ -z "$PLAIN" ]; then
    "$KURA" serve --listen "$R" --data "$W/data-plain" > logs/server-plain.log 2>&1 & SERVER_PIDS+=($!); PID_OF[plain]=$!
  fi
  "$KURA" serve --config kura-auth.yml > logs/server-auth.log 2>&1 & SERVER_PIDS+=($!); PID_OF[auth]=$!
  "$KURA" serve --config kura-tls.yml  > logs/server-tls.log 2>&1 & SERVER_PIDS+=($!); PID_OF[tls]=$!
else
  regcfg() { # NAME ADDR EXTRA-HTTP-YAML EXTRA-TOP-YAML
    cat > reg-$1.yml <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/data-$1
  delete:
    enabled: true
http:
  addr: $2
$3
$4
EOF
  }
  AUTHYML="auth:
  htpasswd:
    realm: kura
    path: $W/htpasswd"
  regcfg plain "$R" "" ""
  regcfg auth "$A" "" "$AUTHYML"
  regcfg tls "$T" "  tls:
    certificate: $W/certs/domain.crt
    key: $W/certs/domain.key" "$AUTHYML"
  # docker-registry reads REGISTRY_* variables as config overrides: drop ours
  for n in plain auth tls; do
    [ "$n" = plain ] && [ -n "$PLAIN" ] && continue
    env -u REGISTRY_AUTH_FILE /usr/bin/docker-registry serve "$W/reg-$n.yml" > logs/server-$n.log 2>&1 & SERVER_PIDS+=($!); PID_OF[$n]=$!
  done
fi

# dockerd starts in the background now and is waited for before the docker steps
dockerd --storage-driver=vfs --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
  --host "$DOCKER_HOST" --data-root "$W/docker-root" --exec-root "$W/docker-exec" --pidfile "$W/docker.pid" \
  > logs/dockerd.log 2>&1 &
DOCKERD_PID=$!

waitfor() { # URL [PID]: any HTTP answer within 10 s, while PID (if any) lives
  for _ in $(seq 50); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
    [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || { echo "exited"; return 1; }
    sleep 0.2
  done
  echo "no answer within 10 s"; return 1
}
up=1
for u in "plain http://$R/v2/" "auth http://$A/v2/" "tls https://$T/v2/"; do
  set -- $u
  if why=$(waitfor "$2" "${PID_OF[$1]:-}"); then echo "PASS server $1 up"; PASSN=$((PASSN + 1))
  else echo "FAIL server $1 up: $2: $why"; FAILN=$((FAILN + 1)); up=
       [ -f "logs/server-$1.log" ] && tail -n 20 "logs/server-$1.log" | sed 's/^/    | /'; fi
done
if [ -z "$up" ]; then echo "$PASSN passed, $FAILN failed"; exit 1; fi

# ------------------------------------------------------------------ helpers used by steps
code() { curl -sk -o /dev/null -w '%{http_code}' "$@"; }
expect_code() { # WANT CURL-ARGS...
  local want=$1 got; shift; got=$(code "$@"); echo "HTTP $got (want $want): $*"; [ "$got" = "$want" ]
}
mkimg() { # LAYOUTDIR TEXT ARCH [VARIANT]: one single-layer image; prints "MANIFEST-DIGEST SIZE"
  local OUT=$1 TEXT=$2 ARCH=$3 VAR=${4:-} X; X=$(mktemp -d)
  mkdir -p "$X/rootfs/app"; echo "$TEXT" > "$X/rootfs/app/hello.txt"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$X/rootfs" -cf "$X/layer.tar" .
  local DIFF; DIFF=$(sha "$X/layer.tar"); gzip -n -c "$X/layer.tar" > "$X/l.gz"
  local L C M; L=($(put_blob "$OUT" "$X/l.gz"))
  local vjson=""; [ -n "$VAR" ] && vjson=",\"variant\":\"$VAR\""
  printf '{"created":"1970-01-01T00:00:00Z","architecture":"%s"%s,"os":"linux","config":{"Cmd":["/app/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"kura e2e"}]}' \
    "$ARCH" "$vjson" "$DIFF" > "$X/c"
  C=($(put_blob "$OUT" "$X/c"))
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "${C[0]}" "${C[1]}" "${L[0]}" "${L[1]}" > "$X/m"
  M=($(put_blob "$OUT" "$X/m"))
  echo '{"imageLayoutVersion":"1.0.0"}' > "$OUT/oci-layout"
  rm -rf "$X"; echo "${M[0]} ${M[1]}"
}
layer_of() { jq -r '.layers[0].digest' "$1/blobs/sha256/$2" | sed 's/^sha256://'; }   # LAYOUT MDIGEST

# 1. hand-made OCI layout, tag "1"
build_hand() {
  local M; M=($(mkimg oci-hand "hello kura e2e" amd64))
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
    "${M[0]}" "${M[1]}" > oci-hand/index.json
  echo "${M[0]} ${M[1]}" > hand.digest
  skopeo inspect oci:oci-hand:1
}
# 2. multi-arch: an OCI index (amd64 + arm64/v8) as the target of ref "multi"
build_multi() {
  local M1 M2 I X; M1=($(mkimg oci-multi "hello amd64" amd64)); M2=($(mkimg oci-multi "hello arm64" arm64 v8))
  X=$(mktemp)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
    "${M1[0]}" "${M1[1]}" "${M2[0]}" "${M2[1]}" > "$X"
  I=($(put_blob oci-multi "$X"))
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
    "${I[0]}" "${I[1]}" > oci-multi/index.json
  echo "${M1[0]} ${M2[0]} ${I[0]}" > multi.digest
  skopeo inspect --raw oci:oci-multi:multi | jq -e '.manifests | length == 2'
}
# 3. umoci
build_umoci() {
  umoci init --layout oci-umoci && umoci new --image oci-umoci:1 && umoci unpack --image oci-umoci:1 bundle
  mkdir -p bundle/rootfs/app && echo "hello umoci" > bundle/rootfs/app/hello.txt
  umoci repack --image oci-umoci:1 bundle
  umoci config --image oci-umoci:1 --config.cmd /app/hello.txt --os linux --architecture amd64
  rm -rf bundle
}
# 4. buildah from scratch with a static binary
build_buildah() {
  printf '#include <stdio.h>\nint main(void){puts("hello from kura e2e");return 0;}\n' > src/hello.c
  gcc -static -Os -o src/hello src/hello.c
  local ctr; ctr=$($BUILDAH from scratch)
  $BUILDAH copy "$ctr" src/hello /hello
  $BUILDAH config --cmd /hello --os linux --arch amd64 "$ctr"
  $BUILDAH commit "$ctr" localhost/hello:1
  $BUILDAH rm "$ctr"
}

# ------------------------------------------------------------------ checks used by steps
check_tags() { # REF WANT-TAG...
  local out; out=$(skopeo list-tags --tls-verify=false "docker://$1"); echo "$out"
  shift; for t in "$@"; do echo "$out" | jq -e --arg t "$t" '.Tags | index($t) != null' >/dev/null; done
}
check_inspect() { # REF DIGEST ARCH [OPTS...]: --override-* go before "inspect", the rest after it
  local ref=$1 dig=$2 arch=$3 out g=() i=(); shift 3
  for o in "$@"; do case "$o" in --override-*) g+=("$o") ;; *) i+=("$o") ;; esac; done
  out=$(skopeo "${g[@]}" inspect --tls-verify=false "${i[@]}" "docker://$ref"); echo "$out"
  echo "$out" | jq -e --arg d "sha256:$dig" --arg a "$arch" '.Digest == $d and .Architecture == $a' >/dev/null
}
check_back() { # copy back registry -> oci: must give byte-identical manifest, config and layer
  local MD; MD=$(cut -d' ' -f1 hand.digest)
  local got; got=$(jq -r '.manifests[0].digest' back/index.json); echo "manifest in back/: $got"
  [ "$got" = "sha256:$MD" ]
  cmp oci-hand/blobs/sha256/"$MD" back/blobs/sha256/"$MD"
  for b in $(jq -r '.config.digest, .layers[].digest' "back/blobs/sha256/$MD" | sed 's/^sha256://'); do
    cmp "oci-hand/blobs/sha256/$b" "back/blobs/sha256/$b"
    [ "$(sha "back/blobs/sha256/$b")" = "$b" ]
    echo "blob $b identical"
  done
}
check_mount() { # cross-repo mount by curl: 201 + Location, then the blob is in the new repo
  local MD LD hdr; MD=$(cut -d' ' -f1 hand.digest); LD=$(layer_of oci-hand "$MD")
  hdr=$(curl -sS -X POST -D - -o /dev/null "http://$R/v2/test/mounted/blobs/uploads/?mount=sha256:$LD&from=test/app" | tr -d '\r')
  echo "$hdr"
  echo "$hdr" | head -1 | grep -q ' 201'
  echo "$hdr" | grep -qi '^location: '
  expect_code 200 -I "http://$R/v2/test/mounted/blobs/sha256:$LD"
}
check_mount_fallback() { # mount from a repo that lacks the blob: 202 and an upload session
  local hdr; hdr=$(curl -sS -X POST -D - -o /dev/null "http://$R/v2/test/mounted2/blobs/uploads/?mount=sha256:$(printf '%064d' 0)&from=test/app" | tr -d '\r')
  echo "$hdr"; echo "$hdr" | head -1 | grep -q ' 202'; echo "$hdr" | grep -qi '^location: '
}
check_head_manifest() { # HEAD manifest by tag: Docker-Content-Digest and Content-Type
  local MD hdr; MD=$(cut -d' ' -f1 hand.digest)
  hdr=$(curl -sS -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/test/app/manifests/1" | tr -d '\r')
  echo "$hdr"
  echo "$hdr" | grep -qi "^docker-content-digest: sha256:$MD\$"
  echo "$hdr" | grep -qi '^content-type: application/vnd.oci.image.manifest.v1+json'
}
check_media_type() { # BASE REPO REF WANT-TYPE [curl-opts...]: GET with a broad Accept
  local base=$1 repo=$2 ref=$3 want=$4 ct; shift 4
  ct=$(curl -sk "$@" -o /dev/null -w '%{content_type}' \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "$base/v2/$repo/manifests/$ref")
  echo "Content-Type: $ct (want $want)"; [ "${ct%%;*}" = "$want" ]
}
check_index() { # the pushed index is byte-identical and names two platforms
  local I; I=$(cut -d' ' -f3 multi.digest)
  curl -sS -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/test/multi/manifests/1" > idx.json
  cat idx.json; echo
  [ "$(sha idx.json)" = "$I" ]
  jq -e '[.manifests[].platform.architecture] == ["amd64","arm64"]' idx.json >/dev/null
}
check_arm_inspect() { # skopeo reports the index digest, and the arm64 image's architecture and layer
  local M2 I out; M2=$(cut -d' ' -f2 multi.digest); I=$(cut -d' ' -f3 multi.digest)
  out=$(skopeo --override-arch arm64 --override-variant v8 inspect --tls-verify=false "docker://$R/test/multi:1"); echo "$out"
  echo "$out" | jq -e --arg d "sha256:$I" --arg l "sha256:$(layer_of oci-multi "$M2")" \
    '.Digest == $d and .Architecture == "arm64" and .Layers == [$l]' >/dev/null
}
check_override_arch_copy() {
  local M2; M2=$(cut -d' ' -f2 multi.digest)
  skopeo --override-arch arm64 --override-variant v8 copy --src-tls-verify=false "docker://$R/test/multi:1" oci:arm-back:1
  jq -e --arg d "sha256:$M2" '.manifests[0].digest == $d' arm-back/index.json
}
podman_arch() { # IMAGE WANT-ARCH
  local a; a=$($PODMAN image inspect --format '{{.Architecture}}' "$1"); echo "architecture $a"; [ "$a" = "$2" ]
}
docker_arch() {
  local a; a=$($D image inspect --format '{{.Architecture}}' "$1"); echo "architecture $a"; [ "$a" = "$2" ]
}
skopeo_login() { echo "$PASS_" | skopeo login --tls-verify=false -u "$USER_" --password-stdin "$A"; }
docker_login() { echo "$2" | $D login -u "$USER_" --password-stdin "$1"; }

# referrers (OCI distribution 1.1) by curl
push_blob() { # BASE REPO FILE [curl-opts...]
  local base=$1 repo=$2 f=$3 loc sep; shift 3
  loc=$(curl -sS "$@" -X POST -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  [ -n "$loc" ] || { echo "no Location from POST"; return 1; }
  case "$loc" in http*) ;; *) loc=$base$loc ;; esac
  sep='?'; case "$loc" in *\?*) sep='&' ;; esac
  curl -fsS "$@" -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$f" "$loc${sep}digest=sha256:$(sha "$f")"
}
ART_TYPE=application/vnd.kura.e2e.signature.v1
push_artifact() {
  local MD MS; read -r MD MS < hand.digest
  printf '{}' > empty.json
  echo "signature of test/app:1" > sig.txt
  push_blob "http://$R" test/app empty.json
  push_blob "http://$R" test/app sig.txt
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"text/plain","digest":"sha256:%s","size":%d}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d},"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}' \
    "$ART_TYPE" "$(sha empty.json)" "$(sha sig.txt)" "$(size sig.txt)" "$MD" "$MS" > artifact.json
  local AD; AD=$(sha artifact.json); echo "$AD" > artifact.digest
  curl -sS -X PUT -D art-put.hdr -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @artifact.json "http://$R/v2/test/app/manifests/sha256:$AD" | tee art-put.code
  cat art-put.hdr
  [ "$(cat art-put.code)" = 201 ]
}
check_oci_subject() { # a registry that processes "subject" answers the PUT with OCI-Subject
  local MD; MD=$(cut -d' ' -f1 hand.digest); tr -d '\r' < art-put.hdr | grep -i "^oci-subject: sha256:$MD\$"
}
check_referrers() { # [QUERY] WANT-COUNT
  local MD hdr; MD=$(cut -d' ' -f1 hand.digest)
  curl -sS -D ref.hdr -o ref.json "http://$R/v2/test/app/referrers/sha256:$MD$1"
  tr -d '\r' < ref.hdr; cat ref.json; echo
  head -1 ref.hdr | grep -q ' 200'
  tr -d '\r' < ref.hdr | grep -qi '^content-type: application/vnd.oci.image.index.v1+json'
  jq -e --argjson n "$2" '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == $n' ref.json >/dev/null
  if [ "$2" -gt 0 ]; then
    jq -e --arg d "sha256:$(cat artifact.digest)" --arg t "$ART_TYPE" \
      '.manifests[0] | .digest == $d and .artifactType == $t and .mediaType == "application/vnd.oci.image.manifest.v1+json" and .annotations["org.opencontainers.image.created"] != null' ref.json >/dev/null
  fi
}
check_referrers_filter() { # ?artifactType=other: the filter is applied (header) and nothing matches
  check_referrers "?artifactType=application/vnd.other" 0
  tr -d '\r' < ref.hdr | grep -qi '^oci-filters-applied: *artifactType'
}
check_referrers_none() { # a digest nothing refers to (need not exist): 200 and an empty index
  local hdr; curl -sS -D ref.hdr -o ref.json "http://$R/v2/test/app/referrers/sha256:$(printf '%064d' 1)"
  tr -d '\r' < ref.hdr; cat ref.json; echo
  head -1 ref.hdr | grep -q ' 200'; jq -e '.manifests == []' ref.json >/dev/null
}

export -f $(declare -F | awk '{print $3}')

# ================================================================== steps
step "plain: GET /v2/ is 200"                 expect_code 200 "http://$R/v2/"
step "auth: GET /v2/ without creds is 401"    expect_code 401 "http://$A/v2/"
step "auth: 401 carries Basic realm=\"kura\""  bash -c "curl -sS -D - -o /dev/null http://$A/v2/ | tr -d '\r' | grep -i '^www-authenticate: basic realm=\"kura\"'"
step "auth: GET /v2/ with creds is 200"       expect_code 200 -u "$USER_:$PASS_" "http://$A/v2/"
step "auth: GET /v2/ wrong password is 401"   expect_code 401 -u "$USER_:$BAD_PASS" "http://$A/v2/"
step "tls: GET /v2/ with creds is 200 (CA verified)" expect_code 200 --cacert certs/domain.crt -u "$USER_:$PASS_" "https://$T/v2/"

step "build: hand-made OCI layout"            build_hand
step "build: multi-arch OCI layout (index)"   build_multi
step "build: umoci image"                     build_umoci
step "build: buildah from scratch + static binary + commit" build_buildah
read -r MD MS < hand.digest || true

# ------------------------------------------------------------------ skopeo
step "skopeo: copy oci: -> registry"          skopeo copy --dest-tls-verify=false oci:oci-hand:1 "docker://$R/test/app:1"
step "skopeo: copy umoci image -> registry"   skopeo copy --dest-tls-verify=false oci:oci-umoci:1 "docker://$R/test/umoci:1"
step "skopeo: copy oci: -> registry as docker schema2" skopeo copy --dest-tls-verify=false --format v2s2 oci:oci-hand:1 "docker://$R/test/v2s2:1"
step "skopeo: copy registry -> registry (cross-repo mount path)" skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/test/app:1" "docker://$R/test/copied:1"
step "skopeo: copy registry -> registry, second tag" skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/test/app:1" "docker://$R/test/app:2"
step "skopeo: copy registry -> registry, repo to delete" skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/test/app:1" "docker://$R/test/del:1"
step "curl: cross-repo mount POST ?mount=&from= is 201" check_mount
step "curl: mount of a missing blob falls back to 202" check_mount_fallback
step "curl: HEAD manifest gives Docker-Content-Digest" check_head_manifest
step "skopeo: list-tags"                      check_tags "$R/test/app" 1 2
step "skopeo: inspect (digest, architecture)" check_inspect "$R/test/copied:1" "$MD" amd64
step "skopeo: copy back -> oci:"              skopeo copy --src-tls-verify=false "docker://$R/test/app:1" oci:back:1
step "skopeo: copied-back manifest and blobs byte-identical" check_back
step "skopeo: copy registry -> docker-archive" skopeo copy --src-tls-verify=false "docker://$R/test/umoci:1" docker-archive:app.tar:test/umoci:1
# skopeo delete deletes the manifest the tag names (by digest), so it uses a repo of its own
step "skopeo: delete tag (its manifest)"      skopeo delete --tls-verify=false "docker://$R/test/del:1"
step "skopeo: deleted tag is gone"            fails_with "manifest unknown|not found|404" skopeo inspect --tls-verify=false "docker://$R/test/del:1"
step "curl: deleted manifest GET is 404"      expect_code 404 -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/test/del/manifests/1"
step "skopeo: same manifest in other repo survives" check_tags "$R/test/app" 1 2

step "auth: skopeo push without creds fails"  fails_with "$AUTH_RE" skopeo copy --dest-tls-verify=false oci:oci-hand:1 "docker://$A/test/app:1"
step "auth: skopeo login wrong password fails" fails_with "$AUTH_RE" skopeo login --tls-verify=false -u "$USER_" -p "$BAD_PASS" "$A"
step "auth: skopeo login"                     skopeo_login
step "auth: skopeo copy after login"          skopeo copy --dest-tls-verify=false oci:oci-hand:1 "docker://$A/test/app:1"
step "auth: skopeo list-tags after login"     check_tags "$A/test/app" 1
step "auth: skopeo logout"                    skopeo logout "$A"
step "auth: skopeo inspect after logout fails" fails_with "$AUTH_RE" skopeo inspect --tls-verify=false "docker://$A/test/app:1"
step "auth: skopeo copy --dest-creds"         skopeo copy --dest-tls-verify=false --dest-creds "$USER_:$PASS_" oci:oci-hand:1 "docker://$A/test/app:2"
step "auth: skopeo inspect --creds"           check_inspect "$A/test/app:2" "$MD" amd64 --creds "$USER_:$PASS_"
step "tls: skopeo login --cert-dir"           skopeo login --cert-dir certdir -u "$USER_" -p "$PASS_" "$T"
step "tls: skopeo copy --dest-cert-dir"       skopeo copy --dest-cert-dir certdir oci:oci-hand:1 "docker://$T/test/app:1"
step "tls: skopeo inspect --cert-dir"         skopeo inspect --cert-dir certdir "docker://$T/test/app:1"
step "tls: unknown CA is rejected"            fails_with "x509|certificate" skopeo inspect --creds "$USER_:$PASS_" "docker://$T/test/app:1"
step "tls: skopeo logout"                     skopeo logout "$T"

# ------------------------------------------------------------------ multi-arch index
step "multi: skopeo copy --all (OCI index + 2 images)" skopeo copy --all --dest-tls-verify=false oci:oci-multi:multi "docker://$R/test/multi:1"
step "multi: GET index is byte-identical, 2 platforms" check_index
step "multi: index Content-Type"              check_media_type "http://$R" test/multi 1 application/vnd.oci.image.index.v1+json
step "multi: skopeo --override-arch arm64 inspect" check_arm_inspect
step "multi: skopeo --override-arch arm64 copy -> oci:" check_override_arch_copy

# ------------------------------------------------------------------ podman + buildah
step "podman: pull"                           $PODMAN pull --tls-verify=false "$R/test/app:1"
step "podman: pull by digest"                 $PODMAN pull --tls-verify=false "$R/test/app@sha256:$MD"
step "podman: pull docker schema2"            $PODMAN pull --tls-verify=false "$R/test/v2s2:1"
step "podman: tag + push"                     bash -c "$PODMAN tag $R/test/app:1 $R/test/podman:1 && $PODMAN push --tls-verify=false $R/test/podman:1"
step "podman: pull --arch arm64 from index"   $PODMAN pull --tls-verify=false --arch arm64 --variant v8 "$R/test/multi:1"
step "podman: pulled image is arm64"          podman_arch "$R/test/multi:1" arm64
step "podman: pull --platform linux/amd64"    $PODMAN pull --tls-verify=false --platform linux/amd64 "$R/test/multi:1"
step "podman: pulled image is amd64"          podman_arch "$R/test/multi:1" amd64
step "auth: podman login wrong password fails" fails_with "$AUTH_RE" $PODMAN login --tls-verify=false -u "$USER_" -p "$BAD_PASS" "$A"
step "auth: podman login"                     $PODMAN login --tls-verify=false -u "$USER_" -p "$PASS_" "$A"
step "auth: podman push"                      $PODMAN push --tls-verify=false "$R/test/app:1" "$A/test/podman:1"
step "auth: podman pull"                      $PODMAN pull --tls-verify=false "$A/test/podman:1"
step "auth: podman logout"                    $PODMAN logout "$A"
step "auth: podman pull after logout fails"   fails_with "$AUTH_RE" $PODMAN pull --tls-verify=false "$A/test/podman:1"
step "tls: podman push --cert-dir --creds"    $PODMAN push --cert-dir certdir --creds "$USER_:$PASS_" "$R/test/app:1" "$T/test/podman:1"
step "buildah: push"                          $BUILDAH push --tls-verify=false localhost/hello:1 "docker://$R/test/buildah:1"
step "buildah: pushed image inspects"         skopeo inspect --tls-verify=false "docker://$R/test/buildah:1"
step "auth: buildah push --creds"             $BUILDAH push --tls-verify=false --creds "$USER_:$PASS_" localhost/hello:1 "docker://$A/test/buildah:1"
step "auth: buildah push without creds fails" fails_with "$AUTH_RE" $BUILDAH push --tls-verify=false localhost/hello:1 "docker://$A/test/buildah:2"

# ------------------------------------------------------------------ dockerd 20.10
step "docker: dockerd up"                     wait_dockerd
step "docker: load"                           $D load -i app.tar
step "docker: tag + push (127/8 is insecure by default)" bash -c "$D tag test/umoci:1 $R/test/docker:1 && $D push $R/test/docker:1"
step "docker: pushed manifest is docker schema2" check_media_type "http://$R" test/docker 1 application/vnd.docker.distribution.manifest.v2+json
step "docker: pull (OCI manifest)"            docker_pull_fresh "$R/test/app:1"
step "docker: pull by digest"                 $D pull "$R/test/app@sha256:$MD"
step "docker: pull (docker schema2)"          docker_pull_fresh "$R/test/v2s2:1"
step "docker: pull (image pushed by podman)"  docker_pull_fresh "$R/test/podman:1"
step "docker: pull multi-arch index (amd64)"  docker_pull_fresh "$R/test/multi:1"
step "docker: pulled index image is amd64"    docker_arch "$R/test/multi:1" amd64
step "docker: pull --platform linux/arm64"    $D pull --platform linux/arm64 "$R/test/multi:1"
step "docker: pulled image is arm64"          docker_arch "$R/test/multi:1" arm64
step "auth: docker login wrong password fails" fails_with "$AUTH_RE" docker_login "$A" "$BAD_PASS"
step "auth: docker login"                     docker_login "$A" "$PASS_"
step "auth: docker push"                      bash -c "$D tag test/umoci:1 $A/test/docker:1 && $D push $A/test/docker:1"
step "auth: docker pull"                      docker_pull_fresh "$A/test/docker:1"
step "auth: docker logout"                    $D logout "$A"
step "auth: docker pull after logout fails"   fails_with "$AUTH_RE" docker_pull_fresh "$A/test/docker:1"
step "tls: docker login (self-signed, 127/8 skips verify)" docker_login "$T" "$PASS_"
step "tls: docker push"                       bash -c "$D tag test/umoci:1 $T/test/docker:1 && $D push $T/test/docker:1"
step "tls: docker pull"                       docker_pull_fresh "$T/test/docker:1"

# ------------------------------------------------------------------ referrers (OCI distribution 1.1)
step "referrers: PUT artifact manifest with subject is 201" push_artifact
step "referrers: artifact pulls by digest with skopeo" skopeo inspect --raw --tls-verify=false "docker://$R/test/app@sha256:$(cat artifact.digest 2>/dev/null)"
if [ "$SERVER" = kura ]; then
  step "referrers: PUT answers OCI-Subject"     check_oci_subject
  step "referrers: GET lists the artifact"      check_referrers "" 1
  step "referrers: ?artifactType= filter applied" check_referrers_filter
  step "referrers: ?artifactType=<its type> still lists it" check_referrers "?artifactType=$ART_TYPE" 1
  step "referrers: unknown digest gives empty index" check_referrers_none
else
  for s in "OCI-Subject header" "GET lists the artifact" \
           "?artifactType= filter" "?artifactType=<its type>" "unknown digest gives empty index"; do
    skip "referrers: $s" "distribution 2.8 has no referrers API"
  done
fi

echo "time: $(( $(date +%s) - T0 )) s; server: $SERVER; log: $LOG"
if [ "$FAILN" -gt 0 ]; then
  for n in plain auth tls; do
    [ -f "logs/server-$n.log" ] || continue
    echo "--- tail of server-$n.log"; tail -n 8 "logs/server-$n.log" | sed 's/^/    | /'
  done
  if [ "${E2E_KEEP:-}" != 1 ]; then mkdir -p /tmp/kura-e2e-logs && cp -r logs/. /tmp/kura-e2e-logs/ && echo "logs copied to /tmp/kura-e2e-logs"; fi
fi
echo "$PASSN passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
