#include "lapic.h"

#include "rrvm_boot_abi.h"
#include "x86.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0

#define SVR_ENABLE 0x100
#define LVT_MASKED (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)
#define TIMER_DIV_1 0xb
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_ALL_BUT_SELF_INIT 0x000c4500 /* shorthand all-but-self, level assert, INIT */
#define ICR_ALL_BUT_SELF_SIPI 0x000c4600 /* shorthand all-but-self, level assert, start-up */
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)

#define PIC_MASTER_IMR 0x21
#define PIC_SLAVE_IMR 0xa1

#define CALIBRATION_NS 1000000ull /* 1 ms of kvmclock time */

static uint64_t apic_base;
static enum lapic_timer_mode timer_mode;
static uint64_t oneshot_counts_per_ms;

static uint32_t apic_read(uint32_t reg) { return mmio_read32(apic_base + reg); }
static void apic_write(uint32_t reg, uint32_t v) { mmio_write32(apic_base + reg, v); }

void lapic_init(void) {
  uint64_t msr = rdmsr(MSR_IA32_APIC_BASE);
  if (!(msr & APIC_BASE_ENABLE)) wrmsr(MSR_IA32_APIC_BASE, msr | APIC_BASE_ENABLE);
  apic_base = msr & 0xfffff000ull;
  /* Only our timer may interrupt: firmware (SeaBIOS on QEMU pc) leaves the 8259 PIC programmed
   * with its timer on vector 8, which the IDT would take for a double fault. Mask every PIC
   * line and the LAPIC's LINT0 (ExtINT from the PIC) and LINT1 pins. */
  outb(PIC_MASTER_IMR, 0xff);
  outb(PIC_SLAVE_IMR, 0xff);
  apic_write(APIC_LVT_LINT0, LVT_MASKED);
  apic_write(APIC_LVT_LINT1, LVT_MASKED);
  apic_write(APIC_SVR, SVR_ENABLE | RRVM_GUEST_SPURIOUS_VECTOR);
  apic_write(APIC_LVT_TIMER, LVT_MASKED | RRVM_GUEST_TIMER_VECTOR);
}

enum lapic_timer_mode lapic_timer_setup(const volatile struct pvclock_vcpu_time_info* clock) {
  if (cpuid(1, 0).ecx & CPUID1_ECX_TSC_DEADLINE) {
    timer_mode = LAPIC_TIMER_TSC_DEADLINE;
    apic_write(APIC_LVT_TIMER, LVT_MASKED | LVT_TSC_DEADLINE | RRVM_GUEST_TIMER_VECTOR);
    return timer_mode;
  }
  /* One-shot: count down from the maximum for 1 ms of kvmclock time to learn the rate. */
  apic_write(APIC_TIMER_DIV, TIMER_DIV_1);
  apic_write(APIC_LVT_TIMER, LVT_MASKED | RRVM_GUEST_TIMER_VECTOR);
  uint64_t start = kvmclock_read(clock, 0);
  apic_write(APIC_TIMER_INIT, 0xffffffffu);
  while (kvmclock_read(clock, 0) - start < CALIBRATION_NS) cpu_pause();
  uint32_t elapsed = 0xffffffffu - apic_read(APIC_TIMER_CUR);
  apic_write(APIC_TIMER_INIT, 0);
  oneshot_counts_per_ms = elapsed;
  timer_mode = elapsed != 0 ? LAPIC_TIMER_ONESHOT : LAPIC_TIMER_NONE;
  return timer_mode;
}

const char* lapic_timer_mode_name(enum lapic_timer_mode mode) {
  switch (mode) {
    case LAPIC_TIMER_TSC_DEADLINE:
      return "tsc-deadline";
    case LAPIC_TIMER_ONESHOT:
      return "lapic-oneshot";
    case LAPIC_TIMER_NONE:
      break;
  }
  return "none";
}

void lapic_timer_arm(const volatile struct pvclock_vcpu_time_info* clock, uint64_t ns) {
  if (timer_mode == LAPIC_TIMER_TSC_DEADLINE) {
    apic_write(APIC_LVT_TIMER, LVT_TSC_DEADLINE | RRVM_GUEST_TIMER_VECTOR);
    wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + kvmclock_ns_to_tsc(clock, ns));
  } else if (timer_mode == LAPIC_TIMER_ONESHOT) {
    uint64_t counts = ns * oneshot_counts_per_ms / 1000000ull + 1;
    apic_write(APIC_LVT_TIMER, RRVM_GUEST_TIMER_VECTOR);
    apic_write(APIC_TIMER_INIT, counts > 0xffffffffull ? 0xffffffffu : (uint32_t)counts);
  }
}

void lapic_timer_disarm(void) {
  if (timer_mode == LAPIC_TIMER_TSC_DEADLINE) {
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | LVT_TSC_DEADLINE | RRVM_GUEST_TIMER_VECTOR);
  } else {
    apic_write(APIC_TIMER_INIT, 0);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | RRVM_GUEST_TIMER_VECTOR);
  }
}

void lapic_eoi(void) { apic_write(APIC_EOI, 0); }

static void send_ipi(uint32_t icr_lo) {
  apic_write(APIC_ICR_HI, 0);
  apic_write(APIC_ICR_LO, icr_lo);
  for (unsigned i = 0; i < 1000 && (apic_read(APIC_ICR_LO) & ICR_DELIVERY_PENDING); i++)
    cpu_pause();
}

void lapic_start_aps(uint8_t vector) {
  /* KVM's LAPIC handles INIT and SIPI at once, so the MP spec's 10 ms and 200 us pauses are not
   * needed here (Linux skips them on hypervisors as well); the second SIPI is the MP spec's
   * retry and is ignored by an AP that already started. */
  send_ipi(ICR_ALL_BUT_SELF_INIT);
  send_ipi(ICR_ALL_BUT_SELF_SIPI | vector);
  send_ipi(ICR_ALL_BUT_SELF_SIPI | vector);
}
