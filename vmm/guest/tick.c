/*
 * The tick loop: every tick_ms of kvmclock time the BSP prints
 *   tick <n> kvmclock_ns=<ns> wall_ns=<ns> tsc=<tsc>
 * (decimal, n counts from 1 across the whole boot), after noticing PVCLOCK_GUEST_STOPPED and
 * checking its known MSRs. Missed periods (a VM that was stopped while its clock ran on) are
 * skipped, not printed in a burst.
 *
 * With tick_disk= and/or dirty_mib= each tick then does its work (dirty_ram.c, tick_disk.c) and
 * prints
 *   tick-work <n>[ dirty_pages=<p>][ disk_sector=<s> disk=ok]
 * once it is done, so a console shows which ticks completed their work on which side of a
 * migration.
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
  if (guest_cfg.dirty_mib != 0) dirty_ram_verify();
}

/* RAM first, then the disk: the record's flush and read-back are the tick's last device I/O.
 * The line is printed whole after the work, so a stop in the middle leaves no partial line. */
static void tick_work(uint64_t now) {
  if (guest_cfg.dirty_mib == 0 && guest_cfg.tick_disk == 0) return;
  uint64_t pages = guest_cfg.dirty_mib != 0 ? dirty_ram_write(tick_count) : 0;
  uint64_t sector = guest_cfg.tick_disk != 0 ? tick_disk_write(tick_count, now, stopped_count) : 0;
  console_printf("tick-work %lu", tick_count);
  if (guest_cfg.dirty_mib != 0) console_printf(" dirty_pages=%lu", pages);
  if (guest_cfg.tick_disk != 0) console_printf(" disk_sector=%lu disk=ok", sector);
  console_printf("\n");
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
  tick_work(now);
}

void ticks_run(uint64_t count) {
  uint64_t period = (uint64_t)guest_cfg.tick_ms * 1000000ull;
  tick_disk_begin();
  if (next_tick_ns == 0) next_tick_ns = clock_now_checked(0) + period;
  for (uint64_t done = 0; count == 0 || done < count; done++) {
    wait_until_ns(next_tick_ns);
    print_tick();
    next_tick_ns += period;
    if (next_tick_ns <= last_clock_ns) next_tick_ns = last_clock_ns + period;
  }
  tick_disk_end(); /* a later step may drive the disk itself */
}
