/*
 * Entry points of the rrvm guest: the ELF notes that announce them, the PVH 32-bit entry, rrvm's
 * direct 64-bit entry, the real-mode AP trampoline, and the GDT and page tables they load.
 *
 * Every path ends in long_mode_common with
 *   edi/rdi = vCPU index, or ~0 for an AP started by SIPI (it claims the next free index),
 *   rsi     = guest-physical address of hvm_start_info (0 for SIPI-started APs),
 *   ebp     = RRVM_ENTRY_* (how the vCPU entered),
 * and calls guest_main(cpu, start_info, entry_kind) on that vCPU's own stack.
 *
 * Only instructions KVM's instruction emulator handles: mov to/from CRs, lgdt, rdmsr/wrmsr,
 * far jmp (direct in 16/32-bit code, indirect m16:32 in 64-bit code), lock xadd. No iret.
 */
#include "rrvm_boot_abi.h"
#include "guest_layout.h"

#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* --- ELF notes ----------------------------------------------------------------------------
 * 4-byte aligned as on Linux. QEMU finds the PVH note by type alone and steps over other notes
 * by aligning namesz/descsz to the PT_NOTE p_align (4), so both notes keep 4-byte padding. */
  .section .note.rrvm, "a", @note
  .balign 4
  .long 4                        /* namesz: "Xen\0" */
  .long 8                        /* descsz */
  .long XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .balign 4
  .quad pvh_entry32
  .balign 4
  .long 5                        /* namesz: "rrvm\0" */
  .long 16                       /* descsz: struct rrvm_note_entry64 */
  .long RRVM_ELFNOTE_ENTRY64
  .asciz "rrvm"
  .balign 4
  .quad rrvm_entry64
  .long RRVM_BOOT_ABI_VERSION
  .long RRVM_GUEST_MAX_CPUS
  .balign 4

/* --- 32-bit entries -------------------------------------------------------------------------- */
  .section .text.entry, "ax"
  .code32
  .globl pvh_entry32
/* PVH: flat 32-bit protected mode, paging off, ebx = hvm_start_info. GDTR/IDTR are undefined. */
pvh_entry32:
  cli
  cld
  movl %ebx, %esi
  xorl %edi, %edi
  movl $RRVM_ENTRY_PVH, %ebp
  jmp enter_long_mode32

/* APs started by SIPI arrive here from the trampoline: protected mode, CS = GUEST_CODE32_SEL,
 * our GDT loaded, but DS still holds the real-mode segment (base = trampoline page): load the
 * flat data selector before the first memory operand. */
  .globl ap_entry32
ap_entry32:
  movl $GUEST_DATA_SEL, %eax
  movl %eax, %ds
  movl $0xffffffff, %edi
  xorl %esi, %esi
  movl $RRVM_ENTRY_SIPI, %ebp
  /* fall through */

enter_long_mode32:
  lgdt gdt_desc
  movl $GUEST_DATA_SEL, %eax
  movl %eax, %ds
  movl %eax, %es
  movl %eax, %ss
  movl %cr4, %eax
  orl $CR4_PAE, %eax
  movl %eax, %cr4
  movl $guest_pml4, %eax
  movl %eax, %cr3
  movl $MSR_EFER, %ecx
  rdmsr
  orl $EFER_LME, %eax
  wrmsr
  movl %cr0, %eax
  orl $(CR0_PG | CR0_PE), %eax
  movl %eax, %cr0
  ljmp $GUEST_CODE64_SEL, $long_mode_from32

/* --- 64-bit entries -------------------------------------------------------------------------- */
  .code64
long_mode_from32:
  /* Upper halves of registers are undefined after the mode switch. */
  movl %edi, %edi
  movl %esi, %esi
  movl %ebp, %ebp
  jmp long_mode_common

  .globl rrvm_entry64
/* rrvm: long mode with the VMM's GDT and identity map; rdi = vCPU index, rsi = hvm_start_info.
 * Switch to our own GDT and page tables (identical identity mapping of [0, 4 GiB)) so nothing
 * below depends on how much the VMM mapped. The stack is not set up yet: reload CS with an
 * indirect far jump, which needs none. */
rrvm_entry64:
  cli
  cld
  lgdt gdt_desc(%rip)
  leaq guest_pml4(%rip), %rax
  movq %rax, %cr3
  movl $RRVM_ENTRY_RRVM64, %ebp
  ljmpl *reload_cs_target(%rip)

