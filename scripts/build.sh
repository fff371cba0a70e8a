#!/usr/bin/env bash
# Configures and builds rrvm into build/ (or $RRVM_BUILD_DIR). Extra arguments go to cmake.
# CI (CI=true) builds with -Werror; elsewhere the cache keeps whatever -DRRVM_WERROR you chose.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build}
args=()
[ "${CI:-}" = "true" ] && args+=(-DRRVM_WERROR=ON)
cmake -S "$root" -B "$build" -G Ninja "${args[@]}" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
