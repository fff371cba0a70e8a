#include "vmm/devices/virtio/mmio_layout.h"

#include <fmt/format.h>

#include <algorithm>

#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

constexpr uint64_t FOUR_GIB = 1ull << 32;

bool overlaps_ram(const GuestMemory& ram, uint64_t base, uint64_t size) {
  for (const RamRegion& r : ram.regions()) {
    if (base < r.gpa + r.size && r.gpa < base + size) return true;
  }
  return false;
}

Status check_options(size_t count, const MmioLayoutOptions& o) {
  if (o.base % GuestMemory::PAGE_SIZE != 0 || o.stride % GuestMemory::PAGE_SIZE != 0) {
    return make_error(
        fmt::format("virtio-mmio base 0x{:x} and stride 0x{:x} must be 4 KiB "
                    "aligned",
                    o.base, o.stride));
  }
  if (o.stride < MMIO_WINDOW_SIZE) {
    return make_error(fmt::format("virtio-mmio stride 0x{:x} is smaller than a window (0x{:x})",
                                  o.stride, MMIO_WINDOW_SIZE));
  }
  if (o.base >= FOUR_GIB || count > (FOUR_GIB - o.base) / o.stride) {
    return make_error(fmt::format("{} virtio-mmio windows of 0x{:x} from 0x{:x} cross 4 GiB", count,
                                  o.stride, o.base));
  }
  return ok_status();
}

}  // namespace

Result<std::vector<MmioSlot>> assign_mmio_slots(size_t count, const GuestMemory* ram,
                                                const MmioLayoutOptions& o) {
  RRVM_TRY(check_options(count, o));
  std::vector<uint32_t> irqs;
  for (uint32_t irq = o.first_irq; irq <= o.last_irq && irqs.size() < count; ++irq) {
    if (std::find(o.reserved_irqs.begin(), o.reserved_irqs.end(), irq) == o.reserved_irqs.end()) {
      irqs.push_back(irq);
    }
  }
  if (irqs.size() < count) {
    return make_error(
        fmt::format("{} virtio devices need {} IRQs; only {} are free between {} and "
                    "{}",
                    count, count, irqs.size(), o.first_irq, o.last_irq));
  }
  std::vector<MmioSlot> slots;
  for (size_t i = 0; i < count; ++i) {
    MmioSlot slot{o.base + i * o.stride, o.stride, irqs[i]};
    if (ram && overlaps_ram(*ram, slot.base, slot.size)) {
      return make_error(
          fmt::format("virtio-mmio window 0x{:x}+0x{:x} overlaps guest RAM", slot.base, slot.size));
    }
    slots.push_back(slot);
  }
  return slots;
}

std::string virtio_mmio_cmdline_entry(const MmioSlot& slot) {
  // Linux parses the size with memparse(), which takes K/M/G suffixes.
  std::string size =
      slot.size % 1024 == 0 ? fmt::format("{}K", slot.size / 1024) : fmt::format("{}", slot.size);
  return fmt::format("virtio_mmio.device={}@0x{:x}:{}", size, slot.base, slot.irq);
}

std::string virtio_mmio_cmdline(std::span<const MmioSlot> slots) {
  std::string out;
  for (const MmioSlot& s : slots) {
    if (!out.empty()) out += ' ';
    out += virtio_mmio_cmdline_entry(s);
  }
  return out;
}

}  // namespace rrvm::virtio
