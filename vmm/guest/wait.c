/*
 * How the BSP sleeps between ticks without burning a host core: arm the LAPIC timer and halt
 * with interrupts on (isr.S returns from the wait without iretq). wait_setup() proves the timer
 * interrupt really arrives before relying on it; if it does not (or wait=pause), the BSP polls
 * kvmclock with pause instead, which keeps a host core busy.
 */
#include "console.h"
#include "guest.h"
#include "lapic.h"
#include "x86.h"

#define PROBE_ARM_NS 1000000ull    /* the probe timer fires after 1 ms ... */
#define PROBE_LIMIT_NS 50000000ull /* ... and we give it 50 ms of TSC time to arrive */
#define MAX_ARM_NS 1000000000ull   /* longer sleeps are chained 1 s timers */

int guest_wait_irq_hlt(void);                /* isr.S */
int guest_wait_irq_poll(uint64_t tsc_limit); /* isr.S */

static enum lapic_timer_mode timer_mode;
static bool use_hlt;
static const char* why_polling = "";

static volatile struct pvclock_vcpu_time_info* bsp_clock(void) { return &guest_percpu[0].pvclock; }

/* Arms a 1 ms timer and spins (interrupts on) until it fires or the probe window ends. */
static bool probe_timer_interrupt(void) {
  lapic_timer_arm(bsp_clock(), PROBE_ARM_NS);
  uint64_t limit = rdtsc() + kvmclock_ns_to_tsc(bsp_clock(), PROBE_LIMIT_NS);
  int vector;
  do {
    vector = guest_wait_irq_poll(limit);
    if (vector >= 0 && vector != RRVM_GUEST_SPURIOUS_VECTOR) lapic_eoi();
  } while (vector >= 0 && vector != RRVM_GUEST_TIMER_VECTOR);
  if (vector == RRVM_GUEST_TIMER_VECTOR) return true;
  lapic_timer_disarm();
  return false;
}

void wait_setup(void) {
  lapic_init();
  if (guest_cfg.wait == WAIT_PAUSE) {
    why_polling = " (wait=pause)";
    return;
  }
  timer_mode = lapic_timer_setup(bsp_clock());
  if (timer_mode == LAPIC_TIMER_NONE) {
    why_polling = " (no usable LAPIC timer)";
    return;
  }
  if (guest_cfg.wait == WAIT_HLT || probe_timer_interrupt()) {
    use_hlt = true;
    return;
  }
  why_polling = " (the LAPIC timer interrupt did not arrive within 50 ms)";
}

void wait_report(void) {
  console_printf("rrvm-guest: timer=%s wait=%s%s\n", lapic_timer_mode_name(timer_mode),
                 use_hlt ? "hlt" : "pause", why_polling);
}

void wait_until_ns(uint64_t target_ns) {
  for (;;) {
    uint64_t now = clock_now_checked(0);
    if (now >= target_ns) return;
    if (!use_hlt) {
      cpu_pause();
      continue;
    }
    uint64_t left = target_ns - now;
    lapic_timer_arm(bsp_clock(), left < MAX_ARM_NS ? left : MAX_ARM_NS);
    int vector = guest_wait_irq_hlt();
    if (vector >= 0 && vector != RRVM_GUEST_SPURIOUS_VECTOR) lapic_eoi();
  }
}
