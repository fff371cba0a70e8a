// A Hypervisor that forwards every call to another implementation and records it (see
// recording_vcpu.h for the vCPU side). The VMs it creates are RecordingVm.
//
//   RRVM_ASSIGN_OR_RETURN(auto kvm, hv::open_kvm());
//   auto hv = hv::make_recording(std::move(kvm));   // same behaviour, now traced
#pragma once

#include <memory>

#include "vmm/hv/hypervisor.h"

namespace rrvm::hv {

class RecordingHypervisor final : public Hypervisor {
 public:
  explicit RecordingHypervisor(std::unique_ptr<Hypervisor> inner) : inner_(std::move(inner)) {}

  Result<std::unique_ptr<Vm>> create_vm() override;
  int api_version() const override;
  int64_t check_extension(uint32_t cap) const override;
  int max_vcpus() const override;
  Result<std::vector<CpuidEntry>> supported_cpuid() const override;
  Result<std::vector<uint32_t>> msr_index_list() const override;
  uint32_t host_tsc_khz() const override;

 private:
  std::unique_ptr<Hypervisor> inner_;
};

inline std::unique_ptr<Hypervisor> make_recording(std::unique_ptr<Hypervisor> inner) {
  return std::make_unique<RecordingHypervisor>(std::move(inner));
}

}  // namespace rrvm::hv
