// virtio-mmio transport: identification, status handling, feature negotiation, access sizes,
// reset and config space, driven through the MMIO window like a guest driver would.
#include <gtest/gtest.h>

#include "tests/virtio/virtio_test_rig.h"

namespace rrvm::virtio::testing {
namespace {

constexpr uint32_t A = STATUS_ACKNOWLEDGE, D = STATUS_DRIVER, FO = STATUS_FEATURES_OK,
                   DO = STATUS_DRIVER_OK, NR = STATUS_DEVICE_NEEDS_RESET;

TEST(MmioTransport, IdentifiesAsModernVirtioMmio) {
  TransportRig rig;
  EXPECT_EQ(rig.driver.read32(REG_MAGIC_VALUE), 0x74726976u);
  EXPECT_EQ(rig.driver.read32(REG_VERSION), 2u);
  EXPECT_EQ(rig.driver.read32(REG_DEVICE_ID), 42u);
  EXPECT_EQ(rig.driver.read32(REG_VENDOR_ID), MMIO_VENDOR_ID);
  EXPECT_EQ(rig.driver.read32(REG_QUEUE_NUM_MAX), 16u);
  EXPECT_EQ(rig.transport->transport_name(), "virtio-mmio@0xd0000000");
  EXPECT_EQ(rig.transport->name(), "virtio-test0");
  EXPECT_EQ(rig.transport->warnings(), 0u);
}

TEST(MmioTransport, LegalSequenceActivates) {
  TransportRig rig;
  QueueLayout q;
  MmioDriver& d = rig.driver;
  std::vector<uint32_t> seen;
  d.set_status(A);
  seen.push_back(d.status());
  d.set_status(A | D);
  seen.push_back(d.status());
  d.write_driver_features(feature_bit(F_VERSION_1));
  d.set_status(A | D | FO);
  seen.push_back(d.status());
  d.setup_queue(0, q);
  d.set_status(A | D | FO | DO);
  seen.push_back(d.status());
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 3, 11, 15}));
  EXPECT_EQ(rig.device->activations, 1);
  EXPECT_EQ(rig.device->activated_features, feature_bit(F_VERSION_1));
  EXPECT_EQ(rig.transport->warnings(), 0u);
  EXPECT_EQ(rig.irq->count, 0);
}

TEST(MmioTransport, IllegalStatusWritesAreRefusedAndLeaveStatusAlone) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.set_status(D);  // DRIVER without ACKNOWLEDGE
  EXPECT_EQ(d.status(), 0u);
  d.set_status(A | D);
  d.set_status(A);  // clears DRIVER
  EXPECT_EQ(d.status(), A | D);
  d.set_status(A | D | DO);  // DRIVER_OK before FEATURES_OK
  EXPECT_EQ(d.status(), A | D);
  d.set_status(A | D | NR);  // the device's bit
  EXPECT_EQ(d.status(), A | D);
  EXPECT_EQ(rig.transport->warnings(), 4u);
  EXPECT_EQ(rig.device->activations, 0);
}

TEST(MmioTransport, FeaturesOkRefusedWithoutVersion1) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.set_status(A | D);
  d.write_driver_features(feature_bit(F_INDIRECT_DESC));  // legacy driver: no VERSION_1
  d.set_status(A | D | FO);
  EXPECT_EQ(d.status(), A | D) << "FEATURES_OK must read back clear";
  // Then DRIVER_OK is refused too.
  d.set_status(A | D | DO);
  EXPECT_EQ(d.status(), A | D);
}

TEST(MmioTransport, FeaturesOkRefusedForBitsNotOffered) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.set_status(A | D);
  d.write_driver_features(feature_bit(F_VERSION_1) | feature_bit(F_EVENT_IDX));  // not offered
  d.set_status(A | D | FO);
  EXPECT_EQ(d.status(), A | D);
  d.write_driver_features(feature_bit(F_VERSION_1));
  d.set_status(A | D | FO);
  EXPECT_EQ(d.status(), A | D | FO);
}

TEST(MmioTransport, FeatureSelectors) {
  TransportRig rig(std::make_unique<TestDevice>(16, feature_bit(3) | feature_bit(40)));
  MmioDriver& d = rig.driver;
  d.write32(REG_DEVICE_FEATURES_SEL, 0);
  EXPECT_EQ(d.read32(REG_DEVICE_FEATURES), (1u << F_INDIRECT_DESC) | (1u << 3));
  d.write32(REG_DEVICE_FEATURES_SEL, 1);
  EXPECT_EQ(d.read32(REG_DEVICE_FEATURES), 1u | (1u << 8));  // bits 32 and 40
  d.write32(REG_DEVICE_FEATURES_SEL, 2);
  EXPECT_EQ(d.read32(REG_DEVICE_FEATURES), 0u);

  d.set_status(A | D);
  d.write32(REG_DRIVER_FEATURES_SEL, 1);
  d.write32(REG_DRIVER_FEATURES, 1);  // VERSION_1
  d.write32(REG_DRIVER_FEATURES_SEL, 0);
  d.write32(REG_DRIVER_FEATURES, 1u << 3);
  d.write32(REG_DRIVER_FEATURES_SEL, 7);
  d.write32(REG_DRIVER_FEATURES, 0xffffffff);  // no bits beyond 63: ignored, warned
  EXPECT_EQ(rig.transport->warnings(), 1u);
  EXPECT_EQ(rig.transport->save().driver_features, feature_bit(F_VERSION_1) | feature_bit(3));
  d.set_status(A | D | FO);
  EXPECT_EQ(d.status(), A | D | FO);
  // Features are frozen once FEATURES_OK is set.
  d.write32(REG_DRIVER_FEATURES_SEL, 0);
  d.write32(REG_DRIVER_FEATURES, 0);
  EXPECT_EQ(rig.transport->save().driver_features, feature_bit(F_VERSION_1) | feature_bit(3));
  EXPECT_EQ(rig.transport->warnings(), 2u);
}

