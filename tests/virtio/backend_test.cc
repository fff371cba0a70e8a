// Backend lifecycle: queues are served only while the VM runs and the device is activated and
// healthy; notifications that arrive meanwhile are served when the backend starts.
#include <gtest/gtest.h>

#include "tests/virtio/virtio_test_rig.h"

namespace rrvm::virtio::testing {
namespace {

using trace::RunState;

void queue_request(RingWriter& ring, uint16_t head) {
  ring.set_desc(head, 0x50000, 8, DESC_F_WRITE);
  ring.publish(head);
}

TEST(Backend, StartsOnlyWhenVmRunsAndDriverIsReady) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);  // VM not started yet (prelaunch)
  EXPECT_FALSE(rig.transport->backend_running());
  queue_request(ring, 0);
  rig.driver.notify(0);
  EXPECT_EQ(rig.device->served.size(), 0u) << "served while the VM was not running";

  rig.transport->vm_state_changed(true, RunState::Running);
  EXPECT_TRUE(rig.transport->backend_running());
  EXPECT_EQ(rig.device->served.size(), 1u) << "the pending notification is served at start";
  EXPECT_EQ(ring.used_idx(), 1);
  EXPECT_EQ(rig.irq->count, 1);
}

TEST(Backend, StopAndStartAroundAPause) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  EXPECT_TRUE(rig.transport->backend_running());

  rig.transport->vm_state_changed(false, RunState::Paused);
  EXPECT_FALSE(rig.transport->backend_running());
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE) << "stopping the backend keeps the guest's status";
  queue_request(ring, 0);
  rig.transport->notify(0);  // e.g. an ioeventfd kick that raced with the stop
  EXPECT_EQ(rig.device->served.size(), 0u);

  rig.transport->vm_state_changed(true, RunState::Running);
  EXPECT_TRUE(rig.transport->backend_running());
  EXPECT_EQ(rig.device->served.size(), 1u);
}

TEST(Backend, KicksBeforeDriverOkAreServedAfterActivation) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, RunState::Running);
  MmioDriver& d = rig.driver;
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  d.write_driver_features(feature_bit(F_VERSION_1));
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  d.setup_queue(0, q);
  queue_request(ring, 0);
  d.notify(0);  // before DRIVER_OK the device must not consume buffers (§3.1.1)
  EXPECT_EQ(rig.device->served.size(), 0u);
  d.set_status(STATUS_LIVE);
  EXPECT_EQ(rig.device->served.size(), 1u);
}

TEST(Backend, ResetStopsTheBackend) {
  TransportRig rig;
  QueueLayout q;
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  rig.driver.set_status(0);
  EXPECT_FALSE(rig.transport->backend_running());
  // A VM restart does not start a device the driver has not set up again.
  rig.transport->vm_state_changed(false, RunState::Paused);
  rig.transport->vm_state_changed(true, RunState::Running);
  EXPECT_FALSE(rig.transport->backend_running());
}

TEST(Backend, BrokenDeviceStaysStoppedAcrossResume) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  ring.publish(99);  // head beyond the queue size
  rig.driver.notify(0);
  ASSERT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  rig.transport->vm_state_changed(false, RunState::Paused);
  rig.transport->vm_state_changed(true, RunState::Running);
  EXPECT_FALSE(rig.transport->backend_running());
  EXPECT_EQ(rig.driver.status(), STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
}

}  // namespace
}  // namespace rrvm::virtio::testing
