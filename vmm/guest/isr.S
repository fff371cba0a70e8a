/*
 * Interrupt and exception entry of the rrvm guest, written so that nothing ever returns with
 * iretq (KVM's emulator refuses iret outside real mode):
 *  - exceptions (vectors 0..31) are fatal: the stub hands a trap frame to guest_exception(),
 *    which reports and exits;
 *  - interrupts are only ever enabled inside guest_wait_irq_hlt/guest_wait_irq_poll, so an
 *    interrupt stub abandons its frame, restores the stack pointer saved on entry to the wait
 *    function and returns from it with the vector in eax. IF stays clear (interrupt gates).
 * Only the BSP waits for interrupts (one saved stack pointer).
 */
#include "rrvm_boot_abi.h"

  .text
  .code64

/* 32 stubs, 16 bytes apart; vectors without a CPU error code push a 0 in its place. */
  .balign 16
  .globl guest_exception_stubs
guest_exception_stubs:
  .set vec, 0
  .rept 32
  .balign 16
  .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
  .else
  pushq $0
  .endif
  pushq $vec
  jmp exception_common
  .set vec, vec + 1
  .endr

exception_common:
  movq %rsp, %rdi            /* struct trap_frame: vector, error, rip, cs, rflags, rsp, ss */
  andq $-16, %rsp
  call guest_exception       /* does not return */
1:
  cli
  hlt
  jmp 1b

  .globl guest_irq_timer, guest_irq_spurious, guest_irq_other
guest_irq_timer:
  movl $RRVM_GUEST_TIMER_VECTOR, %eax
  jmp irq_resume
guest_irq_spurious:
  movl $RRVM_GUEST_SPURIOUS_VECTOR, %eax
  jmp irq_resume
guest_irq_other:
  xorl %eax, %eax
irq_resume:
  movq guest_irq_resume_rsp(%rip), %rsp
  ret                        /* from guest_wait_irq_*: rsp points at its return address */

/* int guest_wait_irq_hlt(void): sti; hlt until an interrupt. Returns its vector (0 for one
 * without its own stub), or -1 when hlt ended without an interrupt. The STI shadow makes
 * sti;hlt atomic: an interrupt pending at sti is taken at hlt, never lost before it. */
  .globl guest_wait_irq_hlt
guest_wait_irq_hlt:
  movq %rsp, guest_irq_resume_rsp(%rip)
  sti
  hlt
  cli
  movl $-1, %eax
  ret

/* int guest_wait_irq_poll(uint64_t tsc_limit): interrupts on while spinning with pause until an
 * interrupt (returns its vector) or until the TSC reaches tsc_limit (returns -1). Only rax, rcx
 * and rdx change in the loop: all caller-saved, so abandoning it from an interrupt is safe. */
  .globl guest_wait_irq_poll
guest_wait_irq_poll:
  movq %rsp, guest_irq_resume_rsp(%rip)
  movq %rdi, %rcx
  sti
1:
  pause
  rdtsc
  shlq $32, %rdx
  orq %rdx, %rax
  cmpq %rcx, %rax
  jb 1b
  cli
  movl $-1, %eax
  ret

  .bss
  .balign 8
guest_irq_resume_rsp:
  .quad 0
