#include "vmm/core/guest_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

namespace rrvm {
namespace {

constexpr uint64_t PAGE = GuestMemory::PAGE_SIZE;

bool resident(const GuestMemory& mem, uint64_t gpa) {
  auto s = mem.slice(gpa, PAGE);
  unsigned char vec = 0;
  EXPECT_EQ(::mincore(s->data(), PAGE, &vec), 0);
  return (vec & 1) != 0;
}

TEST(GuestMemoryZero, ZeroesExactlyTheRangeAndGivesWholePagesBack) {
  auto mem = GuestMemory::allocate(1 << 20).value();
  std::vector<uint8_t> ones(16 * PAGE, 0xff);
  ASSERT_TRUE(mem.write(0x10000, ones.data(), ones.size()).ok());
  // From the middle of a page to the middle of another, 10 pages later.
  const uint64_t gpa = 0x10000 + PAGE / 2, len = 10 * PAGE;
  ASSERT_TRUE(mem.zero(gpa, len).ok());
  std::vector<uint8_t> back(ones.size());
  ASSERT_TRUE(mem.read(0x10000, back.data(), back.size()).ok());
  for (uint64_t i = 0; i < back.size(); ++i) {
    uint64_t a = 0x10000 + i;
    ASSERT_EQ(back[i], a >= gpa && a < gpa + len ? 0 : 0xff) << "byte at 0x" << std::hex << a;
  }
  // The reads above faulted zero pages back in; zero again and look before touching anything.
  ASSERT_TRUE(mem.write(0x10000, ones.data(), ones.size()).ok());
  ASSERT_TRUE(mem.zero(gpa, len).ok());
  EXPECT_TRUE(resident(mem, 0x10000)) << "the partial first page is written, not dropped";
  for (uint64_t page = 0x11000; page < 0x10000 + 10 * PAGE; page += PAGE) {
    EXPECT_FALSE(resident(mem, page)) << "whole page 0x" << std::hex << page << " still resident";
  }
}

TEST(GuestMemoryZero, MarksTheRangeDirtyAndRefusesARangeOutsideRam) {
  auto mem = GuestMemory::allocate(1 << 20).value();
  mem.set_dirty_tracking(true);
  ASSERT_TRUE(mem.zero(3 * PAGE + 1, 2 * PAGE).ok());
  auto bits = mem.take_dirty(0);
  EXPECT_EQ(bits.at(0), 0b111000u);  // pages 3, 4 and 5
  EXPECT_FALSE(mem.zero((1 << 20) - PAGE, 2 * PAGE).ok());
  ASSERT_TRUE(mem.zero(0x2000, 0).ok());
}

}  // namespace
}  // namespace rrvm
