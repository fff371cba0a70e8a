#!/usr/bin/env bash
# Sets up, builds and runs every test (the README's test command; .ci/run calls exactly this).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
build=${RRVM_BUILD_DIR:-$root/build}

# Say loudly whether KVM tests can run: a skipped KVM test must never pass unnoticed.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  echo "test: /dev/kvm is available: KVM tests will run"
else
  echo "test: /dev/kvm is NOT available: KVM tests will be SKIPPED (each prints why)"
fi

cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
