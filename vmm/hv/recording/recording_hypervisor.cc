#include "vmm/hv/recording/recording_hypervisor.h"

#include "vmm/hv/recording/payload.h"
#include "vmm/hv/recording/record.h"
#include "vmm/hv/recording/recording_vm.h"

namespace rrvm::hv {

using recording::record_result;
using recording::record_value;

namespace {
constexpr int32_t NO_VCPU = -1;
}  // namespace

Result<std::unique_ptr<Vm>> RecordingHypervisor::create_vm() {
  auto r = inner_->create_vm();
  record_result(NO_VCPU, "KVM_CREATE_VM", r, 0);
  if (!r.ok()) return r;
  return std::unique_ptr<Vm>(new RecordingVm(std::move(r).value()));
}

int RecordingHypervisor::api_version() const {
  const int v = inner_->api_version();
  record_value(NO_VCPU, "KVM_GET_API_VERSION", v);
  return v;
}

int64_t RecordingHypervisor::check_extension(uint32_t cap) const {
  const int64_t v = inner_->check_extension(cap);
  if (trace::enabled()) {
    payload::Writer w;  // the capability number
    w.u32(cap);
    record_value(NO_VCPU, "KVM_CHECK_EXTENSION", v, w.data());
  }
  return v;
}

int RecordingHypervisor::max_vcpus() const {
  const int v = inner_->max_vcpus();
  record_value(NO_VCPU, "max_vcpus", v);
  return v;
}

Result<std::vector<CpuidEntry>> RecordingHypervisor::supported_cpuid() const {
  auto r = inner_->supported_cpuid();
  if (trace::enabled()) {
    record_result(NO_VCPU, "KVM_GET_SUPPORTED_CPUID", r, r.ok() ? int64_t(r->size()) : 0,
                  r.ok() ? payload::encode(*r) : std::vector<uint8_t>{});
  }
  return r;
}

Result<std::vector<uint32_t>> RecordingHypervisor::msr_index_list() const {
  auto r = inner_->msr_index_list();
  if (trace::enabled()) {
    record_result(NO_VCPU, "KVM_GET_MSR_INDEX_LIST", r, r.ok() ? int64_t(r->size()) : 0,
                  r.ok() ? payload::encode_u32_list(*r) : std::vector<uint8_t>{});
  }
  return r;
}

uint32_t RecordingHypervisor::host_tsc_khz() const {
  const uint32_t khz = inner_->host_tsc_khz();
  trace::emit(trace::TscKhz{.vcpu = NO_VCPU, .set = false, .khz = khz, .err = 0});
  return khz;
}

}  // namespace rrvm::hv
