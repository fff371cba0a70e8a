// Reads and validates the migration stream's framing: preamble, then one record at a time, each
// checked against the caps of format.h before its bytes are read. Errors name the stream, the
// record and its offset: "snapshot /x.snap: section 'cpu/1' at offset 12345: checksum mismatch".
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/migration/byte_buffer.h"
#include "vmm/migration/channel.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/format.h"

namespace rrvm::migration {

struct Record {
  RecordKind kind = RecordKind::Header;
  uint64_t offset = 0;                  // stream offset of the record's frame
  std::span<const uint8_t> descriptor;  // valid until the next next()
  std::span<const uint8_t> payload;     // valid until the next next()
  // For End records: the stream checksum (preamble, frames, descriptors) up to this record.
  uint64_t checksum_before = 0;
};

class StreamReader {
 public:
  // stream_name prefixes every error: "snapshot /x.snap", "migration stream unix:/m.sock".
  StreamReader(Channel& channel, std::string stream_name);

  // Names a record for error messages from its kind and descriptor ("section 'cpu/1'"); without
  // one, records are named by kind ("section record").
  using RecordNamer = std::function<std::string(RecordKind, std::span<const uint8_t> descriptor)>;
  void set_namer(RecordNamer namer) { namer_ = std::move(namer); }

  Status read_preamble();
  // True when the stream has no byte after what was read (a snapshot file must end at End; a
  // live source's reply must not be missing). Blocks until a byte or the end arrives.
  Result<bool> at_end();
  // The next record; an error for a truncated stream, an unknown kind or a length over its cap.
  Result<Record> next();

  // "<stream>: <what> at offset <offset>: <detail>".
  Error error_at(uint64_t offset, std::string_view what, const std::string& detail) const;
  const std::string& stream_name() const { return stream_name_; }
  uint64_t offset() const { return offset_; }

 private:
  // Fills out completely; the error is only the detail (the caller names the record).
  // `hashed`: part of the stream checksum (everything but payloads).
  Status fill(std::span<uint8_t> out, bool hashed);
  Status check_lengths(const Frame& frame, RecordKind kind, uint64_t at) const;

  Channel& channel_;
  std::string stream_name_;
  RecordNamer namer_;
  ByteBuffer buffer_;  // read-ahead
  size_t buffer_pos_ = 0;
  size_t buffer_len_ = 0;
  ByteBuffer descriptor_;
  ByteBuffer payload_;
  StreamChecksum checksum_;
  uint64_t offset_ = 0;  // bytes consumed
};

}  // namespace rrvm::migration
