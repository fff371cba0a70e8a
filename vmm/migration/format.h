// Framing constants of the migration stream (the layout is documented in schema/snapshot.capnp).
//
// Every length read from a stream is checked against these caps before anything is allocated, so a
// hostile or corrupt stream can make rrvm refuse it but never allocate gigabytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rrvm::migration {

inline constexpr char STREAM_MAGIC[8] = {'R', 'R', 'V', 'M', 'S', 'N', 'A', 'P'};
// Bump on any change an older reader would misread.
inline constexpr uint32_t FORMAT_VERSION = 1;

inline constexpr uint64_t PAGE_SIZE = 4096;
inline constexpr uint32_t PAGE_SHIFT = 12;

// Pages per RAM run: 1 MiB of RAM, a good unit for zstd and small enough that a run's scratch
// buffers stay in cache.
inline constexpr uint32_t MAX_RUN_PAGES = 256;
inline constexpr uint32_t ZERO_BITMAP_WORDS = MAX_RUN_PAGES / 64;

// Caps on untrusted lengths.
inline constexpr uint32_t MAX_DESCRIPTOR_BYTES = 64 * 1024;
inline constexpr uint64_t MAX_SECTION_BYTES = 16ull << 20;
// A zstd frame of incompressible data is a little larger than its input; raw runs are the input.
inline constexpr uint64_t MAX_RUN_PAYLOAD_BYTES = MAX_RUN_PAGES * PAGE_SIZE + 64 * 1024;
inline constexpr uint64_t MAX_TOTAL_SECTION_BYTES = 64ull << 20;
inline constexpr size_t MAX_SECTIONS = 4096;
inline constexpr size_t MAX_SECTION_NAME = 128;

enum class RecordKind : uint32_t {
  Header = 1,
  Section = 2,
  RamRun = 3,
  Iteration = 4,
  End = 5,
  Ack = 6,
};

std::string_view record_kind_name(RecordKind kind);

// The 16-byte preamble and the 16-byte frame before every record.
inline constexpr size_t PREAMBLE_BYTES = 16;
inline constexpr size_t FRAME_BYTES = 16;

struct Frame {
  uint32_t kind = 0;
  uint32_t descriptor_bytes = 0;
  uint64_t payload_bytes = 0;
};

void encode_frame(const Frame& frame, uint8_t out[FRAME_BYTES]);
Frame decode_frame(const uint8_t in[FRAME_BYTES]);
void encode_preamble(uint8_t out[PREAMBLE_BYTES]);

}  // namespace rrvm::migration