TEST(MmioTransport, ActivationWithQueueOutsideRamNeedsReset) {
  TransportRig rig;
  QueueLayout q;
  q.desc = TEST_RAM_BYTES - 16;  // the table runs past the end of RAM
  EXPECT_EQ(rig.driver.bring_up(q), STATUS_LIVE | NR);
  EXPECT_EQ(rig.irq->count, 1) << "a config-change interrupt tells the driver";
  EXPECT_EQ(rig.driver.read32(REG_INTERRUPT_STATUS), INT_CONFIG_CHANGE);
  EXPECT_EQ(rig.device->activations, 0);
  EXPECT_GE(rig.transport->warnings(), 1u);
}

TEST(MmioTransport, ActivationWithInvalidQueueSizeNeedsReset) {
  for (uint16_t size : {uint16_t{0}, uint16_t{12}, uint16_t{32}}) {  // 0, not a power of 2, > max
    TransportRig rig;
    QueueLayout q;
    q.size = size;
    EXPECT_EQ(rig.driver.bring_up(q), STATUS_LIVE | NR) << size;
  }
}

TEST(MmioTransport, ActivationWithMisalignedRingNeedsReset) {
  TransportRig rig;
  QueueLayout q;
  q.used = 0x30002;  // the used ring must be 4-byte aligned
  EXPECT_EQ(rig.driver.bring_up(q), STATUS_LIVE | NR);
}

TEST(MmioTransport, ActivationWithQueueNotReadyNeedsReset) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.set_status(A | D);
  d.write_driver_features(feature_bit(F_VERSION_1));
  d.set_status(A | D | FO);
  d.set_status(STATUS_LIVE);
  EXPECT_EQ(d.status(), STATUS_LIVE | NR);
}

TEST(MmioTransport, DeviceActivationFailureNeedsReset) {
  auto dev = std::make_unique<TestDevice>();
  dev->fail_activation = true;
  TransportRig rig(std::move(dev));
  EXPECT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE | NR);
  EXPECT_EQ(rig.device->activations, 1);
  // Only a reset gets the device going again; then a healthy bring-up works.
  rig.device->fail_activation = false;
  rig.driver.set_status(STATUS_LIVE | NR | 16);  // refused: adds an undefined bit
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | NR);
  EXPECT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
}

TEST(MmioTransport, WrongSizedAndUnalignedRegisterAccessesAreIgnored) {
  TransportRig rig;
  uint8_t one[1] = {A};
  rig.transport->write(REG_STATUS, one);  // 1-byte write of Status
  EXPECT_EQ(rig.driver.status(), 0u);
  uint8_t eight[8] = {A, 0, 0, 0, 0, 0, 0, 0};
  rig.transport->write(REG_STATUS, eight);
  EXPECT_EQ(rig.driver.status(), 0u);
  uint8_t four[4] = {A, 0, 0, 0};
  rig.transport->write(REG_STATUS + 2, four);  // unaligned
  EXPECT_EQ(rig.driver.status(), 0u);

  uint8_t two[2] = {0xee, 0xee};
  rig.transport->read(REG_MAGIC_VALUE, two);
  EXPECT_EQ(two[0], 0);
  EXPECT_EQ(two[1], 0);
  uint8_t unaligned[4] = {0xee, 0xee, 0xee, 0xee};
  rig.transport->read(REG_MAGIC_VALUE + 1, unaligned);
  EXPECT_EQ(unaligned[0], 0);
  EXPECT_EQ(rig.transport->warnings(), 5u);
  EXPECT_EQ(rig.driver.read32(REG_MAGIC_VALUE), MMIO_MAGIC) << "aligned reads still work";
}

