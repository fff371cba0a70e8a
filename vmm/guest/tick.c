/*
 * The tick loop: every tick_ms of kvmclock time the BSP prints
 *   tick <n> kvmclock_ns=<ns> wall_ns=<ns> tsc=<tsc>
 * (decimal, n counts from 1 across the whole boot), after noticing PVCLOCK_GUEST_STOPPED and
 * checking its known MSRs. Missed periods (a VM that was stopped while its clock ran on) are
 * skipped, not printed in a burst.
 */
#include "console.h"
#include "guest.h"
#include "x86.h"

static uint64_t last_clock_ns;
static uint64_t tick_count;
static uint64_t next_tick_ns;
static uint64_t stopped_count;

uint64_t clock_now_checked(uint64_t* tsc_out) {
  uint64_t tsc;
  uint64_t now = kvmclock_read(&guest_percpu[0].pvclock, &tsc);
  if (now < last_clock_ns) {
    guest_fail(RRVM_EXIT_CLOCK_BACKWARDS, "kvmclock went backwards: %lu ns after %lu ns (tsc=%lu)",
               now, last_clock_ns, tsc);
  }
  last_clock_ns = now;
  if (tsc_out != 0) *tsc_out = tsc;
  return now;
}

static void check_guest_stopped(uint64_t now) {
  if (!kvmclock_take_guest_stopped(&guest_percpu[0].pvclock)) return;
  stopped_count++;
  console_printf("rrvm-guest: pvclock guest-stopped cpu=0 count=%lu kvmclock_ns=%lu\n",
                 stopped_count, now);
}

static void print_tick(void) {
  uint64_t tsc;
  uint64_t now = clock_now_checked(&tsc);
  check_guest_stopped(now);
  if (!msrs_check_known(0))
    guest_fail(RRVM_EXIT_MSR_MISMATCH, "known MSR values changed (tick %lu)", tick_count + 1);
  tick_count++;
  console_printf("tick %lu kvmclock_ns=%lu wall_ns=%lu tsc=%lu\n", tick_count, now,
                 kvmclock_wall_ns(now), tsc);
}

void ticks_run(uint64_t count) {
  uint64_t period = (uint64_t)guest_cfg.tick_ms * 1000000ull;
  if (next_tick_ns == 0) next_tick_ns = clock_now_checked(0) + period;
  for (uint64_t done = 0; count == 0 || done < count; done++) {
    wait_until_ns(next_tick_ns);
    print_tick();
    next_tick_ns += period;
    if (next_tick_ns <= last_clock_ns) next_tick_ns = last_clock_ns + period;
  }
}
