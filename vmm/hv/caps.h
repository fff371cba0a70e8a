// KVM capability numbers (KVM_CAP_* in <linux/kvm.h>, a stable ABI) for Hypervisor::
// check_extension(), so code outside hv/kvm/ can ask about capabilities without that header.
#pragma once

#include <cstdint>

namespace rrvm::hv::cap {

inline constexpr uint32_t NR_VCPUS = 9;
inline constexpr uint32_t ADJUST_CLOCK = 39;  // returns the KVM_CLOCK_* flags SET_CLOCK accepts
inline constexpr uint32_t DEBUGREGS = 50;
inline constexpr uint32_t XSAVE = 55;
inline constexpr uint32_t XCRS = 56;
inline constexpr uint32_t TSC_CONTROL = 60;
inline constexpr uint32_t GET_TSC_KHZ = 61;
inline constexpr uint32_t MAX_VCPUS = 66;
inline constexpr uint32_t KVMCLOCK_CTRL = 76;
inline constexpr uint32_t IMMEDIATE_EXIT = 136;
inline constexpr uint32_t XSAVE2 = 208;

}  // namespace rrvm::hv::cap
