// Persist pattern for the virtio-mmio transport: save() -> restore() round trips, and restore()
// refuses every inconsistent state with an error naming what is wrong.
#include <gtest/gtest.h>

#include "tests/virtio/virtio_test_rig.h"

namespace rrvm::virtio::testing {
namespace {

// A live device that served three requests, saved.
MmioTransportState live_state(TransportRig<TestDevice>& rig, RingWriter& ring,
                              const QueueLayout& q) {
  rig.transport->vm_state_changed(true, trace::RunState::Running);
  EXPECT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  for (uint16_t i = 0; i < 3; ++i) {
    ring.set_desc(i, 0x50000, 8, DESC_F_WRITE);
    ring.publish(i);
  }
  rig.driver.notify(0);
  EXPECT_EQ(ring.used_idx(), 3);
  return rig.transport->save();
}

Result<std::unique_ptr<VirtioMmioTransport>> restore_into(TransportRig<TestDevice>& rig,
                                                          const MmioTransportState& s) {
  return VirtioMmioTransport::restore(MmioTransportArgs{TEST_MMIO_BASE, &rig.mem, rig.irq},
                                      std::make_unique<TestDevice>(), s);
}

TEST(TransportState, RoundTripContinuesWhereItStopped) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  MmioTransportState s = live_state(rig, ring, q);
  EXPECT_EQ(s.status, STATUS_LIVE);
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_EQ(s.queues[0], (VirtqueueState{16, true, q.desc, q.avail, q.used, 3, 3}));
  EXPECT_EQ(s.driver_features, feature_bit(F_VERSION_1) | feature_bit(F_INDIRECT_DESC));

  // The restored transport works on the same guest memory, as after a migration.
  auto restored = restore_into(rig, s);
  ASSERT_TRUE(restored.ok()) << restored.error().describe();
  VirtioMmioTransport& t = **restored;
  EXPECT_EQ(t.save(), s);
  EXPECT_EQ(t.status(), STATUS_LIVE);
  EXPECT_FALSE(t.backend_running()) << "the backend waits for the VM to run";
  t.vm_state_changed(true, trace::RunState::Running);
  EXPECT_TRUE(t.backend_running());
  ring.set_desc(3, 0x50000, 8, DESC_F_WRITE);
  ring.publish(3);
  t.notify(0);
  EXPECT_EQ(ring.used_idx(), 4);
  EXPECT_EQ(ring.used(3).first, 3u);
}

TEST(TransportState, MidNegotiationRoundTrip) {
  TransportRig rig;
  rig.driver.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  rig.driver.write_driver_features(feature_bit(F_VERSION_1));
  rig.driver.write32(REG_QUEUE_SEL, 0);
  rig.driver.write32(REG_QUEUE_NUM, 8);
  MmioTransportState s = rig.transport->save();
  auto restored = restore_into(rig, s);
  ASSERT_TRUE(restored.ok()) << restored.error().describe();
  EXPECT_EQ((*restored)->save(), s);
  MmioDriver d(**restored);
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  EXPECT_EQ(d.status(), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
}

struct Corruption {
  const char* name;
  void (*corrupt)(MmioTransportState&);
  const char* error_part;
};

std::ostream& operator<<(std::ostream& os, const Corruption& c) { return os << c.name; }

const Corruption CORRUPTIONS[] = {
    {"DeviceId", [](MmioTransportState& s) { s.device_id = 2; }, "device id 2"},
    {"QueueCount", [](MmioTransportState& s) { s.queues.push_back(s.queues[0]); }, "2 queues"},
    {"UnreachableStatus", [](MmioTransportState& s) { s.status = 0x07; }, "not a status"},
    {"UndefinedStatusBits", [](MmioTransportState& s) { s.status = 0x20 | 15; }, "not a status"},
    {"InterruptBits", [](MmioTransportState& s) { s.interrupt_status = 4; }, "interrupt status"},
    {"FeatureNotOffered", [](MmioTransportState& s) { s.driver_features |= feature_bit(5); },
     "does not offer"},
    {"NoVersion1", [](MmioTransportState& s) { s.driver_features = 0; }, "VIRTIO_F_VERSION_1"},
    {"QueueSizeNotPowerOfTwo", [](MmioTransportState& s) { s.queues[0].size = 12; },
     "queue 0: size 12"},
    {"QueueSizeAboveMax", [](MmioTransportState& s) { s.queues[0].size = 32; }, "size 32"},
    {"RingOutsideRam", [](MmioTransportState& s) { s.queues[0].device_addr = 1ull << 40; },
     "used ring 0x10000000000"},
    {"MisalignedDescTable", [](MmioTransportState& s) { s.queues[0].desc_addr += 8; },
     "not 16-byte aligned"},
    {"QueueNotReady", [](MmioTransportState& s) { s.queues[0].ready = false; }, "not ready"},
    {"InFlight", [](MmioTransportState& s) { s.queues[0].next_avail = 5; }, "in flight"},
    {"PositionsBeforeActivation",
     [](MmioTransportState& s) { s.status = STATUS_ACKNOWLEDGE | STATUS_DRIVER; }, "not activated"},
};

class TransportStateCorrupt : public ::testing::TestWithParam<Corruption> {};

TEST_P(TransportStateCorrupt, IsRefusedWithAClearError) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  MmioTransportState s = live_state(rig, ring, q);
  GetParam().corrupt(s);
  auto restored = restore_into(rig, s);
  ASSERT_FALSE(restored.ok()) << GetParam().name << " was accepted";
  std::string msg = restored.error().describe();
  EXPECT_NE(msg.find(GetParam().error_part), std::string::npos) << msg;
  EXPECT_NE(msg.find("restoring virtio-test0 at 0xd0000000"), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(All, TransportStateCorrupt, ::testing::ValuesIn(CORRUPTIONS),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TransportState, DeviceThatFailsToActivateIsRefused) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  MmioTransportState s = live_state(rig, ring, q);
  auto dev = std::make_unique<TestDevice>();
  dev->fail_activation = true;
  auto restored = VirtioMmioTransport::restore(MmioTransportArgs{TEST_MMIO_BASE, &rig.mem, rig.irq},
                                               std::move(dev), s);
  ASSERT_FALSE(restored.ok());
  EXPECT_NE(restored.error().describe().find("refuses to activate"), std::string::npos);
}

}  // namespace
}  // namespace rrvm::virtio::testing
