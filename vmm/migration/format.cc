#include "vmm/migration/format.h"

#include <bit>
#include <cstring>

namespace rrvm::migration {

// The stream is little-endian; rrvm only runs on x86-64, so host order is stream order.
static_assert(std::endian::native == std::endian::little, "the migration stream is little-endian");

std::string_view record_kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::Header:
      return "header";
    case RecordKind::Section:
      return "section";
    case RecordKind::RamRun:
      return "RAM run";
    case RecordKind::Iteration:
      return "iteration";
    case RecordKind::End:
      return "end";
    case RecordKind::Ack:
      return "ack";
  }
  return "unknown";
}

void encode_frame(const Frame& frame, uint8_t out[FRAME_BYTES]) {
  std::memcpy(out, &frame.kind, 4);
  std::memcpy(out + 4, &frame.descriptor_bytes, 4);
  std::memcpy(out + 8, &frame.payload_bytes, 8);
}

Frame decode_frame(const uint8_t in[FRAME_BYTES]) {
  Frame f;
  std::memcpy(&f.kind, in, 4);
  std::memcpy(&f.descriptor_bytes, in + 4, 4);
  std::memcpy(&f.payload_bytes, in + 8, 8);
  return f;
}

void encode_preamble(uint8_t out[PREAMBLE_BYTES]) {
  std::memcpy(out, STREAM_MAGIC, sizeof STREAM_MAGIC);
  uint32_t version = FORMAT_VERSION;
  uint32_t zero = 0;
  std::memcpy(out + 8, &version, 4);
  std::memcpy(out + 12, &zero, 4);
}

}  // namespace rrvm::migration
