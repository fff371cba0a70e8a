/*
 * State shared across the rrvm guest's C files: the boot configuration parsed from the command
 * line, per-vCPU data, and the exit paths.
 */
#ifndef RRVM_GUEST_GUEST_H
#define RRVM_GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmclock.h"
#include "rrvm_boot_abi.h"

enum wait_mode { WAIT_AUTO, WAIT_HLT, WAIT_PAUSE };

struct guest_config {
  uint32_t cpus;        /* cpus=N: vCPUs to bring up and wait for (default 1) */
  uint32_t tick_ms;     /* tick_ms=N: period of tick lines (default 100) */
  enum wait_mode wait;  /* wait=auto|hlt|pause: how the BSP sleeps between ticks */
  uint32_t tick_disk;   /* tick_disk=N: tick n's record goes to sector n % N (0: off) */
  uint32_t dirty_mib;   /* dirty_mib=N: MiB of RAM every tick dirties (0: off) */
  const char* scenario; /* scenario=STEP[,STEP...] (points into cmdline), or 0 */
  size_t scenario_len;
  char cmdline[RRVM_GUEST_CMDLINE_MAX];
};

enum cpu_state { CPU_ABSENT = 0, CPU_ONLINE = 1, CPU_FAILED = 2 };

/* Per-vCPU data, 64-byte aligned so a pvclock area never straddles a page. Written by the vCPU
 * itself; the BSP only reads another vCPU's state/fail_code. Zeroed by the loader (.bss). */
struct percpu {
  struct pvclock_vcpu_time_info pvclock;
  volatile uint32_t state;     /* enum cpu_state */
  volatile uint32_t fail_code; /* RRVM_EXIT_* when state == CPU_FAILED */
  const char* volatile fail_reason;
  uint32_t entry_kind; /* RRVM_ENTRY_* */
} __attribute__((aligned(64)));

extern struct percpu guest_percpu[RRVM_GUEST_MAX_CPUS];
extern struct guest_config guest_cfg;
extern volatile uint32_t guest_cpus_rejected; /* entry.S */

/* Parses the command line into guest_cfg (copies it first). False after printing why. */
bool cmdline_parse(const char* cmdline);

/* Exit through the debug-exit port (then halt if the VMM ignored it). */
__attribute__((noreturn)) void guest_exit(uint32_t status);
/* Prints "rrvm-guest: FAIL <reason>" and exits with status. */
__attribute__((noreturn, format(printf, 2, 3))) void guest_fail(uint32_t status, const char* fmt,
                                                                ...);

/* The BSP's kvmclock now, checked never to go backwards (fails the guest if it does). */
uint64_t clock_now_checked(uint64_t* tsc_out);
/* Sleeps the BSP until kvmclock reaches target_ns (interrupt-driven or polling, see wait.c). */
void wait_until_ns(uint64_t target_ns);
/* Chooses how the BSP waits: probes the LAPIC timer interrupt unless wait= forces a mode. */
void wait_setup(void);
/* Prints "rrvm-guest: timer=<tsc-deadline|lapic-oneshot|none> wait=<hlt|pause>[ (why)]". */
void wait_report(void);

/* Known MSR values (rrvm_boot_abi.h): written by every vCPU at boot, checked by the BSP. */
void msrs_write_known(uint32_t cpu);
bool msrs_check_known(uint32_t cpu);

/* Tick lines: prints `count` lines (0: forever) of the tick loop. */
void ticks_run(uint64_t count);

/* Per-tick work (tick.c calls these). tick_disk.c: opens the disk for tick_disk= (begin),
 * writes, flushes and reads back tick n's record and returns its sector (fails the guest with
 * RRVM_EXIT_DISK_MISMATCH when the read-back differs), resets the disk (end). dirty_ram.c:
 * checks dirty_mib='s working set against the memory map before the ready marker (false after
 * printing why), writes the tick's word to every page of it (returns the page count), and
 * checks those words after a stop (RRVM_EXIT_RAM_MISMATCH when one was lost). */
void tick_disk_begin(void);
void tick_disk_end(void);
uint64_t tick_disk_write(uint64_t tick, uint64_t now_ns, uint64_t stopped_count);
bool dirty_ram_validate(const struct hvm_start_info* si);
uint64_t dirty_ram_write(uint64_t tick);
void dirty_ram_verify(void);

/* Scenario steps: validated before the ready marker, run after it. */
bool scenario_validate(void);
__attribute__((noreturn)) void scenario_run(void);

#endif
