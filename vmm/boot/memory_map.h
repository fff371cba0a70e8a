// The guest's physical memory map as firmware would report it (e820 types), built from guest RAM.
// Linux gets it in boot_params.e820_table, PVH guests in hvm_start_info's memmap.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::boot {

enum class MemoryType : uint32_t { Ram = 1, Reserved = 2, Acpi = 3, Nvs = 4, Unusable = 5 };

struct MemoryMapEntry {
  uint64_t addr;
  uint64_t size;
  MemoryType type;
  bool operator==(const MemoryMapEntry&) const = default;
};

// RAM regions in ascending order, with [EBDA_START, 1 MiB) carved out of RAM and reported as
// reserved (the legacy EBDA/VGA/ROM window, as PC firmware does). Error when guest RAM does not
// cover at least [0, 1 MiB) (rrvm's boot structures and every kernel live there or above).
Result<std::vector<MemoryMapEntry>> build_memory_map(const GuestMemory& mem);

// Highest end address of RAM below 4 GiB (the kernel and initrd must fit under it).
uint64_t low_ram_end(const GuestMemory& mem);

}  // namespace rrvm::boot
