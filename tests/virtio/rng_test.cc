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

TEST(Rng, ReadableBufferNeedsReset) {
  RngRig rig;
  rig.ring.set_desc(0, rig.ring.alloc(16), 16, 0);
  rig.ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
}

}  // namespace
}  // namespace rrvm::virtio::testing
