// What a loaded kernel needs from the VMM to start: the result of every boot path (rrvm guest
// ELF, PVH, Linux bzImage/vmlinux), and the initial vCPU state derived from it.
//
// Entry modes:
//   Rrvm64  every vCPU runnable in 64-bit long mode at `entry`, rdi = vCPU index,
//           rsi = hvm_start_info (vmm/guest/include/rrvm_boot_abi.h)
//   Pvh32   the BSP in 32-bit flat protected mode, paging off, at `entry`, ebx = hvm_start_info;
//           APs wait for INIT/SIPI from the guest
//   Linux64 the BSP in 64-bit long mode at `entry`, rsi = boot_params (zero page),
//           rsp = rbp = BOOT_STACK_TOP; APs wait for INIT/SIPI (Linux's 64-bit boot protocol)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/boot/memory_map.h"
#include "vmm/hv/hypervisor.h"
#include "vmm/hv/types.h"
#include "vmm/hv/x86_long_mode.h"

namespace rrvm::boot {

enum class EntryMode { Rrvm64, Pvh32, Linux64 };
const char* entry_mode_name(EntryMode mode);

struct BootPlan {
  EntryMode mode = EntryMode::Rrvm64;
  uint64_t entry = 0;          // rip (of the BSP; of every vCPU in Rrvm64)
  uint64_t boot_info_gpa = 0;  // hvm_start_info (Rrvm64, Pvh32) or boot_params (Linux64)
  uint32_t vcpus = 1;
  hv::LongModeLayout layout;   // GDT, TSS and page tables, already written to guest RAM
  std::string cmdline;         // as written to guest RAM (without the NUL)
  uint64_t cmdline_gpa = 0;
  uint64_t kernel_start = 0;   // guest-physical range the kernel occupies (incl. bss/init_size)
  uint64_t kernel_end = 0;
  uint64_t initrd_gpa = 0;     // 0 when there is none
  uint64_t initrd_size = 0;
  std::vector<MemoryMapEntry> memory_map;
  uint64_t acpi_rsdp_gpa = 0;  // Linux64: the RSDP rrvm wrote (vmm/boot/acpi); 0 for the others
};

// Initial general registers of vCPU `vcpu`.
hv::Regs initial_regs(const BootPlan& plan, uint32_t vcpu);
// Sets modes, segments, descriptor tables and control registers for the plan's entry mode. Start
// from the vCPU's get_sregs(): apic_base, cr8 and the interrupt bitmap are kept.
void apply_initial_sregs(const BootPlan& plan, hv::Sregs& sregs);
// Runnable for every vCPU in Rrvm64 and for the BSP otherwise; other APs wait for SIPI.
hv::MpState initial_mp_state(const BootPlan& plan, uint32_t vcpu);

// get_sregs, apply_initial_sregs, set_sregs, set_regs, set_mp_state on `vcpu` (its index()).
// Call after set_cpuid (KVM checks CR4 bits against CPUID).
Status apply_boot_state(hv::Vcpu& vcpu, const BootPlan& plan);

}  // namespace rrvm::boot
