#!/usr/bin/env bash
# End-to-end test of kura's instances with real registry clients: skopeo, podman and dockerd 20.10
# log in, push and pull through an instance hostname (acme-registry.ap-northeast-1.kura.test)
# with the Docker token flow, and show the server's own message when they are refused.
#
# Usage: tests/e2e/instance_clients.sh KURA_BIN
#
# One kura server on loopback: an Internet endpoint listener and the admin API; the instance is
# set up with the kura CLI. The hostname resolves through a private hosts file: every client
# (and dockerd) runs under `unshare --mount` with that file bind-mounted on /etc/hosts; the real
# /etc/hosts is never edited.
# Environment:
#   E2E_STEP_TIMEOUT  seconds per step (default 60)
#   E2E_KEEP=1        keep the work directory (its path is printed)
# Needs root and: skopeo podman docker.io curl jq util-linux (unshare) iproute2 (ss).
# Prints PASS/FAIL per step and ends with the line "N passed, M failed". About 75 s, most of it
# waiting for a 60 s temporary password (and a token with token_ttl 10 s plus the server's 60 s
# clock leeway) to expire; every step is bounded by E2E_STEP_TIMEOUT.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
set -a   # every variable below is exported: steps run in `timeout bash -c` with exported functions

KURA=${1:?usage: $0 KURA_BIN}
[ -x "$KURA" ] || { echo "not executable: $KURA" >&2; exit 2; }
KURA=$(cd "$(dirname "$KURA")" && pwd)/$(basename "$KURA")
[ "$(id -u)" -eq 0 ] || { echo "run as root (dockerd, podman storage, unshare --mount)" >&2; exit 2; }
for c in skopeo podman dockerd /usr/bin/docker curl jq unshare mount ss timeout sha256sum gzip; do
  command -v "$c" >/dev/null || { echo "missing command: $c (run scripts/setup.sh test)" >&2; exit 2; }
done

STEP_TIMEOUT=${E2E_STEP_TIMEOUT:-60}
T0=$(date +%s)
W=$(mktemp -d /tmp/kura-inst-e2e.XXXXXX)
LOG=$W/logs/steps.log
mkdir -p "$W"/{logs,data,containers/root,containers/run,containers/tmp,docker-root,docker-exec,docker-config}

