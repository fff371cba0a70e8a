// Where virtio-mmio devices live in the guest: MMIO windows, IRQs, and the kernel command-line
// entries that tell the guest about them.
//
// Defaults follow Firecracker's x86 layout: windows of 4 KiB from 0xd0000000 (inside the 32-bit
// hole below 4 GiB that GuestMemory::allocate leaves above 3 GiB), IRQs from 5 upward (4 is
// COM1) to 23, the last IOAPIC pin. QEMU's microvm packs 512-byte windows from 0xfeb00000 with
// IRQs from 5 (or 16 with a second IOAPIC); rrvm keeps a page per device so each window could be
// mapped or protected on its own.
//
// The command-line syntax is the one Linux's virtio_mmio module parses
// (drivers/virtio/virtio_mmio.c, vm_cmdline_set) and QEMU's microvm emits:
//   virtio_mmio.device=<size>@<base>:<irq>     e.g. virtio_mmio.device=4K@0xd0000000:5
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::virtio {

struct MmioSlot {
  uint64_t base;
  uint64_t size;
  uint32_t irq;  // GSI / IOAPIC pin

  bool operator==(const MmioSlot&) const = default;
};

struct MmioLayoutOptions {
  uint64_t base = 0xd0000000;
  uint64_t stride = 0x1000;  // also the window size
  uint32_t first_irq = 5;
  uint32_t last_irq = 23;
  std::vector<uint32_t> reserved_irqs;  // IRQs in [first_irq, last_irq] other devices use
};

// Assigns `count` windows and IRQs. Errors: not enough IRQs, windows crossing 4 GiB, a window
// overlapping guest RAM (when `ram` is given), a base or stride not page-aligned, a stride
// smaller than a virtio-mmio window.
Result<std::vector<MmioSlot>> assign_mmio_slots(size_t count, const GuestMemory* ram,
                                                const MmioLayoutOptions& options = {});

// "virtio_mmio.device=4K@0xd0000000:5"
std::string virtio_mmio_cmdline_entry(const MmioSlot& slot);
// The entries for all slots, separated by single spaces ("" for none).
std::string virtio_mmio_cmdline(std::span<const MmioSlot> slots);

}  // namespace rrvm::virtio
