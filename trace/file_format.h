// The byte layout of a trace file around its chunks (docs/trace-format.md is the prose version).
//
//   [magic frame]  zstd skippable frame: "RRVMTRCE", format version, flags
//   [chunk 0]      zstd frame: the Batch with the header
//   [chunk 1..n]   zstd frames: Batches of events
//   [index frame]  zstd skippable frame: one IndexEntry per chunk          (written by close())
//   [footer frame] zstd skippable frame: Footer, fixed size, last in file  (written by close())
//
// `zstd -dc` skips the skippable frames, so it outputs exactly the concatenated Batch messages.
// Integers are little-endian (rrvm runs on x86-64 only).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rrvm::trace::internal {

// zstd skippable frames: a 4-byte magic 0x184D2A5? and a 4-byte payload size, then the payload.
inline constexpr uint32_t SKIPPABLE_MAGIC_MASK = 0xFFFFFFF0;
inline constexpr uint32_t SKIPPABLE_MAGIC_BASE = 0x184D2A50;
inline constexpr uint32_t MAGIC_FRAME_ID = 0x184D2A5A;
inline constexpr uint32_t INDEX_FRAME_ID = 0x184D2A5B;
inline constexpr uint32_t FOOTER_FRAME_ID = 0x184D2A5C;
inline constexpr size_t SKIPPABLE_HEADER_BYTES = 8;
inline constexpr uint32_t ZSTD_FRAME_MAGIC = 0xFD2FB528;

inline constexpr char FILE_MAGIC[8] = {'R', 'R', 'V', 'M', 'T', 'R', 'C', 'E'};
inline constexpr char FOOTER_MAGIC[8] = {'R', 'R', 'V', 'M', 'E', 'N', 'D', '\0'};

// The format version this rrvm writes and the only one it reads (docs: versioning policy).
inline constexpr uint32_t FORMAT_VERSION = 1;

struct MagicPayload {
  char magic[8];
  uint32_t version;
  uint32_t flags;  // none defined yet; must be 0
};
static_assert(sizeof(MagicPayload) == 16);

struct IndexEntry {
  uint64_t offset;     // file offset of the chunk's zstd frame
  uint64_t size;       // compressed bytes of the frame
  uint64_t first_seq;  // seq of the chunk's first event (the next seq if it has none)
  uint64_t events;
  uint64_t first_time_ns;  // 0 when the chunk has no events
  uint64_t last_time_ns;
  uint64_t raw_bytes;  // decompressed bytes
};
static_assert(sizeof(IndexEntry) == 56);

inline constexpr uint32_t FOOTER_COMPLETE = 1;  // close() finished: every event is in the file

struct FooterPayload {
  char magic[8];
  uint32_t version;
  uint32_t flags;         // FOOTER_COMPLETE
  uint64_t index_offset;  // file offset of the index frame
  uint64_t chunks;        // entries in the index
  uint64_t events;
  uint64_t dropped;         // events lost by the recorder (also recorded as Dropped events)
  uint64_t index_checksum;  // fnv1a64 of the index payload
  uint64_t checksum;        // fnv1a64 of this payload's preceding bytes
};
static_assert(sizeof(FooterPayload) == 64);
inline constexpr size_t FOOTER_FRAME_BYTES = SKIPPABLE_HEADER_BYTES + sizeof(FooterPayload);

// Reader limits: a chunk that decompresses to more than this is refused (zstd bombs); the writer
// keeps chunks far below it.
inline constexpr size_t MAX_CHUNK_RAW_BYTES = 64u << 20;
inline constexpr size_t MAX_WRITER_CHUNK_BYTES = 16u << 20;

inline uint64_t fnv1a64(const void* data, size_t len, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace rrvm::trace::internal
