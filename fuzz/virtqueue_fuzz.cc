// libFuzzer target: split-virtqueue descriptor chains from a hostile guest.
//
// Input: 4 bytes of parameters, then the first bytes of guest RAM (the rest stays zero). The
// descriptor table sits at 0x0, the avail ring at 0x1000 and the used ring at 0x2000, so the
// input controls every descriptor, the avail index and ring entries, and the indirect tables and
// buffers they point at. The device side pops chains like a device would, touches every byte of
// every segment it was given (ASan catches any segment outside RAM) and publishes used elements.
// A chain that breaks the rules must come back as an Error, never as a crash.
#include <cstdint>
#include <cstring>

#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/virtqueue.h"

namespace {

constexpr uint64_t RAM_BYTES = 64 * 1024;
constexpr uint16_t MAX_QUEUE = 16;
constexpr size_t PARAM_BYTES = 4;

rrvm::GuestMemory& ram() {
  static rrvm::GuestMemory mem = rrvm::GuestMemory::allocate(RAM_BYTES).value();
  return mem;
}

// Reads readable buffers and fills writable ones, as a device serving the request would.
uint32_t serve(const rrvm::GuestMemory& mem, const rrvm::virtio::DescriptorChain& chain) {
  uint8_t sink = 0;
  for (const auto& s : chain.readable) {
    auto host = mem.slice(s.gpa, s.len);
    RRVM_CHECK(host.ok());  // pop() promised every segment lies inside RAM
    for (uint8_t b : *host) sink ^= b;
  }
  uint32_t written = 0;
  for (const auto& s : chain.writable) {
    auto host = mem.slice(s.gpa, s.len);
    RRVM_CHECK(host.ok());
    std::memset(host->data(), sink, host->size());
    written += s.len;
  }
  return written;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < PARAM_BYTES) return 0;
  rrvm::GuestMemory& mem = ram();
  std::span<uint8_t> all = mem.slice(0, RAM_BYTES).value();
  std::memset(all.data(), 0, all.size());
  std::memcpy(all.data(), data + PARAM_BYTES, std::min<size_t>(size - PARAM_BYTES, RAM_BYTES));

  rrvm::virtio::Virtqueue vq(MAX_QUEUE);
  vq.config() = rrvm::virtio::QueueConfig{static_cast<uint16_t>(1u << (data[0] % 5)), true, 0x0,
                                          0x1000, 0x2000};
  bool indirect = data[1] & 1;
  uint16_t start = static_cast<uint16_t>(data[2] | data[3] << 8);  // where the device resumes
  if (!vq.activate(mem, indirect, start, start).ok()) return 0;
  rrvm::virtio::DescriptorChain chain;
  for (int i = 0; i < 2 * MAX_QUEUE; ++i) {
    auto popped = vq.pop(chain);
    if (!popped.ok() || !*popped) break;
    vq.push_used(chain.head, serve(mem, chain));
  }
  return 0;
}
