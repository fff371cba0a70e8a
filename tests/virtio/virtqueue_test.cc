// Split virtqueues: well-formed chains are served; hostile ones (addresses outside RAM, huge or
// overflowing lengths, loops, over-long chains, bad indirect tables, a runaway avail idx) are
// refused with an error naming the problem, and through the transport they put the device in
// DEVICE_NEEDS_RESET with a recorded warning. Run under ASan (build-*-asan) as well.
#include <gtest/gtest.h>

#include <functional>

#include "tests/virtio/virtio_test_rig.h"
#include "vmm/devices/virtio/virtqueue.h"

namespace rrvm::virtio::testing {
namespace {

constexpr uint16_t R = 0, W = DESC_F_WRITE, N = DESC_F_NEXT, I = DESC_F_INDIRECT;

// A transport that is running (VM running, driver at DRIVER_OK) with a ring writer on queue 0.
struct LiveRig : TransportRig<TestDevice> {
  explicit LiveRig(uint64_t feature_mask = ~0ull) {
    transport->vm_state_changed(true, trace::RunState::Running);
    EXPECT_EQ(driver.bring_up(q, feature_mask), STATUS_LIVE);
  }
  QueueLayout q;
  RingWriter ring{mem, q};
};

TEST(Virtqueue, ServesAChainAndPublishesTheUsedElement) {
  LiveRig rig;
  rig.device->reply_len = 7;
  uint64_t hdr = rig.ring.alloc(16), out = rig.ring.alloc(64), in = rig.ring.alloc(32);
  rig.ring.set_desc(3, hdr, 16, R | N, 5);
  rig.ring.set_desc(5, out, 64, R | N, 1);
  rig.ring.set_desc(1, in, 32, W);
  rig.ring.publish(3);
  rig.driver.notify(0);

  ASSERT_EQ(rig.device->served.size(), 1u);
  const DescriptorChain& c = rig.device->served[0];
  EXPECT_EQ(c.head, 3);
  ASSERT_EQ(c.readable.size(), 2u);
  EXPECT_EQ(c.readable[0].gpa, hdr);
  EXPECT_EQ(c.readable[1].len, 64u);
  ASSERT_EQ(c.writable.size(), 1u);
  EXPECT_EQ(c.writable[0].gpa, in);
  EXPECT_EQ(c.readable_bytes, 80u);
  EXPECT_EQ(c.writable_bytes, 32u);
  EXPECT_EQ(rig.ring.used_idx(), 1);
  EXPECT_EQ(rig.ring.used(0), (std::pair<uint32_t, uint32_t>{3, 7}));
  EXPECT_EQ(rig.irq->count, 1);
  EXPECT_EQ(rig.driver.read32(REG_INTERRUPT_STATUS), INT_USED_BUFFER);
  EXPECT_EQ(rig.transport->warnings(), 0u);
}

TEST(Virtqueue, OneInterruptPerBatchAndRingWrapAround) {
  LiveRig rig;
  uint64_t buf = rig.ring.alloc(8);
  // 40 requests through a 16-entry ring in batches of 10: indices wrap, every one is served.
  for (int batch = 0; batch < 4; ++batch) {
    for (uint16_t i = 0; i < 10; ++i) {
      rig.ring.set_desc(i, buf, 8, W);
      rig.ring.publish(i);
    }
    rig.driver.notify(0);
  }
  EXPECT_EQ(rig.device->served.size(), 40u);
  EXPECT_EQ(rig.ring.used_idx(), 40);
  EXPECT_EQ(rig.irq->count, 4);
  EXPECT_EQ(rig.transport->requests_served(), 40u);
}

TEST(Virtqueue, DriverCanSuppressInterrupts) {
  LiveRig rig;
  rig.ring.set_avail_flags(AVAIL_F_NO_INTERRUPT);
  rig.ring.set_desc(0, rig.ring.alloc(8), 8, W);
  rig.ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.ring.used_idx(), 1);
  EXPECT_EQ(rig.irq->count, 0);
}

TEST(Virtqueue, IndirectTableIsServed) {
  LiveRig rig;
  uint64_t table = rig.ring.alloc(48);
  uint64_t a = rig.ring.alloc(16), b = rig.ring.alloc(512), s = rig.ring.alloc(1);
  rig.ring.set_table_desc(table, 0, a, 16, R | N, 2);
  rig.ring.set_table_desc(table, 2, b, 512, W | N, 1);
  rig.ring.set_table_desc(table, 1, s, 1, W);
  rig.ring.set_desc(4, table, 48, I);
  rig.ring.publish(4);
  rig.driver.notify(0);
  ASSERT_EQ(rig.device->served.size(), 1u);
  EXPECT_EQ(rig.device->served[0].head, 4);
  EXPECT_EQ(rig.device->served[0].readable_bytes, 16u);
  EXPECT_EQ(rig.device->served[0].writable_bytes, 513u);
  EXPECT_EQ(rig.ring.used(0).first, 4u);
}

TEST(Virtqueue, ChainOfExactlyQueueSizeDescriptorsIsFine) {
  LiveRig rig;
  uint64_t buf = rig.ring.alloc(8);
  for (uint16_t i = 0; i < 16; ++i) rig.ring.set_desc(i, buf, 8, W | (i < 15 ? N : 0), i + 1);
  rig.ring.publish(0);
  rig.driver.notify(0);
  ASSERT_EQ(rig.device->served.size(), 1u);
  EXPECT_EQ(rig.device->served[0].writable.size(), 16u);
  EXPECT_EQ(rig.transport->warnings(), 0u);
}

// --- hostile chains ----------------------------------------------------------------------------

struct Hostile {
  const char* name;
  std::function<void(RingWriter&)> build;  // writes descriptors and publishes
  const char* error_part;                  // expected in the error
  bool indirect_negotiated = true;
};

std::ostream& operator<<(std::ostream& os, const Hostile& h) { return os << h.name; }

// A valid buffer the hostile cases mix in.
constexpr uint64_t GOOD = 0x50000;

const Hostile HOSTILE[] = {
    {"AddressOutsideRam",
     [](RingWriter& r) { r.set_desc(0, TEST_RAM_BYTES + 0x1000, 16, R), r.publish(0); },
     "outside guest RAM"},
    {"HugeLength", [](RingWriter& r) { r.set_desc(0, GOOD, 0xffffffff, W), r.publish(0); },
     "outside guest RAM"},
    {"AddressPlusLengthOverflows",
     [](RingWriter& r) { r.set_desc(0, ~0ull - 8, 0x100, R), r.publish(0); }, "outside guest RAM"},
    {"LoopOfTwo",
     [](RingWriter& r) {
       r.set_desc(0, GOOD, 8, R | N, 1);
       r.set_desc(1, GOOD, 8, R | N, 0);
       r.publish(0);
     },
     "loops"},
    {"SelfLoop", [](RingWriter& r) { r.set_desc(2, GOOD, 8, W | N, 2), r.publish(2); }, "loops"},
    {"NextBeyondQueue", [](RingWriter& r) { r.set_desc(0, GOOD, 8, R | N, 16), r.publish(0); },
     "beyond the queue size"},
    {"HeadBeyondQueue", [](RingWriter& r) { r.publish(40); }, "head descriptor 40"},
    {"AvailIdxJumps",
     [](RingWriter& r) {
       r.set_desc(0, GOOD, 8, W);
       r.publish(0, 17);  // 17 new buffers claimed in a 16-entry queue
     },
     "avail idx jumped"},
    {"ReadableAfterWritable",
     [](RingWriter& r) {
       r.set_desc(0, GOOD, 8, W | N, 1);
       r.set_desc(1, GOOD, 8, R);
       r.publish(0);
     },
     "device-readable buffer after a device-writable one"},
    {"IndirectTableTooLong",
     [](RingWriter& r) {
       uint64_t table = 0x60000;
       for (uint16_t i = 0; i < 17; ++i)
         r.set_table_desc(table, i, GOOD, 8, W | (i < 16 ? N : 0), i + 1);
       r.set_desc(0, table, 17 * 16, I);
       r.publish(0);
     },
     "more than the queue size"},
    {"IndirectLengthNotMultipleOf16",
     [](RingWriter& r) { r.set_desc(0, 0x60000, 40, I), r.publish(0); }, "multiple of 16"},
    {"IndirectEmpty", [](RingWriter& r) { r.set_desc(0, 0x60000, 0, I), r.publish(0); },
     "multiple of 16"},
    {"IndirectTableOutsideRam",
     [](RingWriter& r) { r.set_desc(0, TEST_RAM_BYTES - 16, 32, I), r.publish(0); },
     "indirect table 0x3ffff0+0x20 is outside guest RAM"},
    {"NestedIndirect",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, 0x61000, 16, I);
       r.set_desc(0, 0x60000, 16, I);
       r.publish(0);
     },
     "nested"},
    {"IndirectWithNext",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, GOOD, 8, W);
       r.set_desc(0, 0x60000, 16, I | N, 1);
       r.set_desc(1, GOOD, 8, W);
       r.publish(0);
     },
     "both INDIRECT and NEXT"},
    {"IndirectLoop",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, GOOD, 8, W | N, 1);
       r.set_table_desc(0x60000, 1, GOOD, 8, W | N, 0);
       r.set_desc(0, 0x60000, 32, I);
       r.publish(0);
     },
     "indirect chain loops"},
    {"IndirectNextBeyondTable",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, GOOD, 8, W | N, 2);
       r.set_desc(0, 0x60000, 32, I);
       r.publish(0);
     },
     "beyond the table"},
    {"IndirectEntryOutsideRam",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, 1ull << 40, 8, W);
       r.set_desc(0, 0x60000, 16, I);
       r.publish(0);
     },
     "indirect entry 0: buffer 0x10000000000+0x8 is outside guest RAM"},
    {"IndirectNotNegotiated",
     [](RingWriter& r) {
       r.set_table_desc(0x60000, 0, GOOD, 8, W);
       r.set_desc(0, 0x60000, 16, I);
       r.publish(0);
     },
     "VIRTIO_F_INDIRECT_DESC was not negotiated", false},
};

