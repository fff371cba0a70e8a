#include "vmm/devices/debug_exit.h"

#include <algorithm>
#include <cstring>

#include "vmm/base/log.h"

namespace rrvm::devices {

void DebugExit::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void DebugExit::write(uint64_t, std::span<const uint8_t> data) {
  uint64_t value = 0;
  for (size_t i = 0; i < std::min<size_t>(data.size(), 8); ++i) {
    value |= static_cast<uint64_t>(data[i]) << (8 * i);
  }
  int status = value > 255 ? 255 : static_cast<int>(value);
  spdlog::info("guest wrote {} to the debug-exit port: shutting down with exit status {}", value,
               status);
  requests_.request_shutdown(core::ShutdownCause::GuestShutdown, status);
}

}  // namespace rrvm::devices
