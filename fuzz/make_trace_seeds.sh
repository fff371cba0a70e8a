#!/usr/bin/env bash
# Writes the trace reader fuzzer's seed corpus (fuzz/seeds/trace_reader/) with the sample-trace
# writer of the tests: a complete trace, a multi-chunk one, one without footer, one cut mid-chunk.
# Usage: fuzz/make_trace_seeds.sh BUILD_DIR   (a build dir where trace_write_sample is built)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
writer=${1:?usage: $0 BUILD_DIR}/tests/trace/trace_write_sample
out=$root/fuzz/seeds/trace_reader
mkdir -p "$out"
"$writer" "$out/complete" 1
"$writer" "$out/chunks" 4 1024
size=$(stat -c %s "$out/chunks")
# The footer's index_offset (docs/trace-format.md): everything before it is the chunks.
index_offset=$(od -An -t u8 -j $((size - 64 + 16)) -N 8 "$out/chunks" | tr -d ' ')
head -c "$index_offset" "$out/chunks" >"$out/no-footer"
head -c $((size / 2)) "$out/chunks" >"$out/cut"
ls -l "$out"
