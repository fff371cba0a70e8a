// Booting an ELF through an hvm_start_info: the rrvm guest (rrvm's 64-bit entry note, every vCPU
// entering in long mode) or any PVH kernel (Xen's PHYS32_ENTRY note, BSP entering in 32-bit
// protected mode).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/boot/boot_plan.h"
#include "vmm/boot/elf_image.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::boot {

struct PvhBootOptions {
  std::string name;                 // the kernel's name in errors
  std::string cmdline;              // the user's command line
  std::span<const uint8_t> initrd;  // optional; passed as module 0 of hvm_start_info
  uint32_t vcpus = 1;
  EntryMode mode = EntryMode::Rrvm64;  // Rrvm64 (needs the rrvm note) or Pvh32 (the PVH note)
};

// For an ELF with rrvm's note the command line gets `cpus=<vcpus>` when it has no cpus= word (an
// explicit cpus= that disagrees with vcpus is an error: the guest would wait for missing vCPUs).
Result<std::string> rrvm_guest_cmdline(const std::string& user, uint32_t vcpus);

// Loads the ELF and writes command line, initrd module, memory map, hvm_start_info and rrvm's
// GDT/TSS/page tables.
Result<BootPlan> load_pvh_elf(const GuestMemory& mem, std::span<const uint8_t> file, const ElfImage& image,
                              const PvhBootOptions& options);

}  // namespace rrvm::boot
