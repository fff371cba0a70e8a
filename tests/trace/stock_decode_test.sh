#!/usr/bin/env bash
# The stock-tools promise of docs/trace-format.md: with only Debian's zstd and capnp,
#   zstd -dc TRACE | capnp decode trace/schema/trace.capnp Batch
# prints every event of a trace (several chunks here). Exit 77 (skipped) when a tool is missing.
set -euo pipefail
writer=$1 rrvm=$2 schema=$3 work=$4
for tool in zstd capnp; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: '$tool' is not installed (scripts/setup.sh installs it)"
    exit 77
  fi
done
mkdir -p "$work"
trace=$work/stock.rrtrace
"$writer" "$trace" 20 4096
chunks=$("$rrvm" info "$trace" | awk '/^chunks:/ {print $2}')
events=$("$rrvm" dump "$trace" | wc -l)
[ "$chunks" -gt 3 ] || { echo "FAIL: expected several chunks, got $chunks"; exit 1; }

zstd -dc "$trace" | capnp decode "$schema" Batch >"$work/decoded.txt"
# Every event prints its timeDeltaNs first (trace.capnp: Event).
decoded=$(grep -c '^ *(timeDeltaNs = \|^ *( timeDeltaNs = ' "$work/decoded.txt")
echo "rrvm dump: $events events in $chunks chunks; capnp decode: $decoded events"
[ "$decoded" -eq "$events" ] || { echo "FAIL: capnp decode printed $decoded events, rrvm dump $events"; exit 1; }
for want in 'rrvmVersion = "0.1.0-sample"' \
            'runStateChange = (from = running, to = paused, reason = "qmp:stop", accepted = true)' \
            'name = "cpu_synchronize_state"' \
            '(index = 1760, value = 0)' \
            'name = "vcpu0"' \
            'firstSeq = '; do
  grep -qF "$want" "$work/decoded.txt" || { echo "FAIL: '$want' missing from capnp decode output"; exit 1; }
done
echo "PASS"