# ------------------------------------------------------------------ processes and cleanup
SERVER_PID=
DOCKERD_PID=
. "$E2E_DIR/lib.sh"   # stop_pid, step, fails_with, pick_port, put_blob, ...
cleanup() { cleanup_work "$SERVER_PID"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ step helper
PASSN=0; FAILN=0
says() { # REGEX CMD...: CMD must succeed and say something matching REGEX
  local re=$1 out; shift
  out=$("$@" 2>&1); printf '%s\n' "$out"; printf '%s\n' "$out" | grep -Eqi -- "$re"
}

# ------------------------------------------------------------------ ports, names, the world
PORT=$(pick_port); APORT=$(pick_port "$PORT")
REGION=ap-northeast-1
H=acme-registry.$REGION.kura.test       # the Internet endpoint of instance acme
R=$H:$PORT
USER_=ciuser; PASS_=ci-Pass.word-1; BAD_PASS=not-the-password
TOKEN_A=token-of-account-A-e2e-0123456789
# What each client says. dockerd shows the server's own message; skopeo and podman
# (containers/image 5.2x) replace a 401 at login with their own text, and stop at the /v2/ ping
# on any status but 200/401 without reading the body: for them a denied endpoint is
# "403 (Forbidden)", and the server's message is checked with curl through the same hostname.
BAD_RE='incorrect username or password for instance acme'      # the server (401 UNAUTHORIZED)
CI_BAD_RE='invalid username/password'                          # skopeo, podman on that 401
DENIED_RE='denied: internet endpoint of instance acme is disabled'
NOT_LISTED_RE='denied: 127\.0\.0\.1 is not in the allowlist of instance acme'
CI_DENIED_RE='invalid status code from registry 403 \(Forbidden\)'

export KURA_SERVER=http://127.0.0.1:$APORT KURA_TOKEN=$TOKEN_A
export REGISTRY_AUTH_FILE=$W/auth.json     # skopeo/podman credentials
export DOCKER_CONFIG=$W/docker-config      # docker CLI credentials
export DOCKER_HOST=unix://$W/docker.sock
export TMPDIR=$W/containers/tmp
D=/usr/bin/docker
PODMAN="podman --root $W/containers/root --runroot $W/containers/run --storage-driver vfs --tmpdir $W/containers/tmp --events-backend none"
HOSTS=$W/hosts
printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.1 %s\n' "$H" > "$HOSTS"
cd "$W"
echo '{}' > "$REGISTRY_AUTH_FILE"
echo "instance endpoint: http://$R (admin 127.0.0.1:$APORT)  work=$W"

# Runs a command in a private mount namespace where /etc/hosts is $HOSTS.
inhosts() { unshare --mount sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS" "$@"; }

cat > kura.yml <<EOF
listen: ""
data: $W/data
threads: 2
token_ttl: 10
log:
  audit: $W/logs/audit.log
endpoints:
  - listen: 127.0.0.1:$PORT
    endpoint: internet
admin:
  listen: 127.0.0.1:$APORT
  accounts:
    A: {token: $TOKEN_A}
EOF
"$KURA" serve --config kura.yml > logs/server.log 2>&1 & SERVER_PID=$!

# dockerd starts in the background now (in its own mount namespace with the private hosts file)
# and is waited for before the docker steps
unshare --mount sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS" \
  dockerd --storage-driver=vfs --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
  --insecure-registry "$R" --host "$DOCKER_HOST" --data-root "$W/docker-root" \
  --exec-root "$W/docker-exec" --pidfile "$W/docker.pid" > logs/dockerd.log 2>&1 &
DOCKERD_PID=$!

up=
for _ in $(seq 50); do
  if curl -s -o /dev/null -H "Authorization: Bearer $TOKEN_A" "http://127.0.0.1:$APORT/api/v1/whoami"; then up=1; break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$up" ]; then
  echo "FAIL server up"; tail -n 20 logs/server.log | sed 's/^/    | /'; echo "0 passed, 1 failed"; exit 1
fi
echo "PASS server up"; PASSN=$((PASSN + 1))

# ------------------------------------------------------------------ helpers used by steps
setup_world() {
  "$KURA" instance create acme --region "$REGION" --edition enterprise
  "$KURA" endpoint internet enable acme
  "$KURA" endpoint internet allow acme 127.0.0.1 --description "the e2e clients"
  echo "$PASS_" | "$KURA" credential set acme --user "$USER_" --password-stdin
  "$KURA" --output json endpoint show acme | jq -e '.internet.enabled and (.internet.allowlist | length) == 1'
}
issue_temporary() { # a 60 s password for user robot, and a bearer token (token_ttl 10 s)
  "$KURA" --output json token issue acme --user robot --ttl 60s > temp.json
  jq -e '.password | length >= 16' temp.json
  date +%s > temp.issued
  curl -fsS -u "$USER_:$PASS_" "http://127.0.0.1:$PORT/token?service=$H&scope=repository:team/app:pull" \
    -H "Host: $R" | jq -r .token > bearer.txt
  [ -s bearer.txt ]
}
build_image() { # a one-layer OCI layout oci-app, ref "1"
  local X; X=$(mktemp -d); mkdir -p "$X/rootfs/app"; echo "hello from kura instances e2e" > "$X/rootfs/app/hello.txt"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$X/rootfs" -cf "$X/layer.tar" .
  local DIFF L C M; DIFF=$(sha "$X/layer.tar"); gzip -n -c "$X/layer.tar" > "$X/l.gz"
  L=($(put_blob oci-app "$X/l.gz"))
  printf '{"created":"1970-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Cmd":["/app/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"kura e2e"}]}' "$DIFF" > "$X/c"
  C=($(put_blob oci-app "$X/c"))
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "${C[0]}" "${C[1]}" "${L[0]}" "${L[1]}" > "$X/m"
  M=($(put_blob oci-app "$X/m"))
  echo '{"imageLayoutVersion":"1.0.0"}' > oci-app/oci-layout
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
    "${M[0]}" "${M[1]}" > oci-app/index.json
  echo "${M[0]}" > app.digest; rm -rf "$X"
}
challenge() { # /v2/ through the hostname: 401 with a Bearer challenge naming this host's /token
  local hdr; hdr=$(inhosts curl -sS -D - -o /dev/null "http://$R/v2/" | tr -d '\r'); echo "$hdr"
  echo "$hdr" | head -1 | grep -q ' 401'
  echo "$hdr" | grep -qi "^www-authenticate: Bearer realm=\"http://$R/token\",service=\"$H\""
}
check_inspect() { # REF [skopeo opts]: the digest of the image pushed from oci-app
  local ref=$1 out; shift
  out=$(inhosts skopeo inspect --tls-verify=false "$@" "docker://$ref"); echo "$out"
  echo "$out" | jq -e --arg d "sha256:$(cat "${DIGEST_FILE:-app.digest}")" '.Digest == $d' >/dev/null
}
docker_push() { # docker converts to a schema2 manifest: remember the digest it reports
  $D tag "$R/team/app:1" "$R/team/docker:1"
  $D push "$R/team/docker:1" | tee docker-push.out
  grep -o 'digest: sha256:[0-9a-f]*' docker-push.out | sed 's/^digest: sha256://' > docker.digest
  [ -s docker.digest ]
}
curl_denied() { # REGEX: the server's 403 DENIED body through the hostname, with credentials
  local out; out=$(inhosts curl -sS -u "$USER_:$PASS_" -w '\nHTTP %{http_code}\n' "http://$R/v2/"); echo "$out"
  echo "$out" | grep -q '^HTTP 403$'
  echo "$out" | grep -q '"code":"DENIED"'
  echo "$out" | grep -Eq "${1#denied: }"
}
curl_bad_password() { # REGEX USER PASSWORD: the server's 401 body
  local out; out=$(inhosts curl -sS -u "$2:$3" -w '\nHTTP %{http_code}\n' "http://$R/v2/"); echo "$out"
  echo "$out" | grep -q '^HTTP 401$'; echo "$out" | grep -Eq "$1"
}
temp_pass() { jq -r .password temp.json; }
skopeo_login_temp() { inhosts skopeo login --tls-verify=false -u robot -p "$(temp_pass)" "$R"; }
podman_login_temp() { inhosts $PODMAN login --tls-verify=false -u robot -p "$(temp_pass)" "$R"; }
docker_login() { echo "$2" | $D login -u "$1" --password-stdin "$R"; }
audit_has() { # JQ-FILTER: some audit line matches (kura writes the log from its own thread)
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    jq -ce "select($1)" logs/audit.log | tail -1 | grep -q . && return 0
    sleep 0.1
  done
  return 1
}
wait_expired() { # until the temporary password (60 s) and the bearer token (10 s + 60 s leeway) expired
  local until=$(( $(cat temp.issued) + 72 )) now; now=$(date +%s)
  echo "waiting $(( until > now ? until - now : 0 )) s"
  [ "$now" -ge "$until" ] || sleep $(( until - now ))
}
bearer_expired() { # the token fetched at the start: refused now, with the server's reason
  local out; out=$(inhosts curl -sS -w '\nHTTP %{http_code}\n' -H "Authorization: Bearer $(cat bearer.txt)" "http://$R/v2/"); echo "$out"
  echo "$out" | grep -q '^HTTP 401$'; echo "$out" | grep -q 'invalid token: token expired'
}
bearer_works() {
  inhosts curl -fsS -H "Authorization: Bearer $(cat bearer.txt)" "http://$R/v2/"
}

export -f $(declare -F | awk '{print $3}')

# ================================================================== steps
step "setup: instance acme, Internet endpoint for 127.0.0.1, password (kura CLI)" setup_world
step "setup: temporary password (60 s) and a bearer token (token_ttl 10 s)" issue_temporary
step "setup: OCI image layout" build_image
step "hosts: the instance hostname resolves only in the private mount namespace" \
  bash -c "inhosts getent hosts $H | grep -q 127.0.0.1 && ! getent hosts $H"
step "curl: /v2/ through the hostname gives a Bearer challenge" challenge
step "curl: the bearer token works"              bearer_works

# ------------------------------------------------------------------ skopeo
step "curl: wrong password gives the server's 401 message" curl_bad_password "$BAD_RE" "$USER_" "$BAD_PASS"
step "skopeo: login wrong password fails"        fails_with "$CI_BAD_RE" inhosts skopeo login --tls-verify=false -u "$USER_" -p "$BAD_PASS" "$R"
step "skopeo: login"                             inhosts skopeo login --tls-verify=false -u "$USER_" -p "$PASS_" "$R"
step "skopeo: push (token flow)"                 inhosts skopeo copy --dest-tls-verify=false oci:oci-app:1 "docker://$R/team/app:1"
step "skopeo: inspect"                           check_inspect "$R/team/app:1"
step "skopeo: logout"                            inhosts skopeo logout "$R"
step "skopeo: inspect after logout fails"        fails_with "unauthorized|authentication required" inhosts skopeo inspect --tls-verify=false "docker://$R/team/app:1"
step "skopeo: temporary password login"          skopeo_login_temp
step "skopeo: inspect with the temporary password" check_inspect "$R/team/app:1" --creds "robot:$(temp_pass)"
step "skopeo: logout (temporary)"                inhosts skopeo logout "$R"

# ------------------------------------------------------------------ podman
step "podman: login wrong password fails"        fails_with "$CI_BAD_RE" inhosts $PODMAN login --tls-verify=false -u "$USER_" -p "$BAD_PASS" "$R"
step "podman: login"                             inhosts $PODMAN login --tls-verify=false -u "$USER_" -p "$PASS_" "$R"
step "podman: pull"                              inhosts $PODMAN pull --tls-verify=false "$R/team/app:1"
step "podman: tag + push"                        bash -c "$PODMAN tag $R/team/app:1 $R/team/podman:1 && inhosts $PODMAN push --tls-verify=false $R/team/podman:1"
step "podman: pushed image inspects"             check_inspect "$R/team/podman:1" --creds "$USER_:$PASS_"
step "podman: logout"                            inhosts $PODMAN logout "$R"
step "podman: pull after logout fails"           fails_with "unauthorized|authentication required" inhosts $PODMAN pull --tls-verify=false "$R/team/podman:1"
step "podman: temporary password login + pull"   bash -c "podman_login_temp && inhosts $PODMAN pull --tls-verify=false $R/team/podman:1 && inhosts $PODMAN logout $R"

# ------------------------------------------------------------------ dockerd 20.10
step "docker: dockerd up (private hosts file)"   wait_dockerd
step "docker: login wrong password fails"        fails_with "unauthorized: $BAD_RE" docker_login "$USER_" "$BAD_PASS"
step "docker: login"                             docker_login "$USER_" "$PASS_"
step "docker: pull"                              docker_pull_fresh "$R/team/app:1"
step "docker: tag + push"                        docker_push
DIGEST_FILE=docker.digest step "docker: pushed image inspects (skopeo, digest docker reported)" check_inspect "$R/team/docker:1" --creds "$USER_:$PASS_"
step "docker: logout"                            $D logout "$R"
step "docker: pull after logout fails"           fails_with "unauthorized|authentication required|denied" docker_pull_fresh "$R/team/docker:1"
step "docker: temporary password login"          docker_login robot "$(jq -r .password temp.json)"
step "docker: pull with the temporary password"  docker_pull_fresh "$R/team/docker:1"

# ------------------------------------------------------------------ a denied endpoint
step "admin: disable the Internet endpoint"      "$KURA" endpoint internet disable acme
step "denied: curl gets 403 DENIED with the reason" curl_denied "$DENIED_RE"
step "denied: docker pull shows the reason"      fails_with "$DENIED_RE" docker_pull_fresh "$R/team/docker:1"
step "denied: docker login fails with 403"       fails_with "403 Forbidden" docker_login "$USER_" "$PASS_"
step "denied: skopeo login fails with 403"       fails_with "$CI_DENIED_RE" inhosts skopeo login --tls-verify=false -u "$USER_" -p "$PASS_" "$R"
step "denied: skopeo inspect fails with 403"     fails_with "$CI_DENIED_RE" inhosts skopeo inspect --tls-verify=false --creds "$USER_:$PASS_" "docker://$R/team/app:1"
step "denied: podman login fails with 403"       fails_with "$CI_DENIED_RE" inhosts $PODMAN login --tls-verify=false -u "$USER_" -p "$PASS_" "$R"
step "denied: podman pull fails with 403"        fails_with "$CI_DENIED_RE" inhosts $PODMAN pull --tls-verify=false --creds "$USER_:$PASS_" "$R/team/app:1"
step "denied: audit line internet-disabled"      audit_has '.rule == "internet-disabled" and .allowed == false and .source == "127.0.0.1"'
step "admin: enable, allowlist without 127.0.0.1" bash -c "'$KURA' endpoint internet enable acme && '$KURA' endpoint internet allow acme 198.51.100.10 && '$KURA' endpoint internet revoke acme 127.0.0.1"
step "allowlist: curl gets 403 DENIED with the reason" curl_denied "$NOT_LISTED_RE"
step "allowlist: docker pull shows the reason"   fails_with "$NOT_LISTED_RE" docker_pull_fresh "$R/team/docker:1"
step "allowlist: skopeo login fails with 403"    fails_with "$CI_DENIED_RE" inhosts skopeo login --tls-verify=false -u "$USER_" -p "$PASS_" "$R"
step "allowlist: podman pull fails with 403"     fails_with "$CI_DENIED_RE" inhosts $PODMAN pull --tls-verify=false --creds "$USER_:$PASS_" "$R/team/app:1"
step "allowlist: audit line not-in-allowlist"    audit_has '.rule == "not-in-allowlist" and .allowed == false and .source == "127.0.0.1"'
step "admin: allow 127.0.0.1 again"              "$KURA" endpoint internet allow acme 127.0.0.1/32
step "allowed again: skopeo inspect"             check_inspect "$R/team/app:1" --creds "$USER_:$PASS_"
step "allowed again: docker pull"                docker_pull_fresh "$R/team/docker:1"

# ------------------------------------------------------------------ expiry
STEP_TIMEOUT=80 step "expiry: wait for the temporary password and the token to expire" wait_expired
step "expiry: curl with the expired temporary password gets 401" curl_bad_password "$BAD_RE" robot "$(jq -r .password temp.json 2>/dev/null)"
step "expiry: skopeo login with the expired temporary password fails" fails_with "$CI_BAD_RE" skopeo_login_temp
step "expiry: podman login with the expired temporary password fails" fails_with "$CI_BAD_RE" podman_login_temp
step "expiry: docker login with the expired temporary password fails" fails_with "unauthorized: $BAD_RE" docker_login robot "$(jq -r .password temp.json 2>/dev/null)"
step "expiry: the expired bearer token is refused (invalid token)" bearer_expired
step "expiry: the permanent password still works" check_inspect "$R/team/app:1" --creds "$USER_:$PASS_"

echo "time: $(( $(date +%s) - T0 )) s; log: $LOG"
if [ "$FAILN" -gt 0 ]; then
  echo "--- tail of server.log"; tail -n 8 logs/server.log | sed 's/^/    | /'
  if [ "${E2E_KEEP:-}" != 1 ]; then mkdir -p /tmp/kura-e2e-logs && cp -r logs/. /tmp/kura-e2e-logs/ && echo "logs copied to /tmp/kura-e2e-logs"; fi
fi
echo "$PASSN passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
