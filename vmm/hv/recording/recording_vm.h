// A Vm that forwards every call to another implementation and records it (see recording_vcpu.h).
// vCPUs it creates are wrapped in RecordingVcpu. Clock calls become ClockAccess events, the rest
// HvCall events named after the ioctl with the arguments (and, for gets, the state) as payload.
#pragma once

#include <memory>

#include "vmm/hv/hypervisor.h"

namespace rrvm::hv {

class RecordingVm final : public Vm {
 public:
  explicit RecordingVm(std::unique_ptr<Vm> inner) : inner_(std::move(inner)) {}

  Result<std::unique_ptr<Vcpu>> create_vcpu(int index) override;
  Status set_memory_region(const MemoryRegion& region) override;
  Result<std::vector<uint64_t>> get_dirty_log(uint32_t slot, uint64_t size) override;
  Status create_irqchip() override;
  Status create_pit() override;
  Status set_tss_addr(uint64_t addr) override;
  Status set_identity_map_addr(uint64_t addr) override;
  Status set_irq_line(uint32_t gsi, bool level) override;
  Status irqfd(int fd, uint32_t gsi, bool assign) override;
  Status ioeventfd(const IoEventFd& ev, bool assign) override;
  Result<Blob> get_irqchip(uint32_t chip) override;
  Status set_irqchip(uint32_t chip, const Blob& state) override;
  Result<Blob> get_pit() override;
  Status set_pit(const Blob& state) override;
  Result<ClockData> get_clock() override;
  Status set_clock(const ClockData& clock) override;

 private:
  std::unique_ptr<Vm> inner_;
};

}  // namespace rrvm::hv