long_mode_common:
  movl $GUEST_DATA_SEL, %eax
  movl %eax, %ds
  movl %eax, %es
  movl %eax, %ss
  xorl %eax, %eax
  movl %eax, %fs
  movl %eax, %gs
  cmpl $0xffffffff, %edi
  jne 1f
  /* SIPI-started AP: claim the next index. */
  movl $1, %edi
  lock xaddl %edi, ap_next_index(%rip)
1:
  cmpq $RRVM_GUEST_MAX_CPUS, %rdi
  jae cpu_index_out_of_range
  /* rsp = top of guest_stacks[rdi] (16-byte aligned, so rsp + 8 is aligned at guest_main). */
  movq %rdi, %rax
  incq %rax
  shlq $GUEST_STACK_SHIFT, %rax
  leaq guest_stacks(%rip), %rsp
  addq %rax, %rsp
  movl %ebp, %edx
  xorl %ebp, %ebp
  call guest_main
  /* guest_main does not return. */
cpu_index_out_of_range:
  lock incl guest_cpus_rejected(%rip)
2:
  cli
  hlt
  jmp 2b

/* --- Real-mode AP trampoline -----------------------------------------------------------------
 * Copied to RRVM_GUEST_AP_TRAMPOLINE_GPA by the BSP (PVH boots only); SIPI starts APs here with
 * CS = RRVM_GUEST_AP_TRAMPOLINE_GPA >> 4, IP = 0. Position independent: data is addressed
 * relative to the segment base. */
  .section .rodata.trampoline, "a"
  .code16
  .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
  cli
  cld
  movw %cs, %ax
  movw %ax, %ds
  lgdtl ap_trampoline_gdtr - ap_trampoline_start
  movl %cr0, %eax
  orl $CR0_PE, %eax
  movl %eax, %cr0
  ljmpl $GUEST_CODE32_SEL, $ap_entry32
  .balign 8
ap_trampoline_gdtr:
  .word gdt_end - gdt - 1
  .long gdt
ap_trampoline_end:
  .code64

/* --- GDT ------------------------------------------------------------------------------------
 * Accessed bits preset so loading a selector never writes the table. */
  .section .rodata.gdt, "a"
  .balign 16
gdt:
  .quad 0
  .quad 0x00cf9b000000ffff   /* GUEST_CODE32_SEL: base 0, limit 4 GiB, 32-bit, execute/read */
  .quad 0x00af9b000000ffff   /* GUEST_CODE64_SEL: long mode code */
  .quad 0x00cf93000000ffff   /* GUEST_DATA_SEL: base 0, limit 4 GiB, read/write */
gdt_end:
  .balign 8
  .word 0, 0, 0
gdt_desc:                    /* 2-byte limit then 8-byte base (lgdt reads 4 of them in 32-bit code) */
  .word gdt_end - gdt - 1
  .quad gdt
reload_cs_target:            /* m16:32 far pointer for rrvm_entry64's CS reload */
  .long long_mode_common
  .word GUEST_CODE64_SEL

/* --- Identity page tables: [0, 4 GiB) with 2 MiB pages ----------------------------------------
 * Built by the assembler so that no guest instruction is spent on them. The top GiB (MMIO:
 * LAPIC, IOAPIC, virtio-mmio) is mapped uncached (PCD | PWT). */
  .section .data.pagetables, "aw"
  .balign 4096
  .globl guest_pml4
guest_pml4:
  .quad guest_pdpt + 0x3
  .fill 511, 8, 0
guest_pdpt:
  .quad guest_pd + 0x0000 + 0x3
  .quad guest_pd + 0x1000 + 0x3
  .quad guest_pd + 0x2000 + 0x3
  .quad guest_pd + 0x3000 + 0x3
  .fill 508, 8, 0
guest_pd:
  .set page, 0
  .rept 2048
  .if page < 0xc0000000
  .quad page + 0x83          /* present, writable, 2 MiB */
  .else
  .quad page + 0x9b          /* present, writable, PWT, PCD, 2 MiB */
  .endif
  .set page, page + 0x200000
  .endr

  .section .data
  .balign 4
ap_next_index:               /* next index a SIPI-started AP claims (the BSP is 0) */
  .long 1
  .globl guest_cpus_rejected
guest_cpus_rejected:         /* vCPUs that entered with an index >= RRVM_GUEST_MAX_CPUS */
  .long 0
