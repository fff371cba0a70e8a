// GuestMemory's host-side dirty tracking, which live migration ORs into KVM's dirty log: rrvm's
// own writes into guest RAM (GuestMemory::write, the used ring) mark their pages, only while
// tracking is on. The devices' writes are checked in blk_test.cc and rng_test.cc.
#include <gtest/gtest.h>

#include "tests/virtio/virtio_test_rig.h"
#include "vmm/devices/virtio/virtqueue.h"

namespace rrvm::virtio::testing {
namespace {

TEST(DirtyTracking, GuestMemoryWriteMarksItsPagesOnlyWhileTracking) {
  GuestMemory mem = make_test_ram();
  std::vector<uint8_t> bytes(4097, 0x5a);
  ASSERT_TRUE(mem.write(0x5000, bytes.data(), 16).ok());
  mem.set_dirty_tracking(true);
  EXPECT_TRUE(take_dirty_pages(mem).empty()) << "a write before tracking started was recorded";

  ASSERT_TRUE(mem.write(0x1fff, bytes.data(), bytes.size()).ok());  // [0x1fff, 0x3000)
  ASSERT_TRUE(mem.write_obj<uint32_t>(TEST_RAM_BYTES - 4, 7).ok());
  EXPECT_EQ(take_dirty_pages(mem),
            (std::vector<uint64_t>{0x1000, 0x2000, TEST_RAM_BYTES - 0x1000}));
  EXPECT_TRUE(take_dirty_pages(mem).empty()) << "taking the marks clears them";

  EXPECT_FALSE(mem.write(TEST_RAM_BYTES - 2, bytes.data(), 4).ok());
  EXPECT_TRUE(take_dirty_pages(mem).empty()) << "a refused write marked pages";

  mem.set_dirty_tracking(false);
  ASSERT_TRUE(mem.write(0x7000, bytes.data(), 16).ok());
  EXPECT_TRUE(take_dirty_pages(mem).empty()) << "a write with tracking off was recorded";

  // A migration that ended left marks behind; the next one starts without them.
  mem.set_dirty_tracking(true);
  ASSERT_TRUE(mem.write(0x7000, bytes.data(), 16).ok());
  mem.set_dirty_tracking(false);
  mem.set_dirty_tracking(true);
  EXPECT_TRUE(take_dirty_pages(mem).empty()) << "turning tracking on kept old marks";
}

TEST(DirtyTracking, WriteAboveTheHoleMarksThePageInTheHighRegion) {
  // 8 MiB with the hole at 4 MiB: the second half of RAM lives at 4 GiB.
  auto mem = GuestMemory::allocate(8ull << 20, 4ull << 20);
  ASSERT_TRUE(mem.ok());
  ASSERT_EQ(mem->regions().size(), 2u);
  mem->set_dirty_tracking(true);
  ASSERT_TRUE(mem->write_obj<uint64_t>((4ull << 30) + 0x2008, 1).ok());
  EXPECT_EQ(take_dirty_pages(*mem), (std::vector<uint64_t>{(4ull << 30) + 0x2000}));
}

// The used element and used->idx are stored through the host view cached at activation, not
// through GuestMemory::write. Here they lie on different pages: idx at the end of one, ring[0] at
// the start of the next.
TEST(DirtyTracking, PushUsedMarksTheElementAndTheIndexPages) {
  GuestMemory mem = make_test_ram();
  Virtqueue vq(16);
  vq.config() = QueueConfig{16, true, 0x10000, 0x20000, 0x30ffc};
  ASSERT_TRUE(vq.activate(mem, false).ok());
  mem.set_dirty_tracking(true);
  vq.push_used(3, 9);
  EXPECT_EQ(mem.read_obj<uint16_t>(0x30ffe).value(), 1);
  EXPECT_EQ(mem.read_obj<uint32_t>(0x31000).value(), 3u);
  EXPECT_EQ(take_dirty_pages(mem), (std::vector<uint64_t>{0x30000, 0x31000}));
}

}  // namespace
}  // namespace rrvm::virtio::testing
