/*
 * The boot ABI between rrvm (vmm/boot) and the rrvm guest (vmm/guest): plain C, included by the
 * freestanding guest (C and assembly) and by rrvm's C++ boot code. docs/guest.md explains it in
 * prose; this header is the authority on numbers.
 *
 * Two ways into the one guest ELF:
 *  - PVH (Xen's ELF note XEN_ELFNOTE_PHYS32_ENTRY, what QEMU's `-kernel` uses): 32-bit flat
 *    protected mode, paging off, ebx = guest-physical address of a struct hvm_start_info. Only
 *    the BSP enters; the guest starts the APs itself (INIT-SIPI-SIPI, trampoline at
 *    RRVM_GUEST_AP_TRAMPOLINE_GPA).
 *  - rrvm's direct 64-bit entry (ELF note named "rrvm", type RRVM_ELFNOTE_ENTRY64, descriptor a
 *    struct rrvm_note_entry64): every vCPU enters at `entry` in 64-bit long mode, paging on with
 *    an identity map covering at least the guest image, interrupts off, rdi = vCPU index
 *    (0 = BSP), rsi = guest-physical address of the same struct hvm_start_info (all vCPUs get
 *    it; the rsp value is not used). The guest then loads its own GDT, IDT and page tables.
 */
#ifndef RRVM_BOOT_ABI_H
#define RRVM_BOOT_ABI_H

/* --- ELF notes --------------------------------------------------------------------------- */
#define XEN_ELFNOTE_PHYS32_ENTRY 18 /* name "Xen", descriptor: 64-bit le entry address */
#define RRVM_ELFNOTE_NAME "rrvm"
#define RRVM_ELFNOTE_ENTRY64 0x52520001 /* name "rrvm", descriptor: struct rrvm_note_entry64 */
#define RRVM_BOOT_ABI_VERSION 1

/* --- Fixed guest-physical addresses and ports ---------------------------------------------- */
#define RRVM_GUEST_LOAD_GPA 0x100000        /* where the guest ELF is linked (1 MiB) */
#define RRVM_GUEST_AP_TRAMPOLINE_GPA 0x8000 /* PVH only: real-mode AP start page (SIPI 0x08) */
#define RRVM_GUEST_IDENTITY_MAP_END 0x100000000ull /* the guest maps [0, 4 GiB) itself */
#define RRVM_GUEST_MAX_CPUS 32
#define RRVM_GUEST_CMDLINE_MAX 1024       /* bytes the guest copies, including the NUL */
#define RRVM_GUEST_DIRTY_GPA 0x1000000ull /* dirty_mib= working set starts here (16 MiB) */
#define RRVM_GUEST_DIRTY_MAX_MIB 1024     /* ... and ends below 1 GiB + 16 MiB */

#define RRVM_SERIAL_PORT 0x3f8     /* 16550 UART: console */
#define RRVM_DEBUG_EXIT_PORT 0x501 /* 1-byte write of the exit status (QEMU isa-debug-exit) */
#define RRVM_RESET_PORT 0xcf9      /* reset control register: the guest writes 0x02 then 0x06 */
#define RRVM_KBD_CMD_PORT 0x64     /* i8042 command port: 0xfe pulses the reset line */

/* LAPIC vectors the guest programs. */
#define RRVM_GUEST_TIMER_VECTOR 0x40
#define RRVM_GUEST_SPURIOUS_VECTOR 0x4f
#define RRVM_GUEST_IDT_ENTRIES 0x50

/* --- Exit status written to RRVM_DEBUG_EXIT_PORT ------------------------------------------- */
/* rrvm exits with the status itself; QEMU (-device isa-debug-exit,iobase=0x501,iosize=2) exits
 * with (status << 1) | 1. Statuses stay below 128 so QEMU's value fits in an exit code. */
#define RRVM_EXIT_PASS 0
#define RRVM_EXIT_FAIL 1            /* a scenario step failed */
#define RRVM_EXIT_BAD_CMDLINE 2     /* unknown scenario step or malformed key value */
#define RRVM_EXIT_NO_KVMCLOCK 3     /* not on KVM, or no KVM_FEATURE_CLOCKSOURCE2 */
#define RRVM_EXIT_CLOCK_BACKWARDS 4 /* kvmclock went backwards between two reads */
#define RRVM_EXIT_CPU_BRINGUP 5     /* fewer vCPUs came online than cpus= asked for */
#define RRVM_EXIT_MSR_MISMATCH 6    /* a known MSR value changed under the guest */
#define RRVM_EXIT_UNEXPECTED_TRAP 7 /* an exception the guest did not expect */
#define RRVM_EXIT_RESET_FAILED 8    /* the reset scenario is still running after its writes */
#define RRVM_EXIT_BAD_START_INFO 9  /* hvm_start_info missing or with a bad magic */
#define RRVM_EXIT_DISK_MISMATCH 10  /* tick_disk=: a tick record read back differs */
#define RRVM_EXIT_RAM_MISMATCH 11   /* dirty_mib=: a page lost the word the last tick wrote */
#define RRVM_EXIT_MAX_USER_CODE 127 /* scenario=exit:CODE accepts 0..127 */

