#include "trace/chunk_decompressor.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace rrvm::trace::internal {
namespace {

// The writer's zstd levels use windows of a few MiB at most; a larger one is hostile.
constexpr int MAX_WINDOW_LOG = 24;

}  // namespace

ChunkDecompressor::ChunkDecompressor() : dctx_(ZSTD_createDCtx()) {
  RRVM_CHECK(dctx_ != nullptr);
  ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, MAX_WINDOW_LOG);
}

ChunkDecompressor::~ChunkDecompressor() { ZSTD_freeDCtx(dctx_); }

Result<std::span<const capnp::word>> ChunkDecompressor::decompress(std::span<const uint8_t> frame,
                                                                   size_t max_bytes) {
  ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  size_t used = 0;
  size_t want = std::min<size_t>(std::max<size_t>(frame.size() * 8, 64 * 1024), max_bytes);
  while (true) {
    if (out_words_ * sizeof(capnp::word) < want) grow(want / sizeof(capnp::word) + 1, used);
    size_t cap = std::min(out_words_ * sizeof(capnp::word), max_bytes + 1);
    ZSTD_outBuffer out{out_.get(), cap, used};
    size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
    used = out.pos;
    if (ZSTD_isError(ret)) return make_error(std::string("zstd: ") + ZSTD_getErrorName(ret));
    if (used > max_bytes) {
      return make_error("decompresses to more than " + std::to_string(max_bytes >> 20) +
                        " MiB (corrupt, or a zstd bomb)");
    }
    if (ret == 0) break;  // frame complete, checksum verified
    if (in.pos == in.size && used < cap) return make_error("zstd: frame ends early");
    if (used == cap) want = std::min(cap * 2, max_bytes + 8);
  }
  if (in.pos != in.size) return make_error("trailing bytes after the zstd frame");
  if (used % sizeof(capnp::word) != 0) {
    return make_error("decompressed size " + std::to_string(used) + " is not a multiple of 8");
  }
  return std::span<const capnp::word>(out_.get(), used / sizeof(capnp::word));
}

void ChunkDecompressor::grow(size_t words, size_t keep_bytes) {
  std::unique_ptr<capnp::word[]> bigger(new capnp::word[words]);
  if (keep_bytes != 0) std::memcpy(bigger.get(), out_.get(), keep_bytes);
  out_ = std::move(bigger);
  out_words_ = words;
}

}  // namespace rrvm::trace::internal