TEST(MmioTransport, ReadOnlyWriteOnlyAndUnknownRegisters) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.write32(REG_MAGIC_VALUE, 0);
  d.write32(REG_QUEUE_NUM_MAX, 1024);
  d.write32(REG_INTERRUPT_STATUS, 3);
  d.write32(REG_CONFIG_GENERATION, 9);
  d.write32(0x0f0, 1);  // no register there
  EXPECT_EQ(rig.transport->warnings(), 5u);
  EXPECT_EQ(d.read32(REG_MAGIC_VALUE), MMIO_MAGIC);
  EXPECT_EQ(d.read32(REG_QUEUE_NUM_MAX), 16u);
  EXPECT_EQ(d.read32(REG_CONFIG_GENERATION), 0u);
  EXPECT_EQ(d.read32(REG_QUEUE_SEL), 0u);      // write-only
  EXPECT_EQ(d.read32(REG_INTERRUPT_ACK), 0u);  // write-only
  EXPECT_EQ(d.read32(0x0f0), 0u);
  EXPECT_EQ(rig.transport->warnings(), 8u);
}

TEST(MmioTransport, QueueRegistersFollowQueueSelAndReady) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.write32(REG_QUEUE_SEL, 1);  // the test device has one queue
  EXPECT_EQ(d.read32(REG_QUEUE_NUM_MAX), 0u) << "0 says: no such queue";
  d.write32(REG_QUEUE_NUM, 8);
  EXPECT_EQ(rig.transport->warnings(), 1u);
  QueueLayout q;
  q.size = 8;
  d.setup_queue(0, q);
  EXPECT_EQ(d.read32(REG_QUEUE_READY), 1u);
  d.write32(REG_QUEUE_NUM, 4);  // ignored: the queue is ready
  EXPECT_EQ(rig.transport->save().queues[0].size, 8u);
  EXPECT_EQ(rig.transport->warnings(), 2u);
  d.write32(REG_QUEUE_READY, 0);  // the driver takes the queue down
  EXPECT_EQ(d.read32(REG_QUEUE_READY), 0u);
}

TEST(MmioTransport, ResetClearsEverything) {
  TransportRig rig;
  QueueLayout q;
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  int resets = rig.device->resets;  // bring_up() starts with a reset, as Linux does
  rig.driver.set_status(0);
  EXPECT_EQ(rig.driver.status(), 0u);
  EXPECT_EQ(rig.device->resets, resets + 1);
  MmioTransportState s = rig.transport->save();
  EXPECT_EQ(s.driver_features, 0u);
  EXPECT_EQ(s.interrupt_status, 0u);
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_EQ(s.queues[0], (VirtqueueState{16, false, 0, 0, 0, 0, 0}));
  EXPECT_EQ(rig.driver.read32(REG_QUEUE_READY), 0u);
  // And the device comes up again from scratch.
  EXPECT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  EXPECT_EQ(rig.device->activations, 2);
}

TEST(MmioTransport, ConfigSpaceReadsOfAnySize) {
  TransportRig rig;
  uint8_t b[1];
  rig.transport->read(REG_CONFIG + 3, b);
  EXPECT_EQ(b[0], 0xa3);
  uint8_t w[2];
  rig.transport->read(REG_CONFIG + 5, w);  // config space may be read unaligned
  EXPECT_EQ(w[0], 0xa5);
  EXPECT_EQ(w[1], 0xa6);
  uint8_t q[8];
  rig.transport->read(REG_CONFIG + 4, q);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], 0xa4 + i);
  EXPECT_EQ(rig.transport->warnings(), 0u);

  uint8_t past[4] = {1, 1, 1, 1};
  rig.transport->read(REG_CONFIG + 10, past);  // runs past the 12 bytes of config
  EXPECT_EQ(past[0], 0);
  uint8_t three[3];
  rig.transport->read(REG_CONFIG, three);  // 3 is not an access size
  uint8_t wr[4] = {0, 0, 0, 0};
  rig.transport->write(REG_CONFIG, wr);  // read-only config
  rig.transport->read(REG_CONFIG, b);
  EXPECT_EQ(b[0], 0xa0);
  EXPECT_EQ(rig.transport->warnings(), 3u);
}

TEST(MmioTransport, NotifyForAMissingQueueIsIgnored) {
  TransportRig rig;
  rig.transport->vm_state_changed(true, trace::RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  rig.driver.notify(5);  // the test device has one queue
  rig.transport->notify(0xffffffff);
  EXPECT_EQ(rig.transport->warnings(), 2u);
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE);
}

TEST(MmioTransport, InterruptAckClearsBits) {
  auto dev = std::make_unique<TestDevice>();
  dev->fail_activation = true;
  TransportRig rig(std::move(dev));
  rig.driver.bring_up(QueueLayout{});
  EXPECT_EQ(rig.driver.read32(REG_INTERRUPT_STATUS), INT_CONFIG_CHANGE);
  rig.driver.write32(REG_INTERRUPT_ACK, INT_CONFIG_CHANGE);
  EXPECT_EQ(rig.driver.read32(REG_INTERRUPT_STATUS), 0u);
}

TEST(MmioTransport, VmmResetIsLikeAGuestReset) {
  TransportRig rig;
  ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  int resets = rig.device->resets;
  rig.transport->reset_by_vmm("system reset");
  EXPECT_EQ(rig.driver.status(), 0u);
  EXPECT_EQ(rig.device->resets, resets + 1);
}

}  // namespace
}  // namespace rrvm::virtio::testing
