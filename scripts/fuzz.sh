#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, RRVM_FUZZ=ON) into build-fuzz/ and runs each for
# a while on a working copy of its seed corpus (fuzz/seeds/<target>/ is never modified).
# Findings land in build-fuzz/findings/<target>/ and make the script exit 1.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
#   targets: trace_reader_fuzzer snapshot_fuzz virtqueue_fuzz (default: all)
# Not part of scripts/test.sh: long fuzzing runs live here. RRVM_BUILD_DIR overrides build-fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RRVM_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(trace_reader_fuzzer snapshot_fuzz virtqueue_fuzz)

# Each target's seed folder under fuzz/seeds/.
seed_dir() {
  case $1 in
    trace_reader_fuzzer) echo "$root/fuzz/seeds/trace_reader" ;;
    *) echo "$root/fuzz/seeds/$1" ;;
  esac
}

"$root/scripts/setup.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRRVM_FUZZ=ON \
  -DRRVM_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
build_args=()
for t in "${targets[@]}"; do build_args+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${build_args[@]}"

failed=()
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  findings=$build/findings/$t
  mkdir -p "$corpus" "$findings"
  seeds=$(seed_dir "$t")
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s (corpus $corpus, findings $findings)"
  if ! "$build/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" 2>"$build/$t.log"; then
    failed+=("$t")
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$build/$t.log" | sed "s/^/  /" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}: see $build/findings/ and $build/<target>.log" >&2
  exit 1
fi
echo "fuzz: no findings in ${targets[*]}"
