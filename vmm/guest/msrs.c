/*
 * MSRs with known per-vCPU values (rrvm_boot_abi.h) so that hosts can check them after a
 * save/restore or migration, and so that the BSP notices when its own values change under it.
 * TSC_AUX is only written when CPUID offers RDTSCP or RDPID (KVM refuses the write otherwise).
 */
#include "console.h"
#include "guest.h"
#include "x86.h"

#define CPUID_80000001_EDX_RDTSCP (1u << 27)
#define CPUID_7_ECX_RDPID (1u << 22)

static bool have_tsc_aux(void) {
  if (cpuid(0x80000000, 0).eax >= 0x80000001 &&
      (cpuid(0x80000001, 0).edx & CPUID_80000001_EDX_RDTSCP))
    return true;
  return cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ecx & CPUID_7_ECX_RDPID);
}

void msrs_write_known(uint32_t cpu) {
  wrmsr(MSR_IA32_SYSENTER_ESP, RRVM_GUEST_SYSENTER_ESP(cpu));
  wrmsr(MSR_KERNEL_GS_BASE, RRVM_GUEST_KERNEL_GS_BASE(cpu));
  if (have_tsc_aux()) wrmsr(MSR_TSC_AUX, RRVM_GUEST_TSC_AUX(cpu));
}

static bool check_one(const char* name, uint32_t msr, uint64_t want) {
  uint64_t got = rdmsr(msr);
  if (got == want) return true;
  console_printf("rrvm-guest: msr %s (0x%x) is 0x%lx, expected 0x%lx\n", name, msr, got, want);
  return false;
}

bool msrs_check_known(uint32_t cpu) {
  static int tsc_aux_known = -1; /* CPUID does not change at run time: ask once */
  if (tsc_aux_known < 0) tsc_aux_known = have_tsc_aux();
  bool ok = check_one("SYSENTER_ESP", MSR_IA32_SYSENTER_ESP, RRVM_GUEST_SYSENTER_ESP(cpu));
  ok = check_one("KERNEL_GS_BASE", MSR_KERNEL_GS_BASE, RRVM_GUEST_KERNEL_GS_BASE(cpu)) && ok;
  if (tsc_aux_known) ok = check_one("TSC_AUX", MSR_TSC_AUX, RRVM_GUEST_TSC_AUX(cpu)) && ok;
  return ok;
}
