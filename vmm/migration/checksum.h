// The stream's checksum: XXH3-64 (libxxhash), ~20 GB/s, so checksumming every byte costs little
// next to compression and I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace rrvm::migration {

uint64_t checksum64(std::span<const uint8_t> data);

// A running checksum over a stream of byte ranges; value() equals checksum64() of their
// concatenation.
class StreamChecksum {
 public:
  StreamChecksum();
  ~StreamChecksum();
  StreamChecksum(const StreamChecksum&) = delete;
  StreamChecksum& operator=(const StreamChecksum&) = delete;

  void update(std::span<const uint8_t> data);
  uint64_t value() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rrvm::migration
