/*
 * The guest IDT: vectors 0..31 go to fatal exception stubs, the LAPIC timer and spurious
 * vectors to their interrupt stubs, everything else up to RRVM_GUEST_IDT_ENTRIES to a generic
 * interrupt stub (isr.S). Built at boot: 80 gates cost well under a millisecond.
 */
#include "idt.h"
#include "console.h"
#include "guest.h"
#include "guest_layout.h"
#include "x86.h"

struct idt_gate {
  uint16_t offset_lo;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr; /* 0x8e: present, DPL 0, 64-bit interrupt gate (clears IF) */
  uint16_t offset_mid;
  uint32_t offset_hi;
  uint32_t reserved;
} __attribute__((packed));

struct trap_frame {
  uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern const uint8_t guest_exception_stubs[];
void guest_irq_timer(void);
void guest_irq_spurious(void);
void guest_irq_other(void);

#define EXCEPTION_STUB_SIZE 16

static struct idt_gate idt[RRVM_GUEST_IDT_ENTRIES] __attribute__((aligned(16)));

static void set_gate(unsigned vector, uint64_t handler) {
  idt[vector].offset_lo = (uint16_t)handler;
  idt[vector].selector = GUEST_CODE64_SEL;
  idt[vector].ist = 0;
  idt[vector].type_attr = 0x8e;
  idt[vector].offset_mid = (uint16_t)(handler >> 16);
  idt[vector].offset_hi = (uint32_t)(handler >> 32);
}

void idt_load(void) {
  static bool built;
  if (!built) {
    for (unsigned v = 0; v < 32; v++)
      set_gate(v, (uint64_t)(uintptr_t)(guest_exception_stubs + v * EXCEPTION_STUB_SIZE));
    for (unsigned v = 32; v < RRVM_GUEST_IDT_ENTRIES; v++)
      set_gate(v, (uint64_t)(uintptr_t)guest_irq_other);
    set_gate(RRVM_GUEST_TIMER_VECTOR, (uint64_t)(uintptr_t)guest_irq_timer);
    set_gate(RRVM_GUEST_SPURIOUS_VECTOR, (uint64_t)(uintptr_t)guest_irq_spurious);
    built = true;
  }
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
}

/* Called by isr.S on any exception: the guest never expects one. */
__attribute__((noreturn)) void guest_exception(const struct trap_frame* f) {
  guest_fail(RRVM_EXIT_UNEXPECTED_TRAP,
             "unexpected exception vector=%lu error=0x%lx rip=0x%lx rsp=0x%lx", f->vector, f->error,
             f->rip, f->rsp);
}
