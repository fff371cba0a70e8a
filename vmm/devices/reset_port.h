// The PC's reset control register at 0xcf9 (QEMU's PIIX "RCR"): writing a value with bit 2
// (RST_CPU) set asks for a system reset; bit 1 (SYS_RST) is kept and read back, as on the chipset.
// Linux uses it with reboot=pci, and it is one of the fallbacks of its default reboot sequence.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>

#include "vmm/core/io_bus.h"
#include "vmm/core/vm_requests.h"

namespace rrvm::devices {

inline constexpr uint64_t RESET_CONTROL_PORT = 0xcf9;
inline constexpr uint64_t RESET_CONTROL_PORT_COUNT = 1;

class ResetPort : public BusDevice {
 public:
  explicit ResetPort(core::VmRequests& requests) : requests_(requests) {}

  std::string name() const override { return "reset-control"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  core::VmRequests& requests_;
  std::mutex mu_;
  uint8_t rcr_ = 0;
};

}  // namespace rrvm::devices
