#!/usr/bin/env bash
# Builds rrvm in Release and runs the virtio device-model benchmarks (docs/benchmarks.md, "virtio"):
# host-side cost per virtio-blk request, from queue notification to used-ring update and interrupt.
# Extra arguments go to the benchmark program (e.g. --benchmark_filter=Read4K).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build-release}
"$root/scripts/setup.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRRVM_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target virtio_bench
echo "virtio benchmarks: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
     "image in $(df --output=fstype /tmp | tail -1) /tmp"
# The median of 5 repetitions of each.
"$build/scripts/bench/virtio_bench" --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true "$@"
