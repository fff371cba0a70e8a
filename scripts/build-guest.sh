#!/usr/bin/env bash
# Builds the guests rrvm boots, into $RRVM_BUILD_DIR (default build/):
#   rrvm-guest.elf          the rrvm guest (CMake target rrvm_guest)
#   linux/bzImage           Debian's kernel (package linux-image-amd64's dependency)
#   linux/vmlinux           the same kernel uncompressed (scripts/extract-vmlinux.sh)
#   linux/initramfs.cpio.gz busybox-static, the kernel's virtio modules (virtio, virtio_ring,
#                           virtio_mmio, virtio_blk, virtio_rng and what they depend on, in load
#                           order, decompressed) and an /init that loads them, reads /dev/vda and
#                           /dev/hwrng when present (or, with rrvm_initramfs.expect=vda,hwrng, fails
#                           without them), prints "rrvm-initramfs: ready" only when every check
#                           passed ("rrvm-initramfs: failed" otherwise) and ends the VM through the
#                           debug-exit port (docs/guest.md)
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` under linux/: nothing
# is installed into the system. Idempotent: downloads and extractions already done are skipped.
#
# Usage: scripts/build-guest.sh [--rrvm-only]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build}
linux=$build/linux

# What the initramfs loads; their dependencies (from each module's .modinfo) are added before them.
INITRAMFS_MODULES=(virtio virtio_ring virtio_mmio virtio_blk virtio_rng)

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

# One field of an uncompressed module's .modinfo, read with readelf (no kmod needed):
# `modinfo_field FILE depends` prints e.g. "virtio,virtio_ring".
modinfo_field() {
  readelf -p .modinfo "$1" | sed -n "s/^ *\[ *[0-9a-f]*\] *$2=//p" | head -n1
}

# Copies module $1 (named as modprobe does, '-' or '_') into $3/lib/modules/NAME.ko after its
# dependencies, decompressed (busybox insmod may not read .ko.xz or .ko.zst), and appends its name
# to load_order, so that load_order is an order insmod accepts. Built-in modules need nothing.
declare -A module_done
load_order=()
add_module() {
  local name=${1//-/_} rel=$2 stage=$3 src out dep vermagic
  [ -n "${module_done[$name]:-}" ] && return 0
  module_done[$name]=1
  local pattern=${name//_/[-_]}
  src=$(find "$linux/kernel/lib/modules/$rel" -regextype posix-extended \
    -regex ".*/${pattern}\.ko(\.xz|\.zst|\.gz)?" -print -quit)
  if [ -z "$src" ]; then
    grep -Eq "/${pattern}\.ko$" "$linux/kernel/lib/modules/$rel/modules.builtin" ||
      die "module $name: neither in the kernel package nor built in"
    return 0
  fi
  out=$stage/lib/modules/$name.ko
  case $src in
    *.xz) xz -dc "$src" >"$out" ;;
    *.zst) zstd -qdc "$src" >"$out" ;;
    *.gz) gzip -dc "$src" >"$out" ;;
    *) cp "$src" "$out" ;;
  esac
  vermagic=$(modinfo_field "$out" vermagic)
  [ "${vermagic%% *}" = "$rel" ] || die "module $name: vermagic '$vermagic' is not kernel $rel"
  for dep in $(modinfo_field "$out" depends | tr ',' ' '); do
    add_module "$dep" "$rel" "$stage"
  done
  load_order+=("$name")
}

# Writes the /init script to $1; $2... are the modules it loads, in that order.
write_init() {
  local init=$1 m
  shift
  cat >"$init" <<'EOF'
#!/bin/busybox sh
# rrvm initramfs: mount the basics, load the virtio modules, use /dev/vda and /dev/hwrng when the
# VMM gave them, say ready (only when nothing failed), end the VM with status 0 (1 when something
# here failed).
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
status=0
fail() {
  echo "rrvm-initramfs: FAIL $*"
  status=1
}

# rrvm_initramfs.expect=vda,hwrng: the devices the VMM promised; a missing one is a failure.
expected() {
  case ",$(sed -n 's/.*rrvm_initramfs\.expect=\([^ ]*\).*/\1/p' /proc/cmdline)," in
    *",$1,"*) return 0 ;;
  esac
  return 1
}
absent() {
  if expected "$1"; then fail "no $1, but rrvm_initramfs.expect names it"; else echo "rrvm-initramfs: no $2"; fi
}

# insmod, unlike modprobe, takes no options from the kernel command line: pass each
# NAME.OPTION=VALUE word (virtio_mmio.device=SIZE@ADDR:IRQ) to module NAME.
loaded=""
load() {
  opts=""
  for w in $(cat /proc/cmdline); do
    case "$w" in "$1".*) opts="$opts ${w#"$1".}" ;; esac
  done
  if insmod "/lib/modules/$1.ko" $opts; then loaded="$loaded $1"; else fail "insmod $1$opts"; fi
}
EOF
  for m in "$@"; do echo "load $m" >>"$init"; done
  cat >>"$init" <<'EOF'
echo "rrvm-initramfs: modules$loaded"

# The first virtio disk (when virtio_blk found one): its size and sector 0; with
# rrvm_initramfs.write_vda=1 on the command line also a marker written to sector 1 and read back
# after dropping the page cache.
use_vda() {
  if ! ls -d /sys/bus/virtio/drivers/virtio_blk/virtio* >/dev/null 2>&1; then
    absent vda /dev/vda
    return
  fi
  for _ in 1 2 3; do
    [ -b /dev/vda ] && break
    sleep 1
  done
  if [ ! -b /dev/vda ]; then
    fail "virtio_blk has a device but /dev/vda did not appear within 3 s"
    return
  fi
  sector0=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | od -An -tx1 -N16 | tr -d ' \n')
  md5=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
  echo "rrvm-initramfs: vda sectors=$(cat /sys/block/vda/size) sector0=$sector0 sector0-md5=$md5"
  grep -qw rrvm_initramfs.write_vda=1 /proc/cmdline || return
  marker="rrvm-initramfs wrote sector 1"
  printf '%s' "$marker" | dd of=/dev/vda bs=512 seek=1 conv=sync,fsync 2>/dev/null || fail "writing /dev/vda"
  echo 3 >/proc/sys/vm/drop_caches
  back=$(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c ${#marker})
  if [ "$back" = "$marker" ]; then echo "rrvm-initramfs: vda write ok"; else fail "vda read back '$back'"; fi
}
use_vda

# The kernel's hw_random core is built in: /dev/hwrng exists with rng_current "none" until
# virtio_rng (or another driver) registers a source.
rng_current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none)
if [ -c /dev/hwrng ] && [ "$rng_current" != none ]; then
  rng=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
  echo "rrvm-initramfs: hwrng $rng_current bytes=$rng"
else
  absent hwrng hwrng
fi

# "ready" means every check above passed: hosts wait for it.
summary="kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
if [ "$status" -eq 0 ]; then echo "rrvm-initramfs: ready $summary"; else echo "rrvm-initramfs: failed $summary"; fi
# The status to the debug-exit port 0x501 (rrvm, and QEMU's isa-debug-exit) ends the VM; a VMM
# without it gets a power-off request instead.
printf "\\$(printf %03o "$status")" | dd of=/dev/port bs=1 seek=$((0x501)) count=1 2>/dev/null
poweroff -f
EOF
  chmod 755 "$init"
}

build_initramfs() {
  command -v cpio >/dev/null || die "cpio is missing: run scripts/setup.sh"
  unpack_deb "$(download_deb busybox-static)" "$linux/busybox"
  local stage=$linux/initramfs rel m
  rel=$(cat "$linux/kernel-release")
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/lib/modules"
  cp "$linux/busybox/bin/busybox" "$stage/bin/busybox"
  for m in "${INITRAMFS_MODULES[@]}"; do add_module "$m" "$rel" "$stage"; done
  write_init "$stage/init" "${load_order[@]}"
  log "initramfs modules, in load order: ${load_order[*]}"
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
