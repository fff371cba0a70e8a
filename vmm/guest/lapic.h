/*
 * The local APIC (xAPIC, MMIO): enabling it, the timer the BSP sleeps on between ticks, EOI,
 * and the INIT-SIPI-SIPI sequence that starts APs on PVH boots.
 */
#ifndef RRVM_GUEST_LAPIC_H
#define RRVM_GUEST_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "kvmclock.h"

enum lapic_timer_mode { LAPIC_TIMER_NONE, LAPIC_TIMER_TSC_DEADLINE, LAPIC_TIMER_ONESHOT };

/* Software-enables this vCPU's LAPIC with the spurious vector; masks the timer. */
void lapic_init(void);
/* Picks TSC-deadline when CPUID offers it, else a one-shot timer calibrated against kvmclock. */
enum lapic_timer_mode lapic_timer_setup(const volatile struct pvclock_vcpu_time_info* clock);
const char* lapic_timer_mode_name(enum lapic_timer_mode mode);
/* Fires RRVM_GUEST_TIMER_VECTOR after ns (ns <= 1e9). */
void lapic_timer_arm(const volatile struct pvclock_vcpu_time_info* clock, uint64_t ns);
void lapic_timer_disarm(void);
void lapic_eoi(void);
/* INIT then two SIPIs with `vector` (start page = vector << 12) to all but this vCPU. */
void lapic_start_aps(uint8_t vector);

#endif
