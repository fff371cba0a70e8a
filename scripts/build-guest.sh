#!/usr/bin/env bash
# Builds the guests rrvm boots, into $RRVM_BUILD_DIR (default build/):
#   rrvm-guest.elf          the rrvm guest (CMake target rrvm_guest)
#   linux/bzImage           Debian's kernel (package linux-image-amd64's dependency)
#   linux/vmlinux           the same kernel uncompressed (scripts/extract-vmlinux.sh)
#   linux/initramfs.cpio.gz busybox-static and an /init that prints "rrvm-initramfs: ready" and
#                           ends the VM through the debug-exit port (status 0)
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` under linux/: nothing
# is installed into the system. Idempotent: downloads and extractions already done are skipped.
#
# Usage: scripts/build-guest.sh [--rrvm-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build}
linux=$build/linux

log() { echo "build-guest: $*"; }
die() {
  echo "build-guest: $*" >&2
  exit 1
}

build_rrvm_guest() {
  if [ -f "$build/build.ninja" ]; then
    cmake --build "$build" --target rrvm_guest
  else
    "$root/scripts/build.sh"
  fi
  log "$build/rrvm-guest.elf"
}

# apt needs package lists to download from; refresh them once when they do not know the package.
ensure_apt_lists() {
  apt-cache show linux-image-amd64 >/dev/null 2>&1 && return 0
  log "refreshing apt package lists"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
}

# Downloads package $1 into $linux/debs unless a .deb of it is there already; prints its path.
download_deb() {
  local pkg=$1 deb
  deb=$(ls "$linux/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$linux/debs" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
    deb=$(ls "$linux/debs/${pkg}_"*.deb | head -n1)
  fi
  echo "$deb"
}

# Unpacks $1 into directory $2 once (a stamp names the .deb it came from).
unpack_deb() {
  local deb=$1 dir=$2
  if [ "$(cat "$dir/.from" 2>/dev/null || true)" != "$(basename "$deb")" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    basename "$deb" >"$dir/.from"
  fi
}

fetch_kernel() {
  # linux-image-amd64 is a metapackage: the kernel is in the package it depends on.
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
  unpack_deb "$(download_deb "$pkg")" "$linux/kernel"
  local image
  image=$(ls "$linux/kernel/boot/vmlinuz-"* | head -n1)
  cp -fp "$image" "$linux/bzImage"
  basename "$image" | sed 's/^vmlinuz-//' >"$linux/kernel-release"
  if [ ! -f "$linux/vmlinux" ] || [ "$linux/bzImage" -nt "$linux/vmlinux" ]; then
    "$root/scripts/extract-vmlinux.sh" "$linux/bzImage" "$linux/vmlinux"
  fi
  log "$linux/bzImage and $linux/vmlinux (kernel $(cat "$linux/kernel-release"))"
}

write_init() {
  cat >"$1" <<'EOF'
#!/bin/busybox sh
# rrvm initramfs: mount the basics, say ready, end the VM.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "rrvm-initramfs: ready kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
# Status 0 to the debug-exit port 0x501 (rrvm, and QEMU's isa-debug-exit) ends the VM; a VMM
# without it gets a power-off request instead.
printf '\000' | dd of=/dev/port bs=1 seek=$((0x501)) count=1 2>/dev/null
poweroff -f
EOF
  chmod 755 "$1"
}

build_initramfs() {
  command -v cpio >/dev/null || die "cpio is missing: run scripts/setup.sh"
  unpack_deb "$(download_deb busybox-static)" "$linux/busybox"
  local stage=$linux/initramfs
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/proc" "$stage/sys" "$stage/dev"
  cp "$linux/busybox/bin/busybox" "$stage/bin/busybox"
  write_init "$stage/init"
  (cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --owner 0:0) |
    gzip -9n >"$linux/initramfs.cpio.gz.tmp"
  mv "$linux/initramfs.cpio.gz.tmp" "$linux/initramfs.cpio.gz"
  log "$linux/initramfs.cpio.gz"
}

build_rrvm_guest
[ "${1:-}" = "--rrvm-only" ] && exit 0
mkdir -p "$linux/debs"
ensure_apt_lists
fetch_kernel
build_initramfs
