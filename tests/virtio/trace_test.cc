// What the transport writes into the trace: status writes with old/new, source, verdict and
// reason, under the spans that caused them; backend start/stop; resets; warnings. Records into a
// temporary trace with the real recorder and reads it back with the reader.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <variant>

#include "tests/virtio/virtio_test_rig.h"
#include "trace/reader.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/devices/virtio/blk.h"

namespace rrvm::virtio::testing {
namespace {

using trace::BackendOp;
using trace::EventType;
using trace::RunState;
using trace::StatusSource;

// An event copied out of the reader (its string views die with the chunk).
struct Seen {
  EventType type;
  std::string device;
  uint32_t old_status = 0, new_status = 0;
  StatusSource source = StatusSource::Guest;
  bool accepted = false;
  BackendOp op = BackendOp::Start;
  std::string text;                    // reason or warning text
  std::vector<std::string> backtrace;  // span names, innermost first
};

class VirtioTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "virtio_trace_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".rrtrace";
    auto rec = trace::Recorder::open({.path = path_}, trace::Header{});
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    recorder_ = std::move(rec).value();
    trace::install(recorder_.get());
  }
  void TearDown() override {
    trace::install(nullptr);
    if (recorder_) (void)recorder_->close();
    recorder_.reset();
    std::remove(path_.c_str());
  }

  // Stops recording; returns the status, reset, backend and warning events.
  std::vector<Seen> finish() {
    trace::install(nullptr);
    EXPECT_TRUE(recorder_->close().ok());
    std::vector<Seen> out;
    auto reader = trace::Reader::open(path_);
    EXPECT_TRUE(reader.ok()) << reader.error().describe();
    if (!reader.ok()) return out;
    for (;;) {
      auto e = (*reader)->next();
      EXPECT_TRUE(e.ok()) << e.error().describe();
      if (!e.ok() || *e == nullptr) break;
      Seen s{.type = (*e)->type()};
      if (auto* w = std::get_if<trace::DeviceStatusWrite>(&(*e)->body)) {
        s.device = w->device;
        s.old_status = w->old_status;
        s.new_status = w->new_status;
        s.source = w->source;
        s.accepted = w->accepted;
        s.text = w->reason;
      } else if (auto* b = std::get_if<trace::DeviceBackend>(&(*e)->body)) {
        s.device = b->device;
        s.op = b->op;
        s.text = b->reason;
      } else if (auto* r = std::get_if<trace::DeviceReset>(&(*e)->body)) {
        s.device = r->device;
        s.text = r->reason;
      } else if (auto* w2 = std::get_if<trace::Warning>(&(*e)->body)) {
        s.device = w2->component;
        s.text = w2->text;
      } else {
        continue;
      }
      for (const auto& f : (*reader)->backtrace((*e)->span)) s.backtrace.push_back(f.name);
      out.push_back(std::move(s));
    }
    return out;
  }

  static std::vector<Seen> only(const std::vector<Seen>& all, EventType t) {
    std::vector<Seen> out;
    for (const Seen& s : all) {
      if (s.type == t) out.push_back(s);
    }
    return out;
  }

  std::string path_;
  std::unique_ptr<trace::Recorder> recorder_;
};

TEST_F(VirtioTrace, BootSequenceWithBacktraces) {
  TransportRig rig;
  rig.transport->vm_state_changed(true, RunState::Running);
  {
    trace::Span exit_span("vcpu0 mmio exit");  // what the vCPU loop opens around the access
    ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  }
  auto all = finish();
  auto writes = only(all, EventType::DeviceStatusWrite);
  // vm_state_changed(true) on a device that is not started re-applies nothing (as QEMU).
  ASSERT_EQ(writes.size(), 5u);
  std::vector<uint32_t> seq;
  for (const Seen& w : writes) {
    EXPECT_EQ(w.device, "virtio-test0");
    EXPECT_EQ(w.source, StatusSource::Guest);
    EXPECT_TRUE(w.accepted);
    seq.push_back(w.new_status);
  }
  EXPECT_EQ(seq, (std::vector<uint32_t>{0, 1, 3, 11, 15}));
  EXPECT_EQ(writes[4].old_status, 11u);
  EXPECT_EQ(writes[4].text, "activated");
  EXPECT_EQ(writes[4].backtrace, (std::vector<std::string>{"virtio_set_status", "virtio_mmio_write",
                                                           "vcpu0 mmio exit"}));
  // DRIVER_OK starts the backend inside the same status write (QEMU: vhost start under
  // virtio_set_status).
  auto backend = only(all, EventType::DeviceBackend);
  ASSERT_EQ(backend.size(), 1u);
  EXPECT_EQ(backend[0].op, BackendOp::Start);
  EXPECT_EQ(backend[0].backtrace, writes[4].backtrace);
  // The initial status write of 0 is a reset.
  EXPECT_EQ(only(all, EventType::DeviceReset).size(), 1u);
}

