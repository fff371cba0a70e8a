/*
 * Constants shared by the guest's assembly and C: segment selectors of the guest GDT
 * (entry.S), per-vCPU stacks, and how a vCPU entered.
 */
#ifndef RRVM_GUEST_LAYOUT_H
#define RRVM_GUEST_LAYOUT_H

#define GUEST_CODE32_SEL 0x08
#define GUEST_CODE64_SEL 0x10
#define GUEST_DATA_SEL 0x18

#define GUEST_STACK_SHIFT 14 /* 16 KiB per vCPU */
#define GUEST_STACK_SIZE (1 << GUEST_STACK_SHIFT)

/* How a vCPU came in (third argument of guest_main). */
#define RRVM_ENTRY_PVH 1    /* BSP through the PVH note (QEMU -kernel, rrvm --boot pvh) */
#define RRVM_ENTRY_SIPI 2   /* AP started by the BSP with INIT-SIPI-SIPI (PVH boots) */
#define RRVM_ENTRY_RRVM64 3 /* any vCPU through rrvm's direct 64-bit entry */

#endif
