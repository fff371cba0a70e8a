// Shared steps of the boot paths: placing blobs (initrds) high in RAM, writing the command line
// and rrvm's GDT/TSS/page tables.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/hv/x86_long_mode.h"

namespace rrvm::boot {

// The highest 4 KiB-aligned address where `size` bytes fit in RAM below `limit` (exclusive) and
// below 4 GiB, not below `floor`. The error names `what` and says how much room there was.
Result<uint64_t> place_high(const GuestMemory& mem, uint64_t size, uint64_t floor, uint64_t limit,
                            const std::string& what);

// Writes `cmdline` and its NUL at CMDLINE_GPA; error when it is longer than max_len bytes.
Status write_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_len);

// Writes rrvm's long-mode structures (boot_layout.h) into low RAM.
Status write_boot_tables(const GuestMemory& mem, const hv::LongModeLayout& layout);

}  // namespace rrvm::boot
