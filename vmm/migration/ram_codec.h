// One RAM run (schema RamRun): up to MAX_RUN_PAGES consecutive guest pages, zero pages flagged in
// a bitmap and left out, the rest compressed as one zstd frame (or raw when zstd does not help).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/migration/byte_buffer.h"
#include "vmm/migration/format.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace rrvm::migration {

struct EncodedRun {
  uint64_t gpa = 0;
  uint32_t pages = 0;
  uint32_t zero_pages = 0;
  std::vector<uint8_t> descriptor;   // RamRun message bytes
  std::span<const uint8_t> payload;  // into the encoder's buffers; valid until the next encode()
};

class RunEncoder {
 public:
  // zstd_level: 1 by default (fast); negative levels trade size for speed.
  explicit RunEncoder(int zstd_level = 1);
  ~RunEncoder();
  RunEncoder(const RunEncoder&) = delete;
  RunEncoder& operator=(const RunEncoder&) = delete;

  // Encodes `pages` pages at host (guest address gpa). known_zero, when given, has bit i set for
  // pages known to be zero without reading them (unpopulated memory). `source_stable` is false
  // while vCPUs run: the pages are then copied before compression, because zstd's output is only
  // consistent if its input does not change under it.
  Result<const EncodedRun*> encode(uint64_t gpa, const uint8_t* host, uint32_t pages,
                                   const uint64_t* known_zero, bool source_stable);

 private:
  int level_;
  ZSTD_CCtx_s* cctx_;
  ByteBuffer gather_;  // the non-zero pages, packed
  ByteBuffer compressed_;
  EncodedRun run_;
};

// Applies runs to guest memory after validating every field against it.
class RunDecoder {
 public:
  RunDecoder();
  ~RunDecoder();
  RunDecoder(const RunDecoder&) = delete;
  RunDecoder& operator=(const RunDecoder&) = delete;

  struct Applied {
    uint64_t gpa = 0;
    uint32_t pages = 0;
    uint32_t zero_pages = 0;
  };
  // Errors describe what was wrong with the run (the caller adds stream name and offset).
  Result<Applied> apply(std::span<const uint8_t> descriptor, std::span<const uint8_t> payload,
                        const GuestMemory& memory);

 private:
  ZSTD_DCtx_s* dctx_;
  ByteBuffer scratch_;
};

}  // namespace rrvm::migration
