#!/usr/bin/env bash
# Installs every Debian package rrvm's build, tests, benchmarks and demo need. Idempotent: it asks
# apt only for what is missing, and runs `apt-get update` only when an install needs it.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config
  capnproto libcapnp-dev libzstd-dev zstd libxxhash-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  socat qemu-system-x86 cpio busybox-static xz-utils acpica-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Try without refreshing the package lists first; refresh once if that fails (stale or empty lists).
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
