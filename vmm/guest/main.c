/*
 * guest_main: where every vCPU arrives from entry.S, on its own stack.
 *
 * BSP (vCPU 0): console, start info and command line, kvmclock, IDT and LAPIC, APs (started by
 * SIPI on PVH boots; already running on rrvm's 64-bit entry), known MSRs, timer probe, then the
 * ready marker and the scenario. APs: kvmclock, known MSRs, mark themselves online, halt.
 */
#include <stdarg.h>

#include "console.h"
#include "guest.h"
#include "guest_layout.h"
#include "idt.h"
#include "lapic.h"
#include "lib.h"
#include "virtio_mmio.h"
#include "x86.h"

#define AP_ONLINE_TIMEOUT_NS 2000000000ull /* 2 s of kvmclock time for all APs to report */

struct percpu guest_percpu[RRVM_GUEST_MAX_CPUS];
/* entry.S points each vCPU's rsp at the top of its slot. */
uint8_t guest_stacks[RRVM_GUEST_MAX_CPUS][GUEST_STACK_SIZE] __attribute__((aligned(16)));
extern const uint8_t ap_trampoline_start[], ap_trampoline_end[];

void guest_exit(uint32_t status) {
  virtio_mmio_reset_live();
  console_printf("rrvm-guest: exit status=%u\n", status);
  outb(RRVM_DEBUG_EXIT_PORT, (uint8_t)status);
  console_printf("rrvm-guest: the debug-exit port 0x%x did not stop the VM; halting\n",
                 RRVM_DEBUG_EXIT_PORT);
  halt_forever();
}

void guest_fail(uint32_t status, const char* fmt, ...) {
  console_write("rrvm-guest: FAIL ", 17);
  va_list ap;
  va_start(ap, fmt);
  console_vprintf(fmt, ap);
  va_end(ap);
  console_write("\n", 1);
  guest_exit(status);
}

static __attribute__((noreturn)) void cpu_failed(uint32_t cpu, uint32_t code, const char* reason) {
  guest_percpu[cpu].fail_reason = reason;
  guest_percpu[cpu].fail_code = code;
  compiler_barrier();
  guest_percpu[cpu].state = CPU_FAILED;
  halt_forever();
}

static __attribute__((noreturn)) void ap_main(uint32_t cpu, uint32_t entry_kind) {
  guest_percpu[cpu].entry_kind = entry_kind;
  const char* why;
  if (!kvmclock_supported(&why)) cpu_failed(cpu, RRVM_EXIT_NO_KVMCLOCK, why);
  if (!kvmclock_enable(&guest_percpu[cpu].pvclock)) {
    cpu_failed(cpu, RRVM_EXIT_NO_KVMCLOCK, "KVM never filled the pvclock area");
  }
  msrs_write_known(cpu);
  compiler_barrier();
  guest_percpu[cpu].state = CPU_ONLINE; /* x86 stores are ordered: the BSP sees the MSRs done */
  halt_forever();
}

static const char* read_cmdline(const struct hvm_start_info* si) {
  if (si == 0 || si->magic != HVM_START_MAGIC_VALUE) {
    guest_fail(RRVM_EXIT_BAD_START_INFO, "no hvm_start_info (pointer 0x%lx)",
               (uint64_t)(uintptr_t)si);
  }
  if (si->cmdline_paddr >= RRVM_GUEST_IDENTITY_MAP_END) {
    guest_fail(RRVM_EXIT_BAD_START_INFO, "command line at 0x%lx is above 4 GiB", si->cmdline_paddr);
  }
  return si->cmdline_paddr != 0 ? (const char*)(uintptr_t)si->cmdline_paddr : "";
}

static void bsp_enable_kvmclock(void) {
  const char* why;
  if (!kvmclock_supported(&why)) guest_fail(RRVM_EXIT_NO_KVMCLOCK, "kvmclock missing: %s", why);
  if (!kvmclock_enable(&guest_percpu[0].pvclock)) {
    guest_fail(RRVM_EXIT_NO_KVMCLOCK, "kvmclock missing: KVM never filled the pvclock area");
  }
  kvmclock_enable_wall_clock();
  guest_percpu[0].state = CPU_ONLINE;
}

/* Waits until vCPUs [0, cpus) are online; fails on the first that reports a failure. */
static void wait_for_aps(uint32_t cpus) {
  uint64_t deadline = clock_now_checked(0) + AP_ONLINE_TIMEOUT_NS;
  for (uint32_t cpu = 1; cpu < cpus; cpu++) {
    while (guest_percpu[cpu].state == CPU_ABSENT) {
      if (clock_now_checked(0) > deadline) {
        guest_fail(RRVM_EXIT_CPU_BRINGUP,
                   "vCPU %u did not come online within 2 s (cpus=%u, rejected=%u)", cpu, cpus,
                   guest_cpus_rejected);
      }
      cpu_pause();
    }
    if (guest_percpu[cpu].state == CPU_FAILED) {
      guest_fail(guest_percpu[cpu].fail_code, "vCPU %u: %s", cpu, guest_percpu[cpu].fail_reason);
    }
  }
}

static const char* entry_name(uint32_t kind) {
  return kind == RRVM_ENTRY_PVH ? "pvh" : kind == RRVM_ENTRY_RRVM64 ? "rrvm64" : "sipi";
}

static __attribute__((noreturn)) void bsp_main(const struct hvm_start_info* si,
                                               uint32_t entry_kind) {
  guest_percpu[0].entry_kind = entry_kind;
  console_init();
  const char* cmdline = read_cmdline(si);
  console_printf("rrvm-guest: boot entry=%s cmdline=\"%s\"\n", entry_name(entry_kind), cmdline);
  if (!cmdline_parse(cmdline) || !scenario_validate() || !dirty_ram_validate(si))
    guest_fail(RRVM_EXIT_BAD_CMDLINE, "bad command line");
  bsp_enable_kvmclock();
  idt_load();
  wait_setup();
  if (entry_kind == RRVM_ENTRY_PVH && guest_cfg.cpus > 1) {
    memcpy((void*)RRVM_GUEST_AP_TRAMPOLINE_GPA, ap_trampoline_start,
           (size_t)(ap_trampoline_end - ap_trampoline_start));
    lapic_start_aps(RRVM_GUEST_AP_TRAMPOLINE_GPA >> 12);
  }
  wait_for_aps(guest_cfg.cpus);
  msrs_write_known(0);
  wait_report();
  console_printf("rrvm-guest: ready cpus=%u clocksource=kvmclock\n", guest_cfg.cpus);
  scenario_run();
}

__attribute__((noreturn)) void guest_main(uint64_t cpu, uint64_t start_info, uint32_t entry_kind) {
  if (cpu == 0) bsp_main((const struct hvm_start_info*)(uintptr_t)start_info, entry_kind);
  ap_main((uint32_t)cpu, entry_kind);
}
