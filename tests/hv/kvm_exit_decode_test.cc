// The KVM backend's exit decoder on made-up kvm_run areas (no KVM needed). This test, like the
// backend, sees <linux/kvm.h> through vmm/hv/kvm/linux_kvm.h.
#include "vmm/hv/kvm/kvm_exit.h"

#include <gtest/gtest.h>

#include <vector>

namespace rrvm::hv::kvm {
namespace {

class RunArea {
 public:
  RunArea() : bytes_(8192, 0) {}
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(bytes_.data()); }
  std::span<uint8_t> span() { return bytes_; }
  uint8_t* at(size_t offset) { return bytes_.data() + offset; }

 private:
  std::vector<uint8_t> bytes_;
};

TEST(KvmExitDecode, PortIoPointsAtItsDataInTheArea) {
  RunArea a;
  a.run().exit_reason = KVM_EXIT_IO;
  a.run().io.direction = KVM_EXIT_IO_OUT;
  a.run().io.size = 2;
  a.run().io.port = 0x3f8;
  a.run().io.count = 3;
  a.run().io.data_offset = 4096;
  auto e = decode_exit(a.span(), 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Exit::Kind::Io);
  EXPECT_EQ(e->address, 0x3f8u);
  EXPECT_EQ(e->size, 2u);
  EXPECT_EQ(e->count, 3u);
  EXPECT_TRUE(e->is_write);
  EXPECT_EQ(e->data.data(), a.at(4096));
  EXPECT_EQ(e->data.size(), 6u);
}

TEST(KvmExitDecode, PortIoDataOutsideTheAreaIsAnError) {
  RunArea a;
  a.run().exit_reason = KVM_EXIT_IO;
  a.run().io.direction = KVM_EXIT_IO_IN;
  a.run().io.size = 4;
  a.run().io.count = 2;
  a.run().io.data_offset = 8190;
  auto e = decode_exit(a.span(), 2);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("KVM_RUN (vcpu 2)"), std::string::npos);
  a.run().io.data_offset = 0xffffffffffffull;
  EXPECT_FALSE(decode_exit(a.span(), 2).ok());
}

TEST(KvmExitDecode, MmioReadIsCappedAtEightBytes) {
  RunArea a;
  a.run().exit_reason = KVM_EXIT_MMIO;
  a.run().mmio.phys_addr = 0xd0000010;
  a.run().mmio.len = 200;  // impossible; must not widen the span
  a.run().mmio.is_write = 0;
  auto e = decode_exit(a.span(), 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Exit::Kind::Mmio);
  EXPECT_EQ(e->address, 0xd0000010u);
  EXPECT_EQ(e->size, 8u);
  EXPECT_FALSE(e->is_write);
  EXPECT_EQ(e->data.data(), a.run().mmio.data);
}

TEST(KvmExitDecode, InternalErrorKeepsSuberrorAndCappedData) {
  RunArea a;
  a.run().exit_reason = KVM_EXIT_INTERNAL_ERROR;
  a.run().internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
  a.run().internal.ndata = 1000;
  for (int i = 0; i < 16; ++i) a.run().internal.data[i] = 100 + i;
  auto e = decode_exit(a.span(), 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Exit::Kind::InternalError);
  EXPECT_EQ(e->detail, 1u);
  ASSERT_EQ(e->extra.size(), 16u);
  EXPECT_EQ(e->extra[15], 115u);
}

TEST(KvmExitDecode, FailEntrySystemEventAndTheRest) {
  RunArea a;
  a.run().exit_reason = KVM_EXIT_FAIL_ENTRY;
  a.run().fail_entry.hardware_entry_failure_reason = 0x80000021;
  a.run().fail_entry.cpu = 1;
  auto fail = decode_exit(a.span(), 0);
  ASSERT_TRUE(fail.ok());
  EXPECT_EQ(fail->kind, Exit::Kind::FailEntry);
  EXPECT_EQ(fail->detail, 0x80000021u);
  EXPECT_EQ(fail->extra, (std::vector<uint64_t>{0x80000021, 1}));

  a.run().exit_reason = KVM_EXIT_SYSTEM_EVENT;
  a.run().system_event.type = KVM_SYSTEM_EVENT_RESET;
  a.run().system_event.ndata = 1;
  a.run().system_event.data[0] = 7;
  auto ev = decode_exit(a.span(), 0);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->kind, Exit::Kind::SystemEvent);
  EXPECT_EQ(ev->detail, unsigned(KVM_SYSTEM_EVENT_RESET));
  EXPECT_EQ(ev->extra, (std::vector<uint64_t>{7}));

  const std::pair<uint32_t, Exit::Kind> simple[] = {{KVM_EXIT_HLT, Exit::Kind::Hlt},
                                                    {KVM_EXIT_SHUTDOWN, Exit::Kind::Shutdown},
                                                    {KVM_EXIT_INTR, Exit::Kind::Interrupted},
                                                    {KVM_EXIT_DEBUG, Exit::Kind::Other}};
  for (auto [reason, kind] : simple) {
    a.run().exit_reason = reason;
    auto e = decode_exit(a.span(), 0);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->kind, kind) << reason;
  }
  a.run().exit_reason = 9999;
  auto other = decode_exit(a.span(), 0);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->kind, Exit::Kind::Other);
  EXPECT_EQ(other->detail, 9999u);
}

}  // namespace
}  // namespace rrvm::hv::kvm
