// virtio-rng: entropy into device-writable buffers, capped per request; readable buffers break
// the device.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/virtio/virtio_test_rig.h"
#include "vmm/devices/virtio/rng.h"

namespace rrvm::virtio::testing {
namespace {

struct RngRig : TransportRig<RngDevice> {
  RngRig() {
    transport->vm_state_changed(true, trace::RunState::Running);
    EXPECT_EQ(driver.bring_up(q), STATUS_LIVE);
  }
  std::vector<uint8_t> bytes(uint64_t gpa, size_t n) {
    std::vector<uint8_t> v(n);
    RRVM_CHECK(mem.read(gpa, v.data(), n).ok());
    return v;
  }
  QueueLayout q;
  RingWriter ring{mem, q};
};

TEST(Rng, FillsTheBuffersWithEntropy) {
  RngRig rig;
  EXPECT_EQ(rig.driver.read32(REG_DEVICE_ID), DEVICE_ID_ENTROPY);
  uint64_t a = rig.ring.alloc(32), b = rig.ring.alloc(32);
  rig.ring.set_desc(0, a, 32, DESC_F_WRITE | DESC_F_NEXT, 1);
  rig.ring.set_desc(1, b, 32, DESC_F_WRITE);
  rig.ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.ring.used(0), (std::pair<uint32_t, uint32_t>{0, 64}));
  std::vector<uint8_t> first = rig.bytes(a, 32), second = rig.bytes(b, 32);
  // 32 zero bytes from getrandom has probability 2^-256.
  EXPECT_TRUE(std::any_of(first.begin(), first.end(), [](uint8_t x) { return x != 0; }));
  EXPECT_TRUE(std::any_of(second.begin(), second.end(), [](uint8_t x) { return x != 0; }));
  EXPECT_NE(first, second);
  EXPECT_EQ(rig.irq->count, 1);
}

TEST(Rng, LargeRequestIsCapped) {
  RngRig rig;
  uint64_t big = rig.ring.alloc(256 * 1024);
  rig.ring.set_desc(0, big, 256 * 1024, DESC_F_WRITE);
  rig.ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.ring.used(0).second, RngDevice::MAX_BYTES_PER_REQUEST);
  std::vector<uint8_t> after = rig.bytes(big + RngDevice::MAX_BYTES_PER_REQUEST, 4096);
  EXPECT_TRUE(std::all_of(after.begin(), after.end(), [](uint8_t x) { return x == 0; }))
      << "bytes past the answered length were written";
}

// KVM's dirty log does not see the entropy rrvm writes, so the device marks it for migration:
// both buffers' pages (the first crosses a page boundary) and the used ring's page (0x30000),
// and of a capped request only the pages it filled.
TEST(Rng, MarksTheBuffersItFilledAndTheUsedRing) {
  RngRig rig;
  rig.ring.set_desc(0, 0x60ff0, 32, DESC_F_WRITE | DESC_F_NEXT, 1);
  rig.ring.set_desc(1, 0x80000, 16, DESC_F_WRITE);
  rig.ring.publish(0);
  rig.mem.set_dirty_tracking(true);
  take_dirty_pages(rig.mem);  // the driver's writes above: KVM's log has those
  rig.driver.notify(0);
  EXPECT_EQ(rig.ring.used(0), (std::pair<uint32_t, uint32_t>{0, 48}));
  EXPECT_EQ(take_dirty_pages(rig.mem),
            (std::vector<uint64_t>{rig.q.used, 0x60000, 0x61000, 0x80000}));

  rig.ring.set_desc(0, 0x100000, 256 * 1024, DESC_F_WRITE);
  rig.ring.publish(0);
  take_dirty_pages(rig.mem);
  rig.driver.notify(0);
  EXPECT_EQ(rig.ring.used(1).second, RngDevice::MAX_BYTES_PER_REQUEST);
  std::vector<uint64_t> want{rig.q.used};
  for (uint64_t at = 0; at < RngDevice::MAX_BYTES_PER_REQUEST; at += GuestMemory::PAGE_SIZE) {
    want.push_back(0x100000 + at);
  }
  EXPECT_EQ(take_dirty_pages(rig.mem), want);
}

TEST(Rng, ReadableBufferNeedsReset) {
  RngRig rig;
  rig.ring.set_desc(0, rig.ring.alloc(16), 16, 0);
  rig.ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
}

}  // namespace
}  // namespace rrvm::virtio::testing
