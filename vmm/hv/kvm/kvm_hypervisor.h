// /dev/kvm. Private to the backend; open_kvm() (kvm.h) creates it.
#pragma once

#include <mutex>

#include "vmm/base/fd.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::hv::kvm {

class KvmHypervisor final : public Hypervisor {
 public:
  static Result<std::unique_ptr<KvmHypervisor>> open(const std::string& device);

  Result<std::unique_ptr<Vm>> create_vm() override;
  int api_version() const override { return api_version_; }
  int64_t check_extension(uint32_t cap) const override;
  int max_vcpus() const override;
  Result<std::vector<CpuidEntry>> supported_cpuid() const override;
  Result<std::vector<uint32_t>> msr_index_list() const override;
  uint32_t host_tsc_khz() const override;

 private:
  KvmHypervisor(Fd fd, int api_version, size_t run_area_size);
  uint32_t query_tsc_khz() const;

  Fd fd_;
  int api_version_;
  size_t run_area_size_;
  // KVM reports the TSC frequency per VM or vCPU, so asking needs a scratch VM: done once, lazily.
  mutable std::once_flag tsc_once_;
  mutable uint32_t tsc_khz_ = 0;
};

}  // namespace rrvm::hv::kvm
