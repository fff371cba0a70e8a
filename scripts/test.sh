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

# The Linux boot tests need Debian's kernel and a busybox initramfs, which scripts/build-guest.sh
# fetches with `apt-get download` (idempotent: nothing is fetched twice). Without them those tests
# skip, so say which it is.
if RRVM_BUILD_DIR="$build" "$root/scripts/build-guest.sh" >"$build/build-guest.log" 2>&1; then
  echo "test: Linux guest ready in $build/linux: Linux boot tests will run"
else
  echo "test: scripts/build-guest.sh FAILED (see $build/build-guest.log): Linux boot tests will be SKIPPED"
fi

cd "$build"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
