// The CPUID a vCPU gets: KVM_GET_SUPPORTED_CPUID, made per vCPU.
//
// rrvm passes through everything KVM supports (hiding features only makes a guest behave
// differently from the host for no gain) and changes only what must differ per vCPU: the APIC ids
// and the logical processor count. The KVM paravirtual leaves (0x40000000 signature "KVMKVMKVM",
// 0x40000001 features) stay as KVM reports them; kvmclock needs KVM_FEATURE_CLOCKSOURCE2 there, and
// KVM_FEATURE_CLOCKSOURCE_STABLE_BIT lets the guest trust PVCLOCK_TSC_STABLE_BIT.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::hv {

inline constexpr uint32_t CPUID_KVM_SIGNATURE = 0x40000000;
inline constexpr uint32_t CPUID_KVM_FEATURES = 0x40000001;
// Bits of CPUID 0x40000001 EAX (Documentation/virt/kvm/x86/cpuid.rst).
inline constexpr uint32_t KVM_FEATURE_CLOCKSOURCE = 0;
inline constexpr uint32_t KVM_FEATURE_CLOCKSOURCE2 = 3;
inline constexpr uint32_t KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 24;

// KVM_GET_SUPPORTED_CPUID prepared for vCPU `vcpu_index` of `vcpu_count`:
//   - leaf 1: EBX[31:24] initial APIC id = vcpu_index (low 8 bits), EBX[23:16] logical processor
//     count = vcpu_count (at most 255), EDX.HTT set when vcpu_count > 1 (as QEMU does);
//   - leaves 0xB and 0x1F (every subleaf KVM lists): EDX x2APIC id = vcpu_index;
//   - leaf 0x8000001E (AMD, when listed): EAX extended APIC id = vcpu_index;
//   - everything else unchanged.
// Error when the KVM leaves are missing or lack KVM_FEATURE_CLOCKSOURCE2 (no kvmclock: rrvm's
// clock handling would be meaningless), or when vcpu_index >= vcpu_count.
Result<std::vector<CpuidEntry>> vcpu_cpuid(std::span<const CpuidEntry> supported,
                                           uint32_t vcpu_index, uint32_t vcpu_count);

// The entry for (function, index), or nullptr.
const CpuidEntry* find_cpuid(std::span<const CpuidEntry> entries, uint32_t function,
                             uint32_t index = 0);

}  // namespace rrvm::hv
