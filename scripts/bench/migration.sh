#!/usr/bin/env bash
# Builds rrvm in Release and runs the migration layer's save/restore benchmark (docs/migration.md):
# a 256 MiB FakeMigratable (real guest RAM, no KVM), idle and with 64 MiB of random data, saved to
# a snapshot file (fsync included) and restored; bandwidth reported against memcpy.
# RRVM_BENCH_DIR picks the snapshot's directory (default /tmp; /dev/shm leaves the disk out).
# Extra arguments go to the benchmark program (e.g. --benchmark_filter=Save).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build-release}
"$root/scripts/setup.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRRVM_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target migration_bench
echo "migration benchmarks: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
     "snapshot dir ${RRVM_BENCH_DIR:-/tmp}"
"$build/scripts/bench/migration_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true "$@"
