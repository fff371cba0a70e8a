#!/usr/bin/env bash
# The README's first command: sets up, builds, and runs the main job.
#   1. boots the rrvm guest (2 vCPUs, a virtio disk and rng) with tracing on and a QMP socket
#   2. pauses and resumes it over QMP, then snapshots it to a file (QEMU's `migrate` to file:)
#   3. restores the snapshot into a new rrvm process, lets it tick, quits
#   4. shows what the two traces recorded: header, event counts, and the kvmclock/MSR/run-state
#      events of the pause and the snapshot with their backtraces
# Everything lands in out/demo/. Needs /dev/kvm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" rrvm
rrvm="${RRVM_BUILD_DIR:-$root/build}/rrvm"
out="$root/out/demo"
rm -rf "$out"
mkdir -p "$out"

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "demo: /dev/kvm is not available here; rrvm needs KVM to run a guest" >&2
  exit 3
fi

qmp() {  # qmp SOCKET JSON...: negotiate, run each command, print the replies
  local sock=$1
  shift
  { echo '{"execute":"qmp_capabilities"}'; for c in "$@"; do echo "$c"; done; } |
    socat -t1 - "UNIX-CONNECT:$sock" | grep -v '"QMP"' | grep -v '^{"return":{}}$' || true
}
wait_for() {  # wait_for FILE PATTERN: up to 20 s
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2' in $1" >&2
  return 1
}

truncate -s 16M "$out/disk.img"
echo "== 1. boot the rrvm guest (trace: $out/source.rrtrace)"
"$rrvm" run --cpus 2 --mem 256M --disk "$out/disk.img" --rng --append "tick_ms=100" \
  --trace "$out/source.rrtrace" --qmp "$out/source.qmp" --serial "$out/source-console.txt" \
  2>"$out/source.log" &
src=$!
wait_for "$out/source-console.txt" "rrvm-guest: ready"
wait_for "$out/source-console.txt" "^tick 3 "
echo "== 2. stop, cont, snapshot to file:$out/snapshot.bin"
qmp "$out/source.qmp" '{"execute":"trace-mark","arguments":{"text":"demo: pause"}}' \
  '{"execute":"stop"}' '{"execute":"query-status"}'
sleep 0.5
qmp "$out/source.qmp" '{"execute":"cont"}'
wait_for "$out/source-console.txt" "guest-stopped"
qmp "$out/source.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"file:$out/snapshot.bin\"}}"
for _ in $(seq 100); do
  qmp "$out/source.qmp" '{"execute":"query-migrate"}' | grep -q '"completed"' && break
  sleep 0.1
done
qmp "$out/source.qmp" '{"execute":"query-migrate"}' '{"execute":"quit"}'
wait "$src"
last_tick=$(grep '^tick ' "$out/source-console.txt" | tail -1 | cut -d' ' -f2)
echo "source guest's last tick: $last_tick; snapshot: $(stat -c %s "$out/snapshot.bin") bytes"

echo "== 3. restore into a new rrvm (trace: $out/target.rrtrace)"
"$rrvm" run --cpus 2 --mem 256M --disk "$out/disk.img" --rng --incoming "file:$out/snapshot.bin" \
  --trace "$out/target.rrtrace" --qmp "$out/target.qmp" --serial "$out/target-console.txt" \
  2>"$out/target.log" &
dst=$!
wait_for "$out/target-console.txt" "^tick $((last_tick + 3)) "
qmp "$out/target.qmp" '{"execute":"query-status"}' '{"execute":"quit"}'
wait "$dst"
echo "restored guest continued with: $(grep '^tick ' "$out/target-console.txt" | head -1)"

echo "== 4. what was recorded"
"$rrvm" info "$out/source.rrtrace"
"$rrvm" stats "$out/source.rrtrace"
echo "-- the snapshot on the source: run states, kvmclock, TSC, clock, MSR gets, sections"
"$rrvm" dump "$out/source.rrtrace" --type run-state,notifier,clock,tsc-read,kvmclock-ctrl,msr,snapshot-section,status-write,mark
echo "-- the restore on the target, with backtraces"
"$rrvm" dump "$out/target.rrtrace" --type run-state,clock,kvmclock-ctrl --backtrace
echo
echo "demo: done. Traces, consoles and the snapshot are in $out/"
echo "      try: $rrvm dump $out/source.rrtrace --backtrace | less"
