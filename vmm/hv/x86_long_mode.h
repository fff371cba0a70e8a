// Entering a guest directly in 64-bit long mode, without firmware: identity-mapped page tables, a
// GDT with a TSS, and the register values a vCPU needs (as Firecracker and rrvm's own 64-bit boot
// entry do). Pure functions over guest RAM given as a byte span whose byte 0 is guest physical
// address 0 (hv does not depend on core's GuestMemory).
//
// Typical use (the boot code chooses the addresses):
//   LongModeLayout layout{.page_tables_gpa = 0x9000, .gdt_gpa = 0x500, .tss_gpa = 0x600,
//                         .use_1g_pages = cpuid_has_1g_pages(cpuid)};
//   RRVM_TRY(write_long_mode_tables(low_ram, layout));
//   auto sregs = vcpu.get_sregs();                 // keeps apic_base and the interrupt bitmap
//   apply_long_mode_sregs(*sregs, layout);
//   vcpu.set_sregs(*sregs); vcpu.set_regs(long_mode_regs(entry, stack_top, arg0, arg1));
#pragma once

#include <cstdint>
#include <span>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::hv {

// GDT selectors written by write_long_mode_tables().
inline constexpr uint16_t GDT_CODE64 = 0x08;
inline constexpr uint16_t GDT_DATA = 0x10;
inline constexpr uint16_t GDT_CODE32 = 0x18;
inline constexpr uint16_t GDT_TSS = 0x20;  // a 16-byte system descriptor (slots 4 and 5)
inline constexpr uint32_t GDT_ENTRIES = 6;
inline constexpr uint32_t GDT_BYTES = GDT_ENTRIES * 8;
inline constexpr uint32_t TSS_BYTES = 104;  // the 64-bit TSS, without an I/O bitmap

// Control register and EFER bits the long-mode state uses.
inline constexpr uint64_t CR0_PE = 1ull << 0;
inline constexpr uint64_t CR0_MP = 1ull << 1;
inline constexpr uint64_t CR0_ET = 1ull << 4;
inline constexpr uint64_t CR0_NE = 1ull << 5;
inline constexpr uint64_t CR0_PG = 1ull << 31;
inline constexpr uint64_t CR4_PAE = 1ull << 5;
inline constexpr uint64_t CR4_OSFXSR = 1ull << 9;
inline constexpr uint64_t CR4_OSXMMEXCPT = 1ull << 10;
inline constexpr uint64_t EFER_LME = 1ull << 8;
inline constexpr uint64_t EFER_LMA = 1ull << 10;

// Page-table entry bits.
inline constexpr uint64_t PTE_PRESENT = 1ull << 0;
inline constexpr uint64_t PTE_WRITABLE = 1ull << 1;
inline constexpr uint64_t PTE_PAGE_SIZE = 1ull << 7;  // a 2 MiB (PD) or 1 GiB (PDPT) page

struct LongModeLayout {
  uint64_t page_tables_gpa = 0;  // 4 KiB aligned, page_table_bytes() long: PML4, PDPT, PDs
  uint64_t gdt_gpa = 0;          // 8 aligned, GDT_BYTES long
  uint64_t tss_gpa = 0;          // TSS_BYTES long
  uint64_t map_bytes = 4ull << 30;  // identity-mapped from 0; rounded up to 1 GiB, at most 512 GiB
  bool use_1g_pages = false;        // only if the vCPU's CPUID has pdpe1gb (cpuid_has_1g_pages)
};

// Bytes of page tables write_long_mode_tables() writes at page_tables_gpa.
uint64_t page_table_bytes(const LongModeLayout& layout);

// True when CPUID 0x80000001 EDX bit 26 (1 GiB pages) is set in `cpuid`.
bool cpuid_has_1g_pages(std::span<const CpuidEntry> cpuid);

// Writes the page tables, the GDT and a zeroed TSS into `ram`. Errors (and writes nothing) when a
// structure does not fit in `ram`, is misaligned, overlaps another, or the map is too large.
Status write_long_mode_tables(std::span<uint8_t> ram, const LongModeLayout& layout);

// A GDT descriptor's 8 bytes from its parts (`flags` = access byte | flags nibble << 12, as
// Firecracker and Linux's GDT_ENTRY write them), and the segment register it describes.
uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
Segment segment_from_gdt_entry(uint64_t entry, uint16_t selector);

// Sets the control registers, EFER, segments, GDT/IDT and TR for long mode with paging through
// layout's tables. Keeps the fields that are not about the mode (apic_base, cr8, the pending
// interrupt bitmap), so start from get_sregs(). The IDT is left empty (limit 0): the guest installs
// its own, and an exception before that triple-faults (a SHUTDOWN exit).
void apply_long_mode_sregs(Sregs& sregs, const LongModeLayout& layout);

// Initial general registers: rip = entry, rsp = stack, rflags = 0x2 (the reserved bit only:
// interrupts off), rdi/rsi = the first two System V arguments, everything else 0.
Regs long_mode_regs(uint64_t entry, uint64_t stack, uint64_t arg0 = 0, uint64_t arg1 = 0);

}  // namespace rrvm::hv
