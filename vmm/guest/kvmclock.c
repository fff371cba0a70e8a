#include "kvmclock.h"

#include "x86.h"

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
/* "KVMKVMKVM\0\0\0" as ebx, ecx, edx */
#define KVM_SIG_EBX 0x4b4d564b
#define KVM_SIG_ECX 0x564b4d56
#define KVM_SIG_EDX 0x0000004d

/* Bounded wait for KVM's first update of a freshly registered area; an emulated instruction
 * takes ~2 us, so this is far above anything a working KVM needs and still ends. */
#define ENABLE_SPIN_LIMIT 200000

static struct pvclock_wall_clock wall_clock __attribute__((aligned(64)));

bool kvmclock_supported(const char** why) {
  struct cpuid_regs sig = cpuid(KVM_CPUID_SIGNATURE, 0);
  if (sig.ebx != KVM_SIG_EBX || sig.ecx != KVM_SIG_ECX || sig.edx != KVM_SIG_EDX) {
    *why = "CPUID 0x40000000 does not say KVMKVMKVM (not running on KVM)";
    return false;
  }
  if (sig.eax < KVM_CPUID_FEATURES) {
    *why = "CPUID 0x40000000 has no feature leaf";
    return false;
  }
  if (!(cpuid(KVM_CPUID_FEATURES, 0).eax & KVM_FEATURE_CLOCKSOURCE2)) {
    *why = "KVM_FEATURE_CLOCKSOURCE2 is not offered (CPUID 0x40000001 eax bit 3)";
    return false;
  }
  return true;
}

bool kvmclock_enable(volatile struct pvclock_vcpu_time_info* area) {
  wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)area | 1);
  for (unsigned i = 0; i < ENABLE_SPIN_LIMIT; i++) {
    if (area->version != 0 && area->tsc_to_system_mul != 0) return true;
    cpu_pause();
  }
  return false;
}

void kvmclock_enable_wall_clock(void) {
  wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)&wall_clock);
}

static uint64_t scale_delta(uint64_t delta, uint32_t mul, int8_t shift) {
  if (shift < 0)
    delta >>= -shift;
  else
    delta <<= shift;
  return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

uint64_t kvmclock_read(const volatile struct pvclock_vcpu_time_info* area, uint64_t* tsc_out) {
  uint32_t version;
  uint64_t ns, tsc;
  do {
    version = area->version;
    compiler_barrier();
    tsc = rdtsc();
    uint64_t stamp = area->tsc_timestamp;
    /* Our own area: KVM stamps it before the vCPU runs, so stamp <= tsc. */
    ns = area->system_time + scale_delta(tsc - stamp, area->tsc_to_system_mul, area->tsc_shift);
    compiler_barrier();
  } while ((version & 1) != 0 || version != area->version);
  if (tsc_out != 0) *tsc_out = tsc;
  return ns;
}

uint64_t kvmclock_wall_ns(uint64_t now_ns) {
  volatile struct pvclock_wall_clock* w = &wall_clock;
  uint32_t version, sec, nsec;
  do {
    version = w->version;
    compiler_barrier();
    sec = w->sec;
    nsec = w->nsec;
    compiler_barrier();
  } while ((version & 1) != 0 || version != w->version);
  return (uint64_t)sec * 1000000000ull + nsec + now_ns;
}

uint64_t kvmclock_ns_to_tsc(const volatile struct pvclock_vcpu_time_info* area, uint64_t ns) {
  uint32_t mul = area->tsc_to_system_mul;
  int8_t shift = area->tsc_shift;
  /* Inverse of scale_delta; ns <= 1e9 < 2^30 keeps ns << 32 inside 64 bits. */
  uint64_t t = (ns << 32) / mul;
  if (shift < 0)
    t <<= -shift;
  else
    t >>= shift;
  return t + 1;
}

bool kvmclock_take_guest_stopped(volatile struct pvclock_vcpu_time_info* area) {
  if (!(area->flags & PVCLOCK_GUEST_STOPPED)) return false;
  area->flags &= (uint8_t)~PVCLOCK_GUEST_STOPPED;
  return true;
}