TEST_F(VirtioTrace, RefusedWritesCarryTheirReason) {
  TransportRig rig;
  MmioDriver& d = rig.driver;
  d.set_status(STATUS_ACKNOWLEDGE);
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  d.write_driver_features(0);  // no VERSION_1
  d.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  auto all = finish();
  auto writes = only(all, EventType::DeviceStatusWrite);
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_FALSE(writes[1].accepted);
  EXPECT_EQ(writes[1].old_status, 1u);
  EXPECT_EQ(writes[1].new_status, 7u) << "a refused event shows what the driver tried";
  EXPECT_NE(writes[1].text.find("DRIVER_OK without FEATURES_OK"), std::string::npos);
  EXPECT_FALSE(writes[3].accepted);
  EXPECT_NE(writes[3].text.find("FEATURES_OK refused: VIRTIO_F_VERSION_1"), std::string::npos);
  // The illegal write is also a warning; a refused FEATURES_OK is legal negotiation, not one.
  auto warnings = only(all, EventType::Warning);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].text.find("refused status write ACKNOWLEDGE -> "), std::string::npos);
}

TEST_F(VirtioTrace, FailedActivationSetsNeedsReset) {
  TransportRig rig;
  QueueLayout q;
  q.avail = TEST_RAM_BYTES + 0x1000;
  rig.driver.bring_up(q);
  auto writes = only(finish(), EventType::DeviceStatusWrite);
  ASSERT_FALSE(writes.empty());
  const Seen& last = writes.back();
  EXPECT_TRUE(last.accepted);
  EXPECT_EQ(last.old_status, 11u);
  EXPECT_EQ(last.new_status, STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  EXPECT_NE(last.text.find("activation failed: queue 0: avail ring"), std::string::npos)
      << last.text;
}

TEST_F(VirtioTrace, StopAndContUnderTheRunStateSpan) {
  TransportRig rig;
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  {
    trace::Span stop("vm_stop");
    rig.transport->vm_state_changed(false, RunState::Paused);
  }
  {
    trace::Span start("vm_start");
    rig.transport->vm_state_changed(true, RunState::Running);
  }
  auto all = finish();
  std::vector<Seen> around;
  for (const Seen& s : all) {
    if (!s.backtrace.empty() && s.backtrace.back().rfind("vm_st", 0) == 0) around.push_back(s);
  }
  ASSERT_EQ(around.size(), 4u);
  // Stop: QEMU's re-applied status (a Vmm write, never mistaken for the guest's), then the stop.
  EXPECT_EQ(around[0].type, EventType::DeviceStatusWrite);
  EXPECT_EQ(around[0].source, StatusSource::Vmm);
  EXPECT_EQ(around[0].old_status, 15u);
  EXPECT_EQ(around[0].new_status, 15u);
  EXPECT_EQ(around[1].type, EventType::DeviceBackend);
  EXPECT_EQ(around[1].op, BackendOp::Stop);
  EXPECT_EQ(around[1].text, "VM stopped (paused)");
  EXPECT_EQ(around[1].backtrace, (std::vector<std::string>{"virtio_vmstate_change", "vm_stop"}));
  EXPECT_EQ(around[2].source, StatusSource::Vmm);
  EXPECT_EQ(around[3].op, BackendOp::Start);
  EXPECT_EQ(around[3].backtrace, (std::vector<std::string>{"virtio_vmstate_change", "vm_start"}));
}

TEST_F(VirtioTrace, GuestResetAndHostileChain) {
  TransportRig rig;
  QueueLayout q;
  RingWriter ring(rig.mem, q);
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(q), STATUS_LIVE);
  ring.set_desc(0, 0x50000, 8, DESC_F_WRITE | DESC_F_NEXT, 0);  // loops onto itself
  ring.publish(0);
  rig.driver.notify(0);
  rig.driver.set_status(0);
  auto all = finish();
  auto writes = only(all, EventType::DeviceStatusWrite);
  ASSERT_GE(writes.size(), 2u);
  const Seen& broken = writes[writes.size() - 2];
  EXPECT_EQ(broken.source, StatusSource::Vmm);
  EXPECT_EQ(broken.new_status, STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  EXPECT_NE(broken.text.find("loops"), std::string::npos);
  EXPECT_EQ(broken.backtrace.front(), "virtio_device_needs_reset");
  const Seen& reset = writes.back();
  EXPECT_EQ(reset.source, StatusSource::Guest);
  EXPECT_EQ(reset.old_status, STATUS_LIVE | STATUS_DEVICE_NEEDS_RESET);
  EXPECT_EQ(reset.new_status, 0u);
  auto backend = only(all, EventType::DeviceBackend);
  ASSERT_EQ(backend.size(), 2u);
  EXPECT_EQ(backend[1].op, BackendOp::Stop);
  EXPECT_EQ(backend[1].text, "device needs reset");
  auto warnings = only(all, EventType::Warning);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].text.find("queue 0: descriptor chain from head 0 loops"),
            std::string::npos);
  EXPECT_EQ(only(all, EventType::DeviceReset).size(), 2u);  // bring_up's and the final one
}

