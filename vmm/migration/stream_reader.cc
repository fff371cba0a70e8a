#include "vmm/migration/stream_reader.h"

#include <algorithm>
#include <cstring>

namespace rrvm::migration {

namespace {
constexpr size_t READ_AHEAD_BYTES = 1 << 20;

bool known_kind(uint32_t kind) {
  return kind >= static_cast<uint32_t>(RecordKind::Header) &&
         kind <= static_cast<uint32_t>(RecordKind::Ack);
}
}  // namespace

StreamReader::StreamReader(Channel& channel, std::string stream_name)
    : channel_(channel), stream_name_(std::move(stream_name)), buffer_(READ_AHEAD_BYTES) {}

Error StreamReader::error_at(uint64_t offset, std::string_view what,
                             const std::string& detail) const {
  return make_error(stream_name_ + ": " + std::string(what) + " at offset " +
                    std::to_string(offset) + ": " + detail);
}

Status StreamReader::fill(std::span<uint8_t> out, bool hashed) {
  size_t done = 0;
  while (done < out.size()) {
    if (buffer_pos_ < buffer_len_) {
      size_t n = std::min(out.size() - done, buffer_len_ - buffer_pos_);
      std::memcpy(out.data() + done, buffer_.data() + buffer_pos_, n);
      buffer_pos_ += n;
      done += n;
      continue;
    }
    // Large remainders go straight into `out`; small ones through the read-ahead buffer.
    std::span<uint8_t> dest =
        out.size() - done >= buffer_.size() / 2 ? out.subspan(done) : buffer_.span();
    Result<size_t> n = channel_.read_some(dest);
    if (!n.ok()) return n.error();
    if (*n == 0)
      return make_error("truncated: the stream ends at offset " + std::to_string(offset_ + done));
    if (dest.data() == buffer_.data()) {
      buffer_pos_ = 0;
      buffer_len_ = *n;
    } else {
      done += *n;
    }
  }
  if (hashed) checksum_.update(out);
  offset_ += out.size();
  return ok_status();
}

Status StreamReader::read_preamble() {
  uint8_t preamble[PREAMBLE_BYTES];
  if (Status s = fill(preamble, true); !s.ok())
    return error_at(0, "preamble", s.error().describe());
  if (std::memcmp(preamble, STREAM_MAGIC, sizeof STREAM_MAGIC) != 0) {
    return error_at(0, "preamble", "bad magic: not an rrvm snapshot or migration stream");
  }
  uint32_t version = 0;
  std::memcpy(&version, preamble + 8, 4);
  if (version != FORMAT_VERSION) {
    return error_at(8, "preamble",
                    "format version " + std::to_string(version) + ", this rrvm reads version " +
                        std::to_string(FORMAT_VERSION));
  }
  return ok_status();
}

Result<bool> StreamReader::at_end() {
  if (buffer_pos_ < buffer_len_) return false;
  // Whatever arrives is kept in the read-ahead buffer for the next record.
  Result<size_t> n = channel_.read_some(buffer_.span());
  if (!n.ok()) return error_at(offset_, "end of stream", n.error().describe());
  buffer_pos_ = 0;
  buffer_len_ = *n;
  return *n == 0;
}

Status StreamReader::check_lengths(const Frame& frame, RecordKind kind, uint64_t at) const {
  std::string what = std::string(record_kind_name(kind)) + " record";
  if (frame.descriptor_bytes == 0 || frame.descriptor_bytes > MAX_DESCRIPTOR_BYTES) {
    return error_at(at, what,
                    "descriptor length " + std::to_string(frame.descriptor_bytes) +
                        " is outside 1.." + std::to_string(MAX_DESCRIPTOR_BYTES));
  }
  uint64_t max_payload = 0;
  if (kind == RecordKind::Section) max_payload = MAX_SECTION_BYTES;
  if (kind == RecordKind::RamRun) max_payload = MAX_RUN_PAYLOAD_BYTES;
  if (frame.payload_bytes > max_payload) {
    return error_at(at, what,
                    "payload length " + std::to_string(frame.payload_bytes) +
                        " exceeds the limit of " + std::to_string(max_payload));
  }
  return ok_status();
}

Result<Record> StreamReader::next() {
  Record record;
  record.offset = offset_;
  // The End record's checksum covers the bytes before its frame: take it before reading the frame.
  record.checksum_before = checksum_.value();
  uint8_t frame_bytes[FRAME_BYTES];
  if (Status s = fill(frame_bytes, true); !s.ok())
    return error_at(record.offset, "record frame", s.error().describe());
  Frame frame = decode_frame(frame_bytes);
  if (!known_kind(frame.kind)) {
    return error_at(record.offset, "record frame",
                    "unknown record kind " + std::to_string(frame.kind));
  }
  record.kind = static_cast<RecordKind>(frame.kind);
  RRVM_TRY(check_lengths(frame, record.kind, record.offset));
  std::string what = std::string(record_kind_name(record.kind)) + " record";
  std::span<uint8_t> descriptor = descriptor_.resize(frame.descriptor_bytes);
  if (Status s = fill(descriptor, true); !s.ok())
    return error_at(record.offset, what, s.error().describe());
  std::span<uint8_t> payload = payload_.resize(frame.payload_bytes);
  if (Status s = fill(payload, false); !s.ok()) {
    if (namer_) what = namer_(record.kind, descriptor);
    return error_at(record.offset, what, s.error().describe());
  }
  record.descriptor = descriptor;
  record.payload = payload;
  return record;
}

}  // namespace rrvm::migration
