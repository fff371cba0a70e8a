// MSR indices rrvm's code refers to by name (as Linux's msr-index.h spells them). Their printable
// names live in trace/names.h (msr_name / msr_describe); this file only holds the numbers code needs.
#pragma once

#include <cstdint>

namespace rrvm::hv::msr {

inline constexpr uint32_t IA32_TSC = 0x10;
inline constexpr uint32_t IA32_FEATURE_CONTROL = 0x3a;
inline constexpr uint32_t IA32_TSC_ADJUST = 0x3b;
inline constexpr uint32_t IA32_SPEC_CTRL = 0x48;
inline constexpr uint32_t IA32_SMI_COUNT = 0x34;
inline constexpr uint32_t IA32_SMBASE = 0x9e;
inline constexpr uint32_t IA32_UMWAIT_CONTROL = 0xe1;
inline constexpr uint32_t IA32_TSX_CTRL = 0x122;
inline constexpr uint32_t IA32_SYSENTER_CS = 0x174;
inline constexpr uint32_t IA32_SYSENTER_ESP = 0x175;
inline constexpr uint32_t IA32_SYSENTER_EIP = 0x176;
inline constexpr uint32_t IA32_MCG_STATUS = 0x17a;
inline constexpr uint32_t IA32_MCG_CTL = 0x17b;
inline constexpr uint32_t IA32_MISC_ENABLE = 0x1a0;
inline constexpr uint32_t IA32_XFD = 0x1c4;
inline constexpr uint32_t IA32_XFD_ERR = 0x1c5;
inline constexpr uint32_t IA32_MTRR_PHYSBASE0 = 0x200;  // base/mask pairs up to 0x20f
inline constexpr uint32_t IA32_MTRR_FIX64K_00000 = 0x250;
inline constexpr uint32_t IA32_MTRR_FIX16K_80000 = 0x258;
inline constexpr uint32_t IA32_MTRR_FIX16K_A0000 = 0x259;
inline constexpr uint32_t IA32_MTRR_FIX4K_C0000 = 0x268;  // eight, up to 0x26f
inline constexpr uint32_t IA32_PAT = 0x277;
inline constexpr uint32_t IA32_MTRR_DEF_TYPE = 0x2ff;
inline constexpr uint32_t IA32_PERFCTR0 = 0xc1;   // Intel general-purpose counters (up to 8)
inline constexpr uint32_t IA32_EVNTSEL0 = 0x186;  // and their event selectors
inline constexpr uint32_t IA32_FIXED_CTR0 = 0x309;  // fixed counters (up to 4)
inline constexpr uint32_t IA32_FIXED_CTR_CTRL = 0x38d;
inline constexpr uint32_t IA32_PERF_GLOBAL_STATUS = 0x38e;
inline constexpr uint32_t IA32_PERF_GLOBAL_CTRL = 0x38f;
inline constexpr uint32_t IA32_PERF_GLOBAL_OVF_CTRL = 0x390;
inline constexpr uint32_t IA32_MCG_EXT_CTL = 0x4d0;
inline constexpr uint32_t IA32_TSC_DEADLINE = 0x6e0;
inline constexpr uint32_t IA32_PKRS = 0x6e1;
inline constexpr uint32_t IA32_BNDCFGS = 0xd90;
inline constexpr uint32_t IA32_XSS = 0xda0;

inline constexpr uint32_t EFER = 0xc0000080;
inline constexpr uint32_t STAR = 0xc0000081;
inline constexpr uint32_t LSTAR = 0xc0000082;
inline constexpr uint32_t CSTAR = 0xc0000083;
inline constexpr uint32_t FMASK = 0xc0000084;
inline constexpr uint32_t KERNEL_GS_BASE = 0xc0000102;
inline constexpr uint32_t TSC_AUX = 0xc0000103;
inline constexpr uint32_t AMD64_TSC_RATIO = 0xc0000104;
inline constexpr uint32_t AMD64_PERF_CNTR_GLOBAL_STATUS = 0xc0000300;
inline constexpr uint32_t AMD64_PERF_CNTR_GLOBAL_CTL = 0xc0000301;
inline constexpr uint32_t AMD64_PERF_CNTR_GLOBAL_STATUS_CLR = 0xc0000302;
inline constexpr uint32_t K7_EVNTSEL0 = 0xc0010000;  // four legacy AMD selectors
inline constexpr uint32_t K7_PERFCTR0 = 0xc0010004;  // and counters
inline constexpr uint32_t K7_HWCR = 0xc0010015;
inline constexpr uint32_t VM_HSAVE_PA = 0xc0010117;
inline constexpr uint32_t VIRT_SSBD = 0xc001011f;
inline constexpr uint32_t F15H_PERF_CTL0 = 0xc0010200;  // six selector/counter pairs, interleaved

// KVM's paravirtual range (Documentation/virt/kvm/x86/msr.rst).
inline constexpr uint32_t KVM_PV_FIRST = 0x4b564d00;
inline constexpr uint32_t KVM_PV_LAST = 0x4b564dff;
inline constexpr uint32_t KVM_WALL_CLOCK_NEW = 0x4b564d00;
inline constexpr uint32_t KVM_SYSTEM_TIME_NEW = 0x4b564d01;
inline constexpr uint32_t KVM_ASYNC_PF_EN = 0x4b564d02;
inline constexpr uint32_t KVM_STEAL_TIME = 0x4b564d03;
inline constexpr uint32_t KVM_PV_EOI_EN = 0x4b564d04;
inline constexpr uint32_t KVM_POLL_CONTROL = 0x4b564d05;
inline constexpr uint32_t KVM_ASYNC_PF_INT = 0x4b564d06;
inline constexpr uint32_t KVM_ASYNC_PF_ACK = 0x4b564d07;
// The legacy kvmclock MSRs. KVM backs them with the same state as the _NEW ones.
inline constexpr uint32_t KVM_WALL_CLOCK = 0x11;
inline constexpr uint32_t KVM_SYSTEM_TIME = 0x12;

}  // namespace rrvm::hv::msr
