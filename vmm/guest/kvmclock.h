/*
 * kvmclock (KVM's pvclock): each vCPU registers its own time-info area with
 * MSR_KVM_SYSTEM_TIME_NEW; the BSP registers the wall clock with MSR_KVM_WALL_CLOCK_NEW.
 */
#ifndef RRVM_GUEST_KVMCLOCK_H
#define RRVM_GUEST_KVMCLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Linux's struct pvclock_vcpu_time_info (32 bytes). KVM writes it; the guest only clears
 * PVCLOCK_GUEST_STOPPED in flags, as Linux does. */
struct pvclock_vcpu_time_info {
  uint32_t version; /* odd while KVM updates the area */
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad[2];
} __attribute__((packed));

#define PVCLOCK_TSC_STABLE_BIT 0x01
#define PVCLOCK_GUEST_STOPPED 0x02

struct pvclock_wall_clock {
  uint32_t version;
  uint32_t sec;
  uint32_t nsec;
} __attribute__((packed));

/* Checks CPUID 0x40000000 ("KVMKVMKVM") and KVM_FEATURE_CLOCKSOURCE2; on failure returns false
 * and sets *why to a reason. */
bool kvmclock_supported(const char** why);
/* Registers `area` as this vCPU's time info and waits (bounded) until KVM has filled it. */
bool kvmclock_enable(volatile struct pvclock_vcpu_time_info* area);
/* Registers the wall clock (BSP, once). */
void kvmclock_enable_wall_clock(void);

/* This vCPU's kvmclock in ns, from its own area. *tsc_out gets the TSC value used. */
uint64_t kvmclock_read(const volatile struct pvclock_vcpu_time_info* area, uint64_t* tsc_out);
/* Wall-clock ns since the epoch at kvmclock time `now_ns`. */
uint64_t kvmclock_wall_ns(uint64_t now_ns);
/* TSC ticks for `ns` (ns <= 1e9) at the area's current scale. */
uint64_t kvmclock_ns_to_tsc(const volatile struct pvclock_vcpu_time_info* area, uint64_t ns);
/* True when KVM set PVCLOCK_GUEST_STOPPED in this vCPU's area; clears it. */
bool kvmclock_take_guest_stopped(volatile struct pvclock_vcpu_time_info* area);

#endif
