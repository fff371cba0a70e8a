#!/usr/bin/env bash
# Applies clang-format to rrvm's C++ sources (the guest's C too). With --check, changes nothing and
# exits 1 when a file would change. With --tidy, also runs clang-tidy over build/compile_commands.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=apply
tidy=0
for a in "$@"; do
  case "$a" in
    --check) mode=check ;;
    --tidy) tidy=1 ;;
    *) echo "usage: $0 [--check] [--tidy]" >&2; exit 2 ;;
  esac
done
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' | grep -v '^vmm/guest/.*\.S$')
if [ "$mode" = check ]; then
  clang-format --dry-run --Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
if [ "$tidy" = 1 ]; then
  [ -f build/compile_commands.json ] || { echo "format: build first (scripts/build.sh)" >&2; exit 2; }
  git ls-files '*.cc' | grep -v '^vmm/guest/' | xargs clang-tidy -p build --quiet
fi
