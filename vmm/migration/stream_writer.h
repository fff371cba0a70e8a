// Writes the migration stream's framing (schema/snapshot.capnp): preamble, records, and the End
// record with the stream checksum (preamble, frames and descriptors; the descriptors hold the
// payloads' checksums, so every byte is covered and payloads are hashed once).
//
// Small records are gathered in a buffer; large payloads (compressed RAM) go to the channel
// directly after the buffer, so each byte is copied at most once.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/migration/channel.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/format.h"

namespace rrvm::migration {

class StreamWriter {
 public:
  explicit StreamWriter(Channel& channel);

  Status write_preamble();
  Status write_record(RecordKind kind, std::span<const uint8_t> descriptor,
                      std::span<const uint8_t> payload = {});
  Status write_record(RecordKind kind, capnp::MessageBuilder& descriptor,
                      std::span<const uint8_t> payload = {});
  // The End record (checksum of all bytes so far), then flush(). Nothing may follow on the
  // source's side.
  Status write_end();
  Status flush();

  uint64_t bytes_written() const { return offset_; }  // including bytes still buffered
  uint64_t records() const { return records_; }

 private:
  Status append(std::span<const uint8_t> bytes, bool hashed);

  Channel& channel_;
  std::vector<uint8_t> buffer_;
  StreamChecksum checksum_;
  uint64_t offset_ = 0;
  uint64_t records_ = 0;
};

}  // namespace rrvm::migration
