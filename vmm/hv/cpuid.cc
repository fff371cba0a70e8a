#include "vmm/hv/cpuid.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace rrvm::hv {
namespace {

constexpr uint32_t EDX_HTT = 1u << 28;

Status check_kvm_leaves(std::span<const CpuidEntry> supported) {
  const CpuidEntry* sig = find_cpuid(supported, CPUID_KVM_SIGNATURE);
  if (sig == nullptr || sig->eax < CPUID_KVM_FEATURES) {
    return make_error("CPUID: KVM lists no paravirtual leaves (0x40000000..0x40000001)");
  }
  char name[13] = {};
  std::memcpy(name + 0, &sig->ebx, 4);
  std::memcpy(name + 4, &sig->ecx, 4);
  std::memcpy(name + 8, &sig->edx, 4);
  if (std::strcmp(name, "KVMKVMKVM") != 0) {
    return make_error("CPUID: leaf 0x40000000 signature is \"" + std::string(name) +
                      "\", not KVMKVMKVM");
  }
  const CpuidEntry* features = find_cpuid(supported, CPUID_KVM_FEATURES);
  if (features == nullptr || !((features->eax >> KVM_FEATURE_CLOCKSOURCE2) & 1)) {
    return make_error("CPUID: KVM does not offer KVM_FEATURE_CLOCKSOURCE2 (kvmclock)");
  }
  return ok_status();
}

}  // namespace

const CpuidEntry* find_cpuid(std::span<const CpuidEntry> entries, uint32_t function,
                             uint32_t index) {
  for (const CpuidEntry& e : entries) {
    if (e.function == function && e.index == index) return &e;
  }
  return nullptr;
}

Result<std::vector<CpuidEntry>> vcpu_cpuid(std::span<const CpuidEntry> supported,
                                           uint32_t vcpu_index, uint32_t vcpu_count) {
  if (vcpu_count == 0 || vcpu_index >= vcpu_count) {
    return make_error("CPUID: vCPU " + std::to_string(vcpu_index) + " of " +
                      std::to_string(vcpu_count) + " does not exist");
  }
  RRVM_TRY(check_kvm_leaves(supported));
  std::vector<CpuidEntry> out(supported.begin(), supported.end());
  const uint32_t logical = std::min<uint32_t>(vcpu_count, 255);
  for (CpuidEntry& e : out) {
    switch (e.function) {
      case 0x1:
        e.ebx = (e.ebx & 0x0000ffffu) | ((vcpu_index & 0xffu) << 24) | (logical << 16);
        e.edx = vcpu_count > 1 ? (e.edx | EDX_HTT) : (e.edx & ~EDX_HTT);
        break;
      case 0xb:
      case 0x1f:
        e.edx = vcpu_index;
        break;
      case 0x8000001e:
        e.eax = vcpu_index;
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace rrvm::hv
