// The one entry point the machine uses: load whatever kernel the user named into guest RAM and
// say how to start it. The format picks the boot path:
//   ELF with rrvm's note (the rrvm guest)  -> Rrvm64, or Pvh32 with BootProtocol::Pvh
//   other ELF (Linux vmlinux)              -> Linux64, or Pvh32 with BootProtocol::Pvh
//   bzImage ("HdrS" at 0x202)              -> Linux64
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/boot/boot_plan.h"
#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/mmio_layout.h"

namespace rrvm::boot {

enum class BootProtocol {
  Auto,  // as above
  Pvh,   // the 32-bit PVH entry of an ELF with Xen's PHYS32_ENTRY note
};

struct KernelSpec {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;      // the user's; rrvm guest: cpus= added; Linux: console=ttyS0 if empty
  uint32_t vcpus = 1;
  BootProtocol protocol = BootProtocol::Auto;
  // The machine's virtio-mmio windows, told to the guest the way its boot path can learn them:
  // Linux (bzImage, vmlinux) from ACPI tables; the rrvm guest and PVH kernels from
  // virtio_mmio.device= words appended to the command line.
  std::vector<virtio::MmioSlot> virtio_mmio;
};

// Loads from memory (`kernel` and `initrd` are file contents; names come from the spec's paths).
Result<BootPlan> load_kernel_image(const GuestMemory& mem, std::span<const uint8_t> kernel,
                                   std::span<const uint8_t> initrd, const KernelSpec& spec);

// Reads the files (each at most the guest's RAM size: larger cannot fit) and loads them.
Result<BootPlan> load_kernel(const GuestMemory& mem, const KernelSpec& spec);

// What load_kernel() would refuse about the files alone, checked before any VM exists (so a
// wrong path is named even on a host without KVM): the kernel and initrd can be read and fit in
// `ram_bytes`, and the kernel starts like an ELF executable or a bzImage. Same errors as
// load_kernel(); reads only the kernel's first page.
Status check_kernel_files(const KernelSpec& spec, uint64_t ram_bytes);

}  // namespace rrvm::boot
