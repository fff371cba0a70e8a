#!/usr/bin/env bash
# Builds rrvm in Release and runs the trace benchmarks (docs/benchmarks.md, "Trace").
# Extra arguments go to the benchmark program (e.g. --benchmark_filter=Emit).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build-release}
"$root/scripts/setup.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRRVM_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target trace_bench
echo "trace benchmarks: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
     "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# Latency: the median of 10 repetitions (each the mean over many batches of 256 emits).
"$build/scripts/bench/trace_bench" --benchmark_filter='BM_Emit' --benchmark_repetitions=10 \
    --benchmark_report_aggregates_only=true "$@"
"$build/scripts/bench/trace_bench" --benchmark_filter='BM_(Writer|Reader)' --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true "$@"
"$build/scripts/bench/trace_bench" --benchmark_filter='BM_Size' "$@"
