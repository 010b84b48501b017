#!/usr/bin/env bash
# Installs the Debian packages kura needs to build, run and test; only the missing ones.
# Usage: scripts/setup.sh [build|test]   (test adds the real clients and the peer registry)
set -euo pipefail
mode=${1:-build}
# libpq-dev and libcurl4-openssl-dev: headers only (the PostgreSQL and S3 stores load libpq.so.5
# and libcurl.so.4 at run time); libpq5, postgresql-15 and Ceph: the servers of the store suites
# (scripts/pg-up.sh, scripts/ceph-up.sh); haproxy and socat: the cluster (scripts/cluster.sh).
build_pkgs=(g++ lld cmake make ninja-build ccache pkg-config libboost1.81-dev libssl-dev libsqlite3-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libcrypt-dev libgtest-dev libgmock-dev
  libcurl4-openssl-dev libpq-dev)
test_pkgs=(python3 python3-pytest curl jq apache2-utils openssl iproute2 skopeo podman buildah
  docker.io docker-registry umoci gcc libc6-dev ceph-mon ceph-osd ceph-mgr radosgw ceph-common
  libpq5 postgresql-15 haproxy socat)
pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
