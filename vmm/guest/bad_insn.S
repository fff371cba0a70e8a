/*
 * Instructions the guest executes on purpose to make the VMM handle a failure. Kept in their
 * own functions so the build's instruction check (check_guest_elf.sh) can allow them here and
 * nowhere else.
 */
  .text
  .code64

/* cmpxchg16b: KVM's instruction emulator refuses it (an internal error under emulation); a CPU
 * running the guest natively executes it and returns. */
  .globl guest_bad_insn
guest_bad_insn:
  pushq %rbx
  subq $32, %rsp
  leaq 15(%rsp), %rsi
  andq $-16, %rsi            /* a 16-byte aligned slot inside the frame */
  movq $0, (%rsi)
  movq $0, 8(%rsi)
  xorl %eax, %eax
  xorl %edx, %edx
  movl $1, %ebx
  movl $1, %ecx
  lock cmpxchg16b (%rsi)
  addq $32, %rsp
  popq %rbx
  ret
  .globl guest_bad_insn_end
guest_bad_insn_end:

/* An empty IDT, then #DE: delivering it faults (#GP), delivering that faults again (#DF), and
 * the third fault shuts the vCPU down (triple fault). A divide error rather than ud2 because
 * KVM's emulator raises #DE itself. */
  .globl guest_triple_fault
guest_triple_fault:
  subq $24, %rsp
  movw $0, (%rsp)
  movq $0, 2(%rsp)
  lidt (%rsp)
  xorl %ecx, %ecx
  xorl %eax, %eax
  xorl %edx, %edx
  divl %ecx
  addq $24, %rsp
  ret
