#!/usr/bin/env bash
# Installs every Debian package Busbar needs to build, run and test (see docs/building.md, "Dependencies").
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang
  libraft-dev libuv1-dev libnng-dev libmsgpack-dev libsodium-dev
  libmicrohttpd-dev libcurl4-openssl-dev libssl-dev liblmdb-dev libjansson-dev
  libcmocka-dev zlib1g-dev
  python3 python3-pytest python3-boto3 awscli
  prometheus curl procps iproute2
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
