// A KVM VM: its fd and what it needs to create vCPUs. Private to the backend.
#pragma once

#include "vmm/base/fd.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::hv::kvm {

class KvmVm final : public Vm {
 public:
  // run_area_size: KVM_GET_VCPU_MMAP_SIZE. xsave2_size: KVM_CAP_XSAVE2's value (0 if absent).
  KvmVm(Fd fd, size_t run_area_size, size_t xsave2_size);

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
  Fd fd_;
  size_t run_area_size_;
  size_t xsave2_size_;
};

}  // namespace rrvm::hv::kvm
