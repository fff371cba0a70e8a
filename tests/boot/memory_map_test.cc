#include "vmm/boot/memory_map.h"

#include <gtest/gtest.h>

#include "vmm/boot/boot_layout.h"

namespace rrvm::boot {
namespace {

constexpr uint64_t MIB = 1ull << 20;
constexpr uint64_t GIB = 1ull << 30;

GuestMemory memory(uint64_t size) {
  auto mem = GuestMemory::allocate(size);
  EXPECT_TRUE(mem.ok()) << mem.error().describe();
  return std::move(mem).value();
}

TEST(MemoryMap, SmallGuestHasLowRamLegacyHoleAndHighRam) {
  auto map = build_memory_map(memory(64 * MIB));
  ASSERT_TRUE(map.ok()) << map.error().describe();
  const std::vector<MemoryMapEntry> want = {
      {0, EBDA_START, MemoryType::Ram},
      {EBDA_START, HIGH_MEMORY_START - EBDA_START, MemoryType::Reserved},
      {HIGH_MEMORY_START, 63 * MIB, MemoryType::Ram},
  };
  EXPECT_EQ(*map, want);
}

TEST(MemoryMap, GuestAboveTheHoleContinuesAtFourGiB) {
  // GuestMemory::allocate puts RAM beyond 3 GiB at 4 GiB (the 32-bit MMIO hole in between).
  auto map = build_memory_map(memory(4 * GIB));
  ASSERT_TRUE(map.ok()) << map.error().describe();
  ASSERT_EQ(map->size(), 4u);
  EXPECT_EQ((*map)[2], (MemoryMapEntry{HIGH_MEMORY_START, 3 * GIB - HIGH_MEMORY_START, MemoryType::Ram}));
  EXPECT_EQ((*map)[3], (MemoryMapEntry{4 * GIB, 1 * GIB, MemoryType::Ram}));
}

TEST(MemoryMap, ExactlyOneMiBHasNoHighRam) {
  auto map = build_memory_map(memory(MIB));
  ASSERT_TRUE(map.ok()) << map.error().describe();
  ASSERT_EQ(map->size(), 2u);
  EXPECT_EQ((*map)[1].type, MemoryType::Reserved);
  EXPECT_EQ((*map)[1].addr + (*map)[1].size, HIGH_MEMORY_START);
}

TEST(MemoryMap, LessThanOneMiBIsAnError) {
  auto map = build_memory_map(memory(512 * 1024));
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.error().message.find("at least [0, 1 MiB)"), std::string::npos) << map.error().message;
}

TEST(MemoryMap, LowRamEndStopsBelowTheHole) {
  EXPECT_EQ(low_ram_end(memory(64 * MIB)), 64 * MIB);
  EXPECT_EQ(low_ram_end(memory(4 * GIB)), 3 * GIB);
}

}  // namespace
}  // namespace rrvm::boot
