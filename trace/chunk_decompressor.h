// Decompresses one chunk (one zstd frame) with bounded memory: the output is capped (a zstd bomb
// is refused, not followed) and so is the decoder's window.
#pragma once

#include <zstd.h>

#include <capnp/common.h>

#include <memory>
#include <span>

#include "vmm/base/result.h"

namespace rrvm::trace::internal {

class ChunkDecompressor {
 public:
  ChunkDecompressor();
  ~ChunkDecompressor();
  ChunkDecompressor(const ChunkDecompressor&) = delete;
  ChunkDecompressor& operator=(const ChunkDecompressor&) = delete;

  // The frame's content as words (valid until the next call). Errors say what was wrong without
  // naming the file or chunk (the caller adds those).
  Result<std::span<const capnp::word>> decompress(std::span<const uint8_t> frame, size_t max_bytes);

 private:
  void grow(size_t words, size_t keep_bytes);

  ZSTD_DCtx* dctx_;
  // Grows by reallocation (capnp::word is not copyable, so no std::vector).
  std::unique_ptr<capnp::word[]> out_;
  size_t out_words_ = 0;
};

}  // namespace rrvm::trace::internal
