#!/usr/bin/env bash
# Configures and builds rrvm into build/ (or $RRVM_BUILD_DIR).
#   scripts/build.sh                 everything (tools, guest, tests, benchmarks)
#   scripts/build.sh rrvm            only the named targets (the demo needs just rrvm + the guest)
# Extra configure options go in $RRVM_CMAKE_ARGS (e.g. "-DRRVM_SANITIZE=ON" for ASan+UBSan,
# "-DRRVM_SANITIZE_THREAD=ON" for TSan, in its own $RRVM_BUILD_DIR). CI (CI=true) builds
# with -Werror; elsewhere the cache keeps whatever -DRRVM_WERROR you chose.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build}
args=()
[ "${CI:-}" = "true" ] && args+=(-DRRVM_WERROR=ON)
# shellcheck disable=SC2206
[ -n "${RRVM_CMAKE_ARGS:-}" ] && args+=($RRVM_CMAKE_ARGS)
cmake -S "$root" -B "$build" -G Ninja "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
