// Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst), as Firecracker and QEMU use it:
// the kernel (bzImage payload or uncompressed vmlinux ELF) in RAM, a zero page (boot_params) with
// the e820 map, the command line and the initrd, and the BSP entered in long mode at startup_64
// with rsi = boot_params. The kernel learns about the machine's devices from ACPI tables
// (vmm/boot/acpi): CPUs, IOAPIC, COM1 and the virtio-mmio windows.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/boot/boot_plan.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/elf_image.h"
#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/mmio_layout.h"

namespace rrvm::boot {

// Used when the user gives no command line: the serial console rrvm emulates.
inline constexpr const char* DEFAULT_LINUX_CMDLINE = "console=ttyS0";
// x86's COMMAND_LINE_SIZE: the limit for a vmlinux, which has no setup header to say.
inline constexpr uint32_t VMLINUX_CMDLINE_SIZE = 2048;
// Linux's CONFIG_PHYSICAL_ALIGN default, reported for a vmlinux as Firecracker does.
inline constexpr uint32_t VMLINUX_KERNEL_ALIGNMENT = 0x1000000;

struct LinuxBootOptions {
  std::string name;                 // the kernel's name in errors
  std::string cmdline;              // empty: DEFAULT_LINUX_CMDLINE
  std::span<const uint8_t> initrd;  // optional
  uint32_t vcpus = 1;
  // Described in the DSDT; no virtio_mmio.device= words are added to the command line, so a
  // kernel built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES does not register them twice (QEMU's
  // microvm also passes the words only with ACPI off).
  std::span<const virtio::MmioSlot> virtio_mmio;
};

Result<BootPlan> load_bzimage(const GuestMemory& mem, std::span<const uint8_t> file, const BzImage& bz,
                              const LinuxBootOptions& options);

// An uncompressed vmlinux: segments at their physical addresses, entry at e_entry (physical).
Result<BootPlan> load_vmlinux(const GuestMemory& mem, std::span<const uint8_t> file, const ElfImage& image,
                              const LinuxBootOptions& options);

// The zero page for `hdr` (the image's setup header, or one made up for a vmlinux) and the plan's
// command line, initrd, memory map and RSDP address. Pure: exposed for tests.
Result<linux_abi::BootParams> make_boot_params(const linux_abi::SetupHeader& hdr, const BootPlan& plan);

}  // namespace rrvm::boot
