// Where rrvm puts its boot structures in guest-physical memory (below 1 MiB), shared by every
// boot path. Kernels load at or above HIGH_MEMORY_START, so nothing a kernel file asks for can
// land on these.
//
//   0x00500  GDT (hv::GDT_BYTES)          0x07000  Linux zero page (boot_params)
//   0x00600  TSS (hv::TSS_BYTES)          0x08000  left free: the rrvm guest's AP trampoline
//   0x01000  hvm_start_info                0x09000  page tables (identity map of 4 GiB, 6 pages)
//   0x01040  hvm_modlist_entry (initrd)    0x0f000  boot stack page (Linux entry rsp)
//   0x01100  hvm memmap table              0x20000  command line
//   0x9fc00 .. 0x100000: reserved (EBDA, VGA, ROM), not RAM in the memory map; Linux boots get
//   their ACPI tables in its top 128 KiB, 0xe0000 .. 0x100000 (vmm/boot/acpi/acpi_tables.h)
#pragma once

#include <cstdint>

#include "vmm/hv/x86_long_mode.h"

namespace rrvm::boot {

inline constexpr uint64_t GDT_GPA = 0x500;
inline constexpr uint64_t TSS_GPA = 0x600;
inline constexpr uint64_t START_INFO_GPA = 0x1000;
inline constexpr uint64_t MODLIST_GPA = 0x1040;
inline constexpr uint64_t MEMMAP_GPA = 0x1100;
inline constexpr uint32_t MAX_MEMMAP_ENTRIES = 128;  // 128 * 24 bytes: ends at 0x1d00
inline constexpr uint64_t ZERO_PAGE_GPA = 0x7000;
inline constexpr uint64_t PAGE_TABLES_GPA = 0x9000;
inline constexpr uint64_t BOOT_STACK_TOP = 0xfff0;
inline constexpr uint64_t CMDLINE_GPA = 0x20000;
inline constexpr uint64_t CMDLINE_MAX_BYTES = 0x10000;  // including the NUL; [0x20000, 0x30000)
inline constexpr uint64_t EBDA_START = 0x9fc00;
inline constexpr uint64_t HIGH_MEMORY_START = 0x100000;
// Where Linux scans for the RSDP (besides the EBDA), inside the reserved window above.
inline constexpr uint64_t ACPI_TABLES_GPA = 0xe0000;
inline constexpr uint64_t ACPI_TABLES_END = HIGH_MEMORY_START;
// Identity map for the 64-bit entries: all of the 32-bit space (RAM below the hole, LAPIC, IOAPIC,
// MMIO devices). Boot structures and initrds stay below 4 GiB.
inline constexpr uint64_t IDENTITY_MAP_BYTES = 4ull << 30;

inline hv::LongModeLayout long_mode_layout() {
  return hv::LongModeLayout{.page_tables_gpa = PAGE_TABLES_GPA,
                            .gdt_gpa = GDT_GPA,
                            .tss_gpa = TSS_GPA,
                            .map_bytes = IDENTITY_MAP_BYTES,
                            .use_1g_pages = false};
}

}  // namespace rrvm::boot
