// MSR names, spelled as Linux's arch/x86/include/asm/msr-index.h and QEMU's target/i386/cpu.h
// spell them (IA32_* architectural, MSR_KVM_* paravirtual, HV_X64_MSR_* Hyper-V), covering every
// MSR that QEMU's kvm_put_msrs/kvm_get_msrs and Firecracker's snapshot save.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "trace/names.h"

namespace rrvm::trace {
namespace {

struct MsrName {
  uint32_t index;
  const char* name;
};

// Sorted by index (checked by a test through msr_name's binary search).
constexpr MsrName FIXED[] = {
    {0x00000010, "IA32_TSC"},
    {0x00000011, "MSR_KVM_WALL_CLOCK"},
    {0x00000012, "MSR_KVM_SYSTEM_TIME"},
    {0x0000001b, "IA32_APIC_BASE"},
    {0x00000034, "MSR_SMI_COUNT"},
    {0x00000035, "MSR_CORE_THREAD_COUNT"},
    {0x0000003a, "IA32_FEATURE_CONTROL"},
    {0x0000003b, "IA32_TSC_ADJUST"},
    {0x00000048, "IA32_SPEC_CTRL"},
    {0x00000049, "IA32_PRED_CMD"},
    {0x0000008b, "IA32_UCODE_REV"},
    {0x0000009e, "IA32_SMBASE"},
    {0x000000ce, "MSR_PLATFORM_INFO"},
    {0x000000e1, "IA32_UMWAIT_CONTROL"},
    {0x000000e7, "IA32_MPERF"},
    {0x000000e8, "IA32_APERF"},
    {0x000000fe, "IA32_MTRRCAP"},
    {0x0000010a, "IA32_ARCH_CAPABILITIES"},
    {0x0000010b, "IA32_FLUSH_CMD"},
    {0x00000122, "IA32_TSX_CTRL"},
    {0x00000140, "MSR_MISC_FEATURES_ENABLES"},
    {0x00000174, "IA32_SYSENTER_CS"},
    {0x00000175, "IA32_SYSENTER_ESP"},
    {0x00000176, "IA32_SYSENTER_EIP"},
    {0x00000179, "IA32_MCG_CAP"},
    {0x0000017a, "IA32_MCG_STATUS"},
    {0x0000017b, "IA32_MCG_CTL"},
    {0x000001a0, "IA32_MISC_ENABLE"},
    {0x000001c4, "IA32_XFD"},
    {0x000001c5, "IA32_XFD_ERR"},
    {0x000001d9, "IA32_DEBUGCTL"},
    {0x00000250, "IA32_MTRR_FIX64K_00000"},
    {0x00000258, "IA32_MTRR_FIX16K_80000"},
    {0x00000259, "IA32_MTRR_FIX16K_A0000"},
    {0x00000268, "IA32_MTRR_FIX4K_C0000"},
    {0x00000269, "IA32_MTRR_FIX4K_C8000"},
    {0x0000026a, "IA32_MTRR_FIX4K_D0000"},
    {0x0000026b, "IA32_MTRR_FIX4K_D8000"},
    {0x0000026c, "IA32_MTRR_FIX4K_E0000"},
    {0x0000026d, "IA32_MTRR_FIX4K_E8000"},
    {0x0000026e, "IA32_MTRR_FIX4K_F0000"},
    {0x0000026f, "IA32_MTRR_FIX4K_F8000"},
    {0x00000277, "IA32_PAT"},
    {0x000002ff, "IA32_MTRR_DEF_TYPE"},
    {0x00000345, "IA32_PERF_CAPABILITIES"},
    {0x0000038d, "IA32_FIXED_CTR_CTRL"},
    {0x0000038e, "IA32_PERF_GLOBAL_STATUS"},
    {0x0000038f, "IA32_PERF_GLOBAL_CTRL"},
    {0x00000390, "IA32_PERF_GLOBAL_OVF_CTRL"},
    {0x00000480, "IA32_VMX_BASIC"},
    {0x00000481, "IA32_VMX_PINBASED_CTLS"},
    {0x00000482, "IA32_VMX_PROCBASED_CTLS"},
    {0x00000483, "IA32_VMX_EXIT_CTLS"},
    {0x00000484, "IA32_VMX_ENTRY_CTLS"},
    {0x00000485, "IA32_VMX_MISC"},
    {0x00000486, "IA32_VMX_CR0_FIXED0"},
    {0x00000487, "IA32_VMX_CR0_FIXED1"},
    {0x00000488, "IA32_VMX_CR4_FIXED0"},
    {0x00000489, "IA32_VMX_CR4_FIXED1"},
    {0x0000048a, "IA32_VMX_VMCS_ENUM"},
    {0x0000048b, "IA32_VMX_PROCBASED_CTLS2"},
    {0x0000048c, "IA32_VMX_EPT_VPID_CAP"},
    {0x0000048d, "IA32_VMX_TRUE_PINBASED_CTLS"},
    {0x0000048e, "IA32_VMX_TRUE_PROCBASED_CTLS"},
    {0x0000048f, "IA32_VMX_TRUE_EXIT_CTLS"},
    {0x00000490, "IA32_VMX_TRUE_ENTRY_CTLS"},
    {0x00000491, "IA32_VMX_VMFUNC"},
    {0x00000560, "IA32_RTIT_OUTPUT_BASE"},
    {0x00000561, "IA32_RTIT_OUTPUT_MASK"},
    {0x00000570, "IA32_RTIT_CTL"},
    {0x00000571, "IA32_RTIT_STATUS"},
    {0x00000572, "IA32_RTIT_CR3_MATCH"},
    {0x00000580, "IA32_RTIT_ADDR0_A"},
    {0x00000581, "IA32_RTIT_ADDR0_B"},
    {0x00000582, "IA32_RTIT_ADDR1_A"},
    {0x00000583, "IA32_RTIT_ADDR1_B"},
    {0x00000584, "IA32_RTIT_ADDR2_A"},
    {0x00000585, "IA32_RTIT_ADDR2_B"},
    {0x00000586, "IA32_RTIT_ADDR3_A"},
    {0x00000587, "IA32_RTIT_ADDR3_B"},
    {0x00000600, "IA32_DS_AREA"},
    {0x000006a0, "IA32_U_CET"},
    {0x000006a2, "IA32_S_CET"},
    {0x000006a4, "IA32_PL0_SSP"},
    {0x000006a5, "IA32_PL1_SSP"},
    {0x000006a6, "IA32_PL2_SSP"},
    {0x000006a7, "IA32_PL3_SSP"},
    {0x000006a8, "IA32_INT_SSP_TAB"},
    {0x000006e0, "IA32_TSC_DEADLINE"},
    {0x000006e1, "IA32_PKRS"},
    {0x00000d90, "IA32_BNDCFGS"},
    {0x00000da0, "IA32_XSS"},
    {0x000014ce, "IA32_LBR_CTL"},
    {0x000014cf, "IA32_LBR_DEPTH"},
    {0x40000000, "HV_X64_MSR_GUEST_OS_ID"},
    {0x40000001, "HV_X64_MSR_HYPERCALL"},
    {0x40000002, "HV_X64_MSR_VP_INDEX"},
    {0x40000003, "HV_X64_MSR_RESET"},
    {0x40000010, "HV_X64_MSR_VP_RUNTIME"},
    {0x40000020, "HV_X64_MSR_TIME_REF_COUNT"},
    {0x40000021, "HV_X64_MSR_REFERENCE_TSC"},
    {0x40000022, "HV_X64_MSR_TSC_FREQUENCY"},
    {0x40000023, "HV_X64_MSR_APIC_FREQUENCY"},
    {0x40000070, "HV_X64_MSR_EOI"},
    {0x40000071, "HV_X64_MSR_ICR"},
    {0x40000072, "HV_X64_MSR_TPR"},
    {0x40000073, "HV_X64_MSR_VP_ASSIST_PAGE"},
    {0x40000080, "HV_X64_MSR_SCONTROL"},
    {0x40000081, "HV_X64_MSR_SVERSION"},
    {0x40000082, "HV_X64_MSR_SIEFP"},
    {0x40000083, "HV_X64_MSR_SIMP"},
    {0x40000084, "HV_X64_MSR_EOM"},
    {0x40000100, "HV_X64_MSR_CRASH_P0"},
    {0x40000101, "HV_X64_MSR_CRASH_P1"},
    {0x40000102, "HV_X64_MSR_CRASH_P2"},
    {0x40000103, "HV_X64_MSR_CRASH_P3"},
    {0x40000104, "HV_X64_MSR_CRASH_P4"},
    {0x40000105, "HV_X64_MSR_CRASH_CTL"},
    {0x40000106, "HV_X64_MSR_REENLIGHTENMENT_CONTROL"},
    {0x40000107, "HV_X64_MSR_TSC_EMULATION_CONTROL"},
    {0x40000108, "HV_X64_MSR_TSC_EMULATION_STATUS"},
    {0x4b564d00, "MSR_KVM_WALL_CLOCK_NEW"},
    {0x4b564d01, "MSR_KVM_SYSTEM_TIME_NEW"},
    {0x4b564d02, "MSR_KVM_ASYNC_PF_EN"},
    {0x4b564d03, "MSR_KVM_STEAL_TIME"},
    {0x4b564d04, "MSR_KVM_PV_EOI_EN"},
    {0x4b564d05, "MSR_KVM_POLL_CONTROL"},
    {0x4b564d06, "MSR_KVM_ASYNC_PF_INT"},
    {0x4b564d07, "MSR_KVM_ASYNC_PF_ACK"},
    {0x4b564d08, "MSR_KVM_MIGRATION_CONTROL"},
    {0xc0000080, "MSR_EFER"},
    {0xc0000081, "MSR_STAR"},
    {0xc0000082, "MSR_LSTAR"},
    {0xc0000083, "MSR_CSTAR"},
    {0xc0000084, "MSR_SYSCALL_MASK"},
    {0xc0000100, "MSR_FS_BASE"},
    {0xc0000101, "MSR_GS_BASE"},
    {0xc0000102, "MSR_KERNEL_GS_BASE"},
    {0xc0000103, "MSR_TSC_AUX"},
    {0xc0000104, "MSR_AMD64_TSC_RATIO"},
    {0xc0010000, "MSR_K7_EVNTSEL0"},
    {0xc0010001, "MSR_K7_EVNTSEL1"},
    {0xc0010002, "MSR_K7_EVNTSEL2"},
    {0xc0010003, "MSR_K7_EVNTSEL3"},
    {0xc0010004, "MSR_K7_PERFCTR0"},
    {0xc0010005, "MSR_K7_PERFCTR1"},
    {0xc0010006, "MSR_K7_PERFCTR2"},
    {0xc0010007, "MSR_K7_PERFCTR3"},
    {0xc0010010, "MSR_K8_SYSCFG"},
    {0xc0010015, "MSR_K7_HWCR"},
    {0xc0010114, "MSR_VM_CR"},
    {0xc0010117, "MSR_VM_HSAVE_PA"},
    {0xc001011f, "MSR_VIRT_SSBD"},
    {0xc0011022, "MSR_AMD64_DE_CFG"},
    {0xc0011029, "MSR_AMD64_LS_CFG"},
};

constexpr bool is_sorted_table() {
  for (size_t i = 1; i < std::size(FIXED); ++i) {
    if (FIXED[i - 1].index >= FIXED[i].index) return false;
  }
  return true;
}
static_assert(is_sorted_table(), "FIXED MSR names must be sorted by index, without duplicates");

std::string numbered(const char* prefix, uint32_t n, const char* suffix = "") {
  return prefix + std::to_string(n) + suffix;
}

// MSR families defined by a base and a stride (counters, MTRR pairs, MCE banks, SynIC).
std::string patterned_name(uint32_t i) {
  if (i >= 0xc1 && i <= 0xc8) return numbered("IA32_PMC", i - 0xc1);
  if (i >= 0x186 && i <= 0x18d) return numbered("IA32_PERFEVTSEL", i - 0x186);
  if (i >= 0x200 && i <= 0x21f) {  // variable-range MTRRs: base/mask pairs
    return numbered((i & 1) ? "IA32_MTRR_PHYSMASK" : "IA32_MTRR_PHYSBASE", (i - 0x200) / 2);
  }
  if (i >= 0x309 && i <= 0x30b) return numbered("IA32_FIXED_CTR", i - 0x309);
  if (i >= 0x400 && i <= 0x47f) {  // machine-check banks: CTL, STATUS, ADDR, MISC per bank
    static constexpr const char* REGS[] = {"_CTL", "_STATUS", "_ADDR", "_MISC"};
    return numbered("IA32_MC", (i - 0x400) / 4, REGS[(i - 0x400) % 4]);
  }
  if (i >= 0x4c1 && i <= 0x4c8) return numbered("IA32_A_PMC", i - 0x4c1);
  if (i >= 0x40000090 && i <= 0x4000009f) return numbered("HV_X64_MSR_SINT", i - 0x40000090);
  if (i >= 0x400000b0 && i <= 0x400000b7) {  // SynIC timers: config/count pairs
    return numbered("HV_X64_MSR_STIMER", (i - 0x400000b0) / 2, (i & 1) ? "_COUNT" : "_CONFIG");
  }
  if (i >= 0xc0010200 && i <= 0xc001020b) {  // AMD family 15h+ counters: CTL/CTR pairs
    return numbered((i & 1) ? "MSR_F15H_PERF_CTR" : "MSR_F15H_PERF_CTL", (i - 0xc0010200) / 2);
  }
  return {};
}

}  // namespace

std::string msr_name(uint32_t index) {
  const auto* end = std::end(FIXED);
  const auto* it = std::lower_bound(std::begin(FIXED), end, index,
                                    [](const MsrName& m, uint32_t i) { return m.index < i; });
  if (it != end && it->index == index) return it->name;
  return patterned_name(index);
}

std::string msr_describe(uint32_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", index);
  std::string name = msr_name(index);
  if (name.empty()) return buf;
  return std::string(buf) + " (" + name + ")";
}

}  // namespace rrvm::trace
