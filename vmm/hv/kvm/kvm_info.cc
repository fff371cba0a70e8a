#include "vmm/hv/kvm/linux_kvm.h"

#include <utility>

#include "vmm/hv/kvm/kvm.h"

namespace rrvm::hv {
namespace {

struct NamedCap {
  const char* name;
  uint32_t cap;
};

// The capabilities rrvm's behaviour depends on, so a trace says what the recording host offered.
constexpr NamedCap RECORDED_CAPS[] = {
    {"ADJUST_CLOCK", KVM_CAP_ADJUST_CLOCK},
    {"KVMCLOCK_CTRL", KVM_CAP_KVMCLOCK_CTRL},
    {"TSC_CONTROL", KVM_CAP_TSC_CONTROL},
    {"VM_TSC_CONTROL", KVM_CAP_VM_TSC_CONTROL},
    {"GET_TSC_KHZ", KVM_CAP_GET_TSC_KHZ},
    {"TSC_DEADLINE_TIMER", KVM_CAP_TSC_DEADLINE_TIMER},
    {"IRQCHIP", KVM_CAP_IRQCHIP},
    {"PIT2", KVM_CAP_PIT2},
    {"IOEVENTFD", KVM_CAP_IOEVENTFD},
    {"IRQFD", KVM_CAP_IRQFD},
    {"XSAVE", KVM_CAP_XSAVE},
    {"XSAVE2", KVM_CAP_XSAVE2},
    {"XCRS", KVM_CAP_XCRS},
    {"VCPU_EVENTS", KVM_CAP_VCPU_EVENTS},
    {"DEBUGREGS", KVM_CAP_DEBUGREGS},
    {"MP_STATE", KVM_CAP_MP_STATE},
    {"IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT},
    {"DIRTY_LOG_RING", KVM_CAP_DIRTY_LOG_RING},
    {"MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2},
    {"MAX_VCPUS", KVM_CAP_MAX_VCPUS},
    {"NR_VCPUS", KVM_CAP_NR_VCPUS},
    {"NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS},
    {"SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR},
    {"SET_IDENTITY_MAP_ADDR", KVM_CAP_SET_IDENTITY_MAP_ADDR},
    {"SYSTEM_EVENT_DATA", KVM_CAP_SYSTEM_EVENT_DATA},
    {"X2APIC_API", KVM_CAP_X2APIC_API},
};

}  // namespace

void fill_kvm_info(const Hypervisor& hv, trace::Header& header) {
  header.kvm_api_version = hv.api_version();
  header.kvm_caps.clear();
  for (const NamedCap& c : RECORDED_CAPS) header.kvm_caps.emplace_back(c.name, hv.check_extension(c.cap));
  header.tsc_khz = hv.host_tsc_khz();
}

}  // namespace rrvm::hv
