#include "vmm/devices/virtio/rng.h"

#include <sys/random.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/devices/virtio/scatter_gather.h"

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
  iov_.clear();
  // The chain's segments were checked to lie inside guest RAM.
  RRVM_TRY(gather_iov(mem, chain.writable, 0, want, iov_));
  uint64_t done = fill(iov_);
  mark_written(mem, chain.writable, 0, done);
  return static_cast<uint32_t>(done);
}

uint64_t RngDevice::fill(std::span<const iovec> iov) {
  uint64_t done = 0;
  for (const iovec& v : iov) {
    auto* at = static_cast<uint8_t*>(v.iov_base);
    uint64_t filled = 0;
    while (filled < v.iov_len) {
      ssize_t got = ::getrandom(at + filled, v.iov_len - filled, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        // A host failure, not the guest's: answer with the bytes obtained so far.
        warnings_.warn(fmt::format("getrandom: {}", std::strerror(errno)));
        return done + filled;
      }
      filled += static_cast<uint64_t>(got);
    }
    done += filled;
  }
  return done;
}

}  // namespace rrvm::virtio
