#include "vmm/migration/stream_writer.h"

#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/schema/snapshot.capnp.h"

namespace rrvm::migration {

namespace {
constexpr size_t BUFFER_BYTES = 1 << 20;
// Payloads at least this large bypass the buffer.
constexpr size_t DIRECT_WRITE_BYTES = 64 * 1024;
}  // namespace

StreamWriter::StreamWriter(Channel& channel) : channel_(channel) { buffer_.reserve(BUFFER_BYTES); }

Status StreamWriter::write_preamble() {
  RRVM_CHECK(offset_ == 0);
  uint8_t preamble[PREAMBLE_BYTES];
  encode_preamble(preamble);
  return append(preamble, true);
}

Status StreamWriter::append(std::span<const uint8_t> bytes, bool hashed) {
  if (hashed) checksum_.update(bytes);
  offset_ += bytes.size();
  if (bytes.size() >= DIRECT_WRITE_BYTES) {
    RRVM_TRY(flush());
    return channel_.write_all(bytes);
  }
  if (buffer_.size() + bytes.size() > BUFFER_BYTES) RRVM_TRY(flush());
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return ok_status();
}

Status StreamWriter::write_record(RecordKind kind, std::span<const uint8_t> descriptor,
                                  std::span<const uint8_t> payload) {
  RRVM_CHECK_MSG(descriptor.size() <= MAX_DESCRIPTOR_BYTES, "descriptor too large");
  uint8_t frame[FRAME_BYTES];
  encode_frame(
      Frame{static_cast<uint32_t>(kind), static_cast<uint32_t>(descriptor.size()), payload.size()},
      frame);
  RRVM_TRY(append(frame, true));
  RRVM_TRY(append(descriptor, true));
  // Payloads stay out of the stream checksum: each descriptor carries its payload's checksum.
  if (!payload.empty()) RRVM_TRY(append(payload, false));
  ++records_;
  return ok_status();
}

Status StreamWriter::write_record(RecordKind kind, capnp::MessageBuilder& descriptor,
                                  std::span<const uint8_t> payload) {
  std::vector<uint8_t> bytes = message_bytes(descriptor);
  return write_record(kind, bytes, payload);
}

Status StreamWriter::write_end() {
  capnp::MallocMessageBuilder message;
  auto end = message.initRoot<schema::End>();
  end.setStreamChecksum(checksum_.value());
  end.setRecords(records_);
  RRVM_TRY(write_record(RecordKind::End, message));
  return flush();
}

Status StreamWriter::flush() {
  if (buffer_.empty()) return ok_status();
  Status s = channel_.write_all(buffer_);
  buffer_.clear();
  return s;
}

}  // namespace rrvm::migration
