// virtio-mmio windows, IRQs and the virtio_mmio.device= command-line entries.
#include <gtest/gtest.h>

#include "vmm/devices/virtio/mmio_layout.h"

namespace rrvm::virtio {
namespace {

TEST(MmioLayout, DefaultSlotsAndCmdline) {
  auto slots = assign_mmio_slots(3, nullptr);
  ASSERT_TRUE(slots.ok()) << slots.error().describe();
  EXPECT_EQ(*slots,
            (std::vector<MmioSlot>{
                {0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}, {0xd0002000, 0x1000, 7}}));
  EXPECT_EQ(virtio_mmio_cmdline(*slots),
            "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 "
            "virtio_mmio.device=4K@0xd0002000:7");
  EXPECT_EQ(virtio_mmio_cmdline({}), "");
}

TEST(MmioLayout, MicrovmStyleEntry) {
  // QEMU microvm's form: 512-byte windows at 0xfeb00000.
  EXPECT_EQ(virtio_mmio_cmdline_entry(MmioSlot{0xfeb00000, 512, 5}),
            "virtio_mmio.device=512@0xfeb00000:5");
}

TEST(MmioLayout, ReservedIrqsAreSkipped) {
  MmioLayoutOptions o;
  o.reserved_irqs = {6, 8};
  auto slots = assign_mmio_slots(4, nullptr, o);
  ASSERT_TRUE(slots.ok());
  std::vector<uint32_t> irqs;
  for (const auto& s : *slots) irqs.push_back(s.irq);
  EXPECT_EQ(irqs, (std::vector<uint32_t>{5, 7, 9, 10}));
}

TEST(MmioLayout, RunsOutOfIrqs) {
  EXPECT_TRUE(assign_mmio_slots(19, nullptr).ok());  // 5..23
  auto too_many = assign_mmio_slots(20, nullptr);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().describe().find("20 virtio devices need 20 IRQs"), std::string::npos);
}

TEST(MmioLayout, RejectsBadPlacement) {
  MmioLayoutOptions cross;
  cross.base = 0xfffff000;
  EXPECT_FALSE(assign_mmio_slots(2, nullptr, cross).ok());
  MmioLayoutOptions misaligned;
  misaligned.base = 0xd0000800;
  EXPECT_FALSE(assign_mmio_slots(1, nullptr, misaligned).ok());
  MmioLayoutOptions narrow;
  narrow.stride = 0x800;
  EXPECT_FALSE(assign_mmio_slots(1, nullptr, narrow).ok());
}

TEST(MmioLayout, RefusesWindowsOverGuestRam) {
  // RAM up to 3.5 GiB before the hole covers 0xd0000000.
  auto big_low = GuestMemory::allocate(0xe0000000ull, 0xe0000000ull);
  ASSERT_TRUE(big_low.ok());
  auto slots = assign_mmio_slots(1, &*big_low);
  ASSERT_FALSE(slots.ok());
  EXPECT_NE(slots.error().describe().find("overlaps guest RAM"), std::string::npos);
  // With the default 3 GiB hole start, 5 GiB of RAM leaves the windows free.
  auto split = GuestMemory::allocate(5ull << 30);
  ASSERT_TRUE(split.ok());
  EXPECT_TRUE(assign_mmio_slots(4, &*split).ok());
}

}  // namespace
}  // namespace rrvm::virtio
