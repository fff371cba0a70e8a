#include "vmm/devices/virtio/rng.h"

#include <sys/random.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rrvm::virtio {

RngDevice::RngDevice(std::string name) : name_(std::move(name)), warnings_(name_) {}

Result<uint32_t> RngDevice::process(uint16_t, const DescriptorChain& chain,
                                    const GuestMemory& mem) {
  if (chain.readable_bytes != 0) {
    return make_error(
        fmt::format("entropy request with {} device-readable bytes (virtio-rng "
                    "buffers are device-writable only)",
                    chain.readable_bytes));
  }
  uint64_t want = std::min<uint64_t>(chain.writable_bytes, MAX_BYTES_PER_REQUEST);
  uint64_t done = 0;
  for (const Segment& s : chain.writable) {
    if (done == want) break;
    uint64_t n = std::min<uint64_t>(s.len, want - done);
    // The chain's segments were checked to lie inside guest RAM.
    RRVM_ASSIGN_OR_RETURN(std::span<uint8_t> host, mem.slice(s.gpa, n));
    uint64_t filled = 0;
    while (filled < n) {
      ssize_t got = ::getrandom(host.data() + filled, n - filled, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        // A host failure, not the guest's: answer with the bytes obtained so far.
        warnings_.warn(fmt::format("getrandom: {}", std::strerror(errno)));
        return static_cast<uint32_t>(done + filled);
      }
      filled += static_cast<uint64_t>(got);
    }
    done += n;
  }
  return static_cast<uint32_t>(done);
}

}  // namespace rrvm::virtio
