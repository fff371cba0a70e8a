// An edge-triggered interrupt line backed by a KVM irqfd: trigger() writes the eventfd and KVM
// injects the GSI in the kernel, without a trip through the VM fd from the device's thread.
#pragma once

#include <memory>

#include "vmm/base/fd.h"
#include "vmm/core/io_bus.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::machine {

class IrqfdLine final : public InterruptLine {
 public:
  // Creates the eventfd and registers it with KVM for `gsi`.
  static Result<std::shared_ptr<IrqfdLine>> create(hv::Vm& vm, uint32_t gsi);
  ~IrqfdLine() override;

  Status trigger() override;
  uint32_t gsi() const { return gsi_; }

 private:
  IrqfdLine(hv::Vm& vm, uint32_t gsi, Fd fd) : vm_(vm), gsi_(gsi), fd_(std::move(fd)) {}
  hv::Vm& vm_;
  uint32_t gsi_;
  Fd fd_;
};

}  // namespace rrvm::machine
