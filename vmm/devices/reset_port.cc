#include "vmm/devices/reset_port.h"

#include <algorithm>

namespace rrvm::devices {
namespace {

constexpr uint8_t RCR_SYS_RST = 0x02;
constexpr uint8_t RCR_RST_CPU = 0x04;

}  // namespace

void ResetPort::read(uint64_t, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  std::fill(data.begin(), data.end(), 0);
  if (!data.empty()) data[0] = rcr_;
}

void ResetPort::write(uint64_t, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t value = data[0];
  if (value & RCR_RST_CPU) {
    requests_.request_reset(core::ShutdownCause::GuestReset);
    return;
  }
  std::lock_guard lock(mu_);
  rcr_ = value & RCR_SYS_RST;
}

}  // namespace rrvm::devices