/* --- MSR values every vCPU writes at boot (host tests check them after save/restore) -------- */
#define RRVM_GUEST_TSC_AUX(cpu) (0x5200u + (unsigned)(cpu)) /* only when CPUID has RDTSCP */
#define RRVM_GUEST_SYSENTER_ESP(cpu) (0x52520000ull + ((unsigned long long)(cpu) << 4))
#define RRVM_GUEST_KERNEL_GS_BASE(cpu) (0x00007f5252000000ull + ((unsigned long long)(cpu) << 12))

#ifndef __ASSEMBLER__
#include <stdint.h>

/* --- tick_disk=N: the record tick n writes to sector n % N (one 512-byte sector) ------------ */
/* words[0] magic, [1] tick n, [2] the BSP's kvmclock ns when written, [3] how many times the
 * guest had seen PVCLOCK_GUEST_STOPPED by then (so a record tells which side of a stop, snapshot
 * or migration wrote it), [4..62] rrvm_tick_record_fill(n, i), [63] rrvm_tick_record_sum over
 * words 0..62 (FNV-1a over 64-bit words). Host tests check images with these same functions. */
#define RRVM_TICK_RECORD_MAGIC 0x6b6369746d767272ull /* "rrvmtick" as little-endian bytes */
#define RRVM_TICK_RECORD_WORDS 64
#define RRVM_TICK_RECORD_FIRST_FILL 4
#define RRVM_TICK_RECORD_SUM_WORD 63

static inline uint64_t rrvm_tick_record_fill(uint64_t tick, uint64_t word) {
  return tick * 0x9e3779b97f4a7c15ull + word;
}

static inline uint64_t rrvm_tick_record_sum(const volatile uint64_t* words) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < RRVM_TICK_RECORD_SUM_WORD; i++) h = (h ^ words[i]) * 0x100000001b3ull;
  return h;
}

/* dirty_mib=N: after tick t the word at the start of page p of the working set (page p at
 * RRVM_GUEST_DIRTY_GPA + p * 4096) holds rrvm_dirty_word(t, p). */
static inline uint64_t rrvm_dirty_word(uint64_t tick, uint64_t page) { return (tick << 32) + page; }

/* Descriptor of the RRVM_ELFNOTE_ENTRY64 note (16 bytes, little endian). */
struct rrvm_note_entry64 {
  uint64_t entry;       /* guest-physical 64-bit entry point */
  uint32_t abi_version; /* RRVM_BOOT_ABI_VERSION */
  uint32_t max_cpus;    /* the guest supports vCPU indexes [0, max_cpus) */
};

/* Xen's PVH start info (xen/include/public/arch-x86/hvm/start_info.h), version 1. */
#define HVM_START_MAGIC_VALUE 0x336ec578u
struct hvm_start_info {
  uint32_t magic;         /* HVM_START_MAGIC_VALUE */
  uint32_t version;       /* 1: memmap fields present */
  uint32_t flags;         /* SIF_* (unused here) */
  uint32_t nr_modules;    /* entries at modlist_paddr */
  uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
  uint64_t cmdline_paddr; /* NUL-terminated command line, 0 when none */
  uint64_t rsdp_paddr;    /* ACPI RSDP, 0 when none */
  uint64_t memmap_paddr;  /* struct hvm_memmap_table_entry[memmap_entries] */
  uint32_t memmap_entries;
  uint32_t reserved;
};

struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};

#define XEN_HVM_MEMMAP_TYPE_RAM 1
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2
#define XEN_HVM_MEMMAP_TYPE_ACPI 3
#define XEN_HVM_MEMMAP_TYPE_NVS 4
#define XEN_HVM_MEMMAP_TYPE_UNUSABLE 5
struct hvm_memmap_table_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type; /* XEN_HVM_MEMMAP_TYPE_* (same numbers as e820) */
  uint32_t reserved;
};

#ifdef __cplusplus
static_assert(sizeof(struct rrvm_note_entry64) == 16, "rrvm note layout");
static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");
#else
_Static_assert(sizeof(struct rrvm_note_entry64) == 16, "rrvm note layout");
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");
#endif
#endif /* __ASSEMBLER__ */

#endif /* RRVM_BOOT_ABI_H */
