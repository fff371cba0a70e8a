#!/usr/bin/env bash
# Builds rrvm in Release and runs machine_bench: the VMM's own start cost (Machine::create and the
# start until every vCPU ran) and teardown, trace on and off, on the in-memory hypervisor of
# tests/core (docs/benchmarks.md, "Boot"). Needs no KVM. Extra arguments go to the program.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build-release}
"$root/scripts/setup.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRRVM_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target machine_bench
echo "machine benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
# The median of 10 repetitions, trace off and on in the same run.
"$build/scripts/bench/machine_bench" --benchmark_repetitions=10 --benchmark_report_aggregates_only=true "$@"
