#!/usr/bin/env bash
# Boot time to the rrvm guest's ready marker, side by side in one run:
#   rrvm (trace on), rrvm (trace off), and QEMU booting the same ELF with -kernel (PVH) on
#   -M microvm with -accel kvm. Each run starts the VMM, waits until the guest prints
#   "rrvm-guest: ready", and ends it (the guest exits at once: scenario=exit:0).
# Usage: scripts/bench/boot.sh [runs]   (default 10). Prints a table of medians and ratios.
# RRVM_BENCH_NO_BUILD=1 measures the existing build as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-10}
[ -n "${RRVM_BENCH_NO_BUILD:-}" ] || "$root/scripts/build.sh" rrvm >/dev/null
build=${RRVM_BUILD_DIR:-$root/build}
rrvm=$build/rrvm
guest=$build/rrvm-guest.elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# time_to_ready CMD...: milliseconds from start until the ready marker appears on stdout.
time_to_ready() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
ready = None
for line in p.stdout:
    if b"rrvm-guest: ready" in line and ready is None:
        ready = (time.monotonic() - start) * 1000
p.wait()
print(f"{ready:.1f}" if ready is not None else "nan")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

append="cpus=2 scenario=exit:0"
declare -A result
for kind in rrvm-trace rrvm-notrace qemu; do
  : >"$tmp/$kind"
  for _ in $(seq "$runs"); do
    case $kind in
      rrvm-trace) time_to_ready "$rrvm" --log warn run --cpus 2 --mem 256M --append "$append" \
                    --trace "$tmp/t.rrtrace" >>"$tmp/$kind" ;;
      rrvm-notrace) time_to_ready "$rrvm" --log warn run --cpus 2 --mem 256M --append "$append" \
                      --no-trace >>"$tmp/$kind" ;;
      qemu) time_to_ready qemu-system-x86_64 -M microvm -accel kvm -m 256M -smp 2 -display none \
              -nodefaults -serial stdio -no-reboot -device isa-debug-exit,iobase=0x501,iosize=2 \
              -kernel "$guest" -append "$append" >>"$tmp/$kind" ;;
    esac
  done
  result[$kind]=$(median <"$tmp/$kind")
done

echo "boot to ready marker, median of $runs runs (ms), $(date -u +%F), $(nproc) cores"
printf '%-34s %10s\n' "VMM" "ms"
printf '%-34s %10s\n' "rrvm (trace on)" "${result[rrvm-trace]}"
printf '%-34s %10s\n' "rrvm (trace off)" "${result[rrvm-notrace]}"
printf '%-34s %10s\n' "qemu-system-x86_64 -M microvm" "${result[qemu]}"
awk -v a="${result[rrvm-trace]}" -v q="${result[qemu]}" -v n="${result[rrvm-notrace]}" 'BEGIN {
  printf "rrvm/QEMU: %.2f (target <= 0.50)   trace on/off: %.3f (target <= 1.02)\n", a/q, a/n }'
