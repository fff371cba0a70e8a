#!/usr/bin/env bash
# Guest-visible virtio-blk throughput, rrvm vs QEMU, in one run (docs/benchmarks.md, "Guest disk
# throughput vs QEMU"). The rrvm guest's `blk-bench:MIB` step writes MIB MiB in 1 MiB requests
# from sector 0, FLUSHes, reads them back, and prints MB/s (10^6 bytes/s) for each pass, timed with
# kvmclock. It runs under rrvm (--disk, trace on as by default) and under QEMU -M microvm
# -accel kvm (virtio-blk-device on modern virtio-mmio; the guest probes microvm's transports) on
# the same raw image, 1 vCPU each, the two VMMs alternating run by run. Both use the host page
# cache (QEMU's default cache=writeback, aio=threads).
# Usage: scripts/bench/disk.sh [MIB] [RUNS]   (default 512 MiB, 5 runs). Prints medians (with the
# range over the runs) and rrvm/QEMU ratios of the medians.
# RRVM_BENCH_NO_BUILD=1 measures the existing build as it is. The image goes in $TMPDIR (or /tmp).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mib=${1:-512}
runs=${2:-5}
[ -n "${RRVM_BENCH_NO_BUILD:-}" ] || "$root/scripts/build.sh" rrvm rrvm_guest >/dev/null
build=${RRVM_BUILD_DIR:-$root/build}
rrvm=$build/rrvm
guest=$build/rrvm-guest.elf
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rrvm-disk-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
image=$tmp/disk.img
append="scenario=blk-bench:$mib"

die() {
  echo "disk.sh: $*" >&2
  exit 1
}

# Written out in full (not sparse): the first pass over a sparse file would pay for block
# allocation, and only the first VMM to run would pay it.
dd if=/dev/zero of="$image" bs=1M count="$mib" conv=fsync status=none

run_rrvm() {
  "$rrvm" --log warn run --cpus 1 --mem 256M --disk "$image" --append "$append" \
    --trace "$tmp/t.rrtrace" --serial "$tmp/out"
}

run_qemu() {
  qemu-system-x86_64 -M microvm -accel kvm -m 256M -smp 1 -display none -nodefaults \
    -serial "file:$tmp/out" -no-reboot -global virtio-mmio.force-legacy=false \
    -device isa-debug-exit,iobase=0x501,iosize=2 \
    -drive "id=d,file=$image,format=raw,if=none" -device virtio-blk-device,drive=d \
    -kernel "$guest" -append "$append"
}

# run KIND: one guest run; appends "<write MB/s> <read MB/s>" to $tmp/KIND.
run() {
  local kind=$1 status=0 want
  "run_$kind" >"$tmp/log" 2>&1 || status=$?
  want=0
  [ "$kind" = qemu ] && want=1 # isa-debug-exit: (0 << 1) | 1
  [ "$status" -eq "$want" ] || die "$kind exited with $status (want $want):
$(cat "$tmp/log" "$tmp/out" 2>/dev/null)"
  awk '/^rrvm-guest: blk-bench write / { for (i = 1; i <= NF; i++) if ($i ~ /^mb_per_s=/) w = substr($i, 10) }
       /^rrvm-guest: blk-bench read /  { for (i = 1; i <= NF; i++) if ($i ~ /^mb_per_s=/) r = substr($i, 10) }
       END { if (w == "" || r == "") exit 1; print w, r }' "$tmp/out" >>"$tmp/$kind" ||
    die "$kind: no blk-bench result lines in the guest output:
$(cat "$tmp/out")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}'; }

: >"$tmp/rrvm"
: >"$tmp/qemu"
for _ in $(seq "$runs"); do
  run rrvm
  run qemu
done

declare -A write read write_range read_range
for kind in rrvm qemu; do
  write[$kind]=$(cut -d' ' -f1 "$tmp/$kind" | median)
  read[$kind]=$(cut -d' ' -f2 "$tmp/$kind" | median)
  write_range[$kind]=$(cut -d' ' -f1 "$tmp/$kind" | spread)
  read_range[$kind]=$(cut -d' ' -f2 "$tmp/$kind" | spread)
done

echo "guest virtio-blk throughput, $mib MiB in 1 MiB requests, median of $runs runs (MB/s)," \
  "$(date -u +%F), $(nproc) cores, image on $(df --output=fstype "$tmp" | tail -1)"
printf '%-32s %10s %-15s %10s %-15s\n' "VMM" "write" "(min-max)" "read" "(min-max)"
for kind in rrvm qemu; do
  name="rrvm (trace on)"
  [ "$kind" = qemu ] && name="qemu-system-x86_64 -M microvm"
  printf '%-32s %10s %-15s %10s %-15s\n' "$name" "${write[$kind]}" "(${write_range[$kind]})" \
    "${read[$kind]}" "(${read_range[$kind]})"
done
awk -v rw="${write[rrvm]}" -v qw="${write[qemu]}" -v rr="${read[rrvm]}" -v qr="${read[qemu]}" 'BEGIN {
  printf "rrvm/QEMU: write %.2f, read %.2f (target >= 1.00)\n", rw / qw, rr / qr }'