class HostileChain : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileChain, VirtqueueRefusesItWithANamedError) {
  const Hostile& h = GetParam();
  GuestMemory mem = make_test_ram();
  QueueLayout q;
  RingWriter ring(mem, q);
  Virtqueue vq(16);
  vq.config() = QueueConfig{q.size, true, q.desc, q.avail, q.used};
  ASSERT_TRUE(vq.activate(mem, h.indirect_negotiated).ok());
  h.build(ring);
  DescriptorChain chain;
  Result<bool> popped = vq.pop(chain);
  ASSERT_FALSE(popped.ok()) << h.name << " was accepted";
  EXPECT_NE(popped.error().describe().find(h.error_part), std::string::npos)
      << popped.error().describe();
}

TEST_P(HostileChain, TransportMarksTheDeviceNeedsReset) {
  const Hostile& h = GetParam();
  uint64_t mask = h.indirect_negotiated ? ~0ull : ~feature_bit(F_INDIRECT_DESC);
  LiveRig rig(mask);
  // One good request first: it must complete even though the next one is hostile.
  rig.ring.set_desc(9, GOOD, 8, W);
  rig.ring.publish(9);
  rig.driver.notify(0);
  ASSERT_EQ(rig.device->served.size(), 1u);
  int irqs = rig.irq->count;

  h.build(rig.ring);
  rig.driver.notify(0);
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  EXPECT_EQ(rig.device->served.size(), 1u) << "the hostile chain reached the device";
  EXPECT_EQ(rig.transport->warnings(), 1u);
  EXPECT_EQ(rig.irq->count, irqs + 1) << "config-change interrupt";
  EXPECT_TRUE(rig.driver.read32(REG_INTERRUPT_STATUS) & INT_CONFIG_CHANGE);
  EXPECT_FALSE(rig.transport->backend_running());

  // A broken device serves nothing more until the driver resets it.
  rig.driver.notify(0);
  EXPECT_EQ(rig.device->served.size(), 1u);
  EXPECT_EQ(rig.transport->warnings(), 1u);
  QueueLayout fresh;
  RingWriter ring(rig.mem, fresh);
  ASSERT_EQ(rig.driver.bring_up(fresh, mask), STATUS_LIVE);
  EXPECT_TRUE(rig.transport->backend_running());
  ring.set_desc(0, GOOD, 8, W);
  ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.device->served.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(All, HostileChain, ::testing::ValuesIn(HOSTILE),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Virtqueue, DeviceErrorAlsoNeedsReset) {
  // A device that cannot answer a chain at all (see BlkDevice: no header) breaks the device.
  struct Refusing : TestDevice {
    Result<uint32_t> process(uint16_t, const DescriptorChain&, const GuestMemory&) override {
      return make_error("no header");
    }
  };
  TransportRig<Refusing> rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, trace::RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  ring.set_desc(0, GOOD, 8, W);
  ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  EXPECT_EQ(ring.used_idx(), 0);
}

}  // namespace
}  // namespace rrvm::virtio::testing
