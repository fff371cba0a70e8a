// The ioeventfd path: the I/O thread, and a transport whose queue notifications arrive through
// KVM ioeventfds (simulated here by writing the eventfd the fake VM was handed, which is what KVM
// does when the guest writes the queue index to QueueNotify).
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/hv/fake_hv.h"
#include "tests/virtio/virtio_test_rig.h"
#include "vmm/devices/virtio/io_thread.h"

namespace rrvm::virtio::testing {
namespace {

// Polls `done` for up to 10 s (the I/O thread runs asynchronously).
template <typename Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

void kick(int fd) {
  uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

TEST(IoThread, CallsHandlersAndStopsAfterRemove) {
  auto io = IoThread::start("io-test");
  ASSERT_TRUE(io.ok()) << io.error().describe();
  Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::atomic<int> calls{0};
  int fd = efd.get();
  ASSERT_TRUE((*io)
                  ->add(fd,
                        [fd, &calls] {
                          uint64_t v;
                          if (::read(fd, &v, sizeof v) == sizeof v) calls += static_cast<int>(v);
                        })
                  .ok());
  kick(fd);
  EXPECT_TRUE(eventually([&] { return calls == 1; }));
  kick(fd);
  EXPECT_TRUE(eventually([&] { return calls == 2; }));
  ASSERT_TRUE((*io)->remove(fd).ok());
  kick(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 2) << "handler ran after remove()";
  EXPECT_FALSE((*io)->remove(fd).ok()) << "removing twice is an error";
}

// Records what the transport registers with KVM.
class RecordingVm : public hv::testing::FakeVm {
 public:
  Status ioeventfd(const hv::IoEventFd& ev, bool assign) override {
    RRVM_TRY(FakeVm::ioeventfd(ev, assign));
    (assign ? assigned : deassigned).push_back(ev);
    return ok_status();
  }
  std::vector<hv::IoEventFd> assigned, deassigned;
};

TEST(Ioeventfd, NotificationsThroughTheIoThreadAreServed) {
  auto io = IoThread::start("io-test");
  ASSERT_TRUE(io.ok());
  RecordingVm vm;
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  ASSERT_TRUE(rig.transport->attach_ioeventfds(vm, **io).ok());
  ASSERT_EQ(vm.assigned.size(), 1u);
  const hv::IoEventFd& ev = vm.assigned[0];
  EXPECT_EQ(ev.address, TEST_MMIO_BASE + REG_QUEUE_NOTIFY);
  EXPECT_EQ(ev.length, 4u);
  EXPECT_FALSE(ev.pio);
  EXPECT_TRUE(ev.has_datamatch);
  EXPECT_EQ(ev.datamatch, 0u);

  rig.transport->vm_state_changed(true, trace::RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  for (uint16_t i = 0; i < 5; ++i) {
    ring.set_desc(i, 0x50000, 8, DESC_F_WRITE);
    ring.publish(i);
    kick(ev.fd);  // what KVM does for the guest's QueueNotify write
  }
  EXPECT_TRUE(eventually([&] { return rig.transport->requests_served() == 5; }));
  EXPECT_EQ(ring.used_idx(), 5);
  EXPECT_TRUE(eventually([&] { return rig.irq->count >= 1; }));

  rig.transport->detach_ioeventfds();
  ASSERT_EQ(vm.deassigned.size(), 1u);
  EXPECT_EQ(vm.deassigned[0].address, ev.address);
}

TEST(Ioeventfd, FailedRegistrationLeavesNothingBehind) {
  auto io = IoThread::start("io-test");
  ASSERT_TRUE(io.ok());
  RecordingVm vm;
  vm.fail_errno = ENOSPC;
  TransportRig rig;
  Status s = rig.transport->attach_ioeventfds(vm, **io);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, ENOSPC);
  EXPECT_TRUE(vm.assigned.empty());
  // The transport still works through MMIO notifications.
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, trace::RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  ring.set_desc(0, 0x50000, 8, DESC_F_WRITE);
  ring.publish(0);
  rig.driver.notify(0);
  EXPECT_EQ(ring.used_idx(), 1);
}

}  // namespace
}  // namespace rrvm::virtio::testing