TEST_F(VirtioTrace, VmmResetIsNotAGuestWrite) {
  TransportRig rig;
  rig.transport->vm_state_changed(true, RunState::Running);
  ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  rig.transport->reset_by_vmm("system reset");
  auto all = finish();
  auto writes = only(all, EventType::DeviceStatusWrite);
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.back().source, StatusSource::Vmm);
  EXPECT_EQ(writes.back().old_status, 15u);
  EXPECT_EQ(writes.back().new_status, 0u);
  EXPECT_EQ(writes.back().text, "system reset");
  EXPECT_EQ(writes.back().backtrace, (std::vector<std::string>{"virtio_reset"}));
  auto resets = only(all, EventType::DeviceReset);
  ASSERT_EQ(resets.size(), 2u);  // bring_up's and the VMM's
  EXPECT_EQ(resets[1].text, "system reset");
  auto backend = only(all, EventType::DeviceBackend);
  ASSERT_EQ(backend.size(), 2u);
  EXPECT_EQ(backend[1].op, BackendOp::Stop);
}

TEST_F(VirtioTrace, RestoreIsRecordedAsRestore) {
  TransportRig rig;
  ASSERT_EQ(rig.driver.bring_up(QueueLayout{}), STATUS_LIVE);
  MmioTransportState s = rig.transport->save();
  auto restored = VirtioMmioTransport::restore(MmioTransportArgs{TEST_MMIO_BASE, &rig.mem, rig.irq},
                                               std::make_unique<TestDevice>(), s);
  ASSERT_TRUE(restored.ok());
  auto writes = only(finish(), EventType::DeviceStatusWrite);
  ASSERT_FALSE(writes.empty());
  EXPECT_EQ(writes.back().source, StatusSource::Restore);
  EXPECT_EQ(writes.back().old_status, 0u);
  EXPECT_EQ(writes.back().new_status, 15u);
  EXPECT_EQ(writes.back().backtrace.front(), "virtio_restore");
}

// The disk image handover of a migration is recorded as the disk's backend going inactive and
// active again, naming the image and why, under the span of the caller (bdrv_inactivate_all).
TEST_F(VirtioTrace, DiskLockReleaseAndAcquireAreRecorded) {
  const std::string image = path_ + ".img";
  std::ofstream(image, std::ios::binary) << std::string(4096, '\0');
  {
    auto blk = BlkDevice::create(BlkConfig{"virtio-blk0", image, false, ""});
    ASSERT_TRUE(blk.ok()) << blk.error().describe();
    {
      trace::Span span("bdrv_inactivate_all");
      ASSERT_TRUE((*blk)->release_lock("migration completion").ok());
      ASSERT_TRUE((*blk)->release_lock("again").ok());  // not held: nothing to record
    }
    trace::Span span("bdrv_activate_all");
    ASSERT_TRUE((*blk)->acquire_lock("migration failed").ok());
  }
  std::remove(image.c_str());
  auto backend = only(finish(), EventType::DeviceBackend);
  ASSERT_EQ(backend.size(), 2u);
  EXPECT_EQ(backend[0].device, "virtio-blk0");
  EXPECT_EQ(backend[0].op, BackendOp::Stop);
  EXPECT_NE(backend[0].text.find(image), std::string::npos) << backend[0].text;
  EXPECT_NE(backend[0].text.find("lock released (migration completion)"), std::string::npos)
      << backend[0].text;
  EXPECT_EQ(backend[0].backtrace.front(), "bdrv_inactivate_all");
  EXPECT_EQ(backend[1].op, BackendOp::Start);
  EXPECT_NE(backend[1].text.find("exclusive lock taken (migration failed)"), std::string::npos)
      << backend[1].text;
  EXPECT_EQ(backend[1].backtrace.front(), "bdrv_activate_all");
}

}  // namespace
}  // namespace rrvm::virtio::testing
