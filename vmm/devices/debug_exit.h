// The debug-exit port (like QEMU's isa-debug-exit, at 0x501): a guest ends the VM by writing a
// status to it, and rrvm exits with that status.
//
// rrvm uses the value as written (QEMU exits with (value << 1) | 1 instead; the rrvm guest knows
// which VMM it runs under). Values above 255 cannot be an exit status: they become 255, so that a
// guest's failure code can never wrap around to 0 ("success").
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/core/io_bus.h"
#include "vmm/core/vm_requests.h"

namespace rrvm::devices {

inline constexpr uint64_t DEBUG_EXIT_PORT = 0x501;
inline constexpr uint64_t DEBUG_EXIT_PORT_COUNT = 1;

class DebugExit : public BusDevice {
 public:
  explicit DebugExit(core::VmRequests& requests) : requests_(requests) {}

  std::string name() const override { return "debug-exit"; }
  // Reads return 0, as QEMU's device.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  // The little-endian value of the access is the status (1 to 4 bytes).
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  core::VmRequests& requests_;
};

}  // namespace rrvm::devices
