#include "vmm/core/exit_handler.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rrvm::core {
namespace {

// A device that remembers writes and answers reads with a counter.
class ScratchDevice : public BusDevice {
 public:
  std::string name() const override { return "scratch"; }
  void read(uint64_t offset, std::span<uint8_t> data) override {
    reads.push_back(offset);
    for (auto& b : data) b = next++;
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    writes.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
  }
  std::vector<uint64_t> reads;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
  uint8_t next = 0x10;
};

class Requests : public VmRequests {
 public:
  void do_request_shutdown(ShutdownCause cause, int status) override { shutdown = {cause, status}; }
  void do_request_reset(ShutdownCause cause) override { reset = cause; }
  void do_request_vmstop(RunState state, std::string_view reason) override {
    vmstop = state;
    vmstop_reason = reason;
  }
  std::optional<std::pair<ShutdownCause, int>> shutdown;
  std::optional<ShutdownCause> reset;
  std::optional<RunState> vmstop;
  std::string vmstop_reason;
};

class ExitHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pio.insert(0x3f8, 8, dev).ok());
    ASSERT_TRUE(mmio.insert(0xd0000000, 0x1000, dev).ok());
  }
  hv::Exit io(uint64_t port, uint32_t size, bool write, uint32_t count = 1) {
    hv::Exit e;
    e.kind = hv::Exit::Kind::Io;
    e.address = port;
    e.size = size;
    e.count = count;
    e.is_write = write;
    buffer.assign(static_cast<size_t>(size) * count, 0);
    e.data = buffer;
    return e;
  }
  std::shared_ptr<ScratchDevice> dev = std::make_shared<ScratchDevice>();
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  Requests requests;
  ExitContext ctx{1, pio, mmio, requests};
  std::vector<uint8_t> buffer;
};

TEST_F(ExitHandlerTest, PortWriteReachesTheDeviceAtItsOffset) {
  hv::Exit e = io(0x3fb, 1, true);
  buffer[0] = 0x80;
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Continue);
  ASSERT_EQ(dev->writes.size(), 1u);
  EXPECT_EQ(dev->writes[0].first, 3u);
  EXPECT_EQ(dev->writes[0].second, std::vector<uint8_t>{0x80});
}

TEST_F(ExitHandlerTest, PortReadFillsTheExitData) {
  hv::Exit e = io(0x3f8, 2, false);
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Continue);
  EXPECT_EQ(buffer, (std::vector<uint8_t>{0x10, 0x11}));
}

TEST_F(ExitHandlerTest, StringIoRepeatsTheAccessOnTheSamePort) {
  hv::Exit e = io(0x3f8, 1, true, 3);
  buffer = {'a', 'b', 'c'};
  e.data = buffer;
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Continue);
  ASSERT_EQ(dev->writes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dev->writes[i].first, 0u);
    EXPECT_EQ(dev->writes[i].second[0], 'a' + i);
  }
}

TEST_F(ExitHandlerTest, UnclaimedPortReadsAllOnes) {
  hv::Exit e = io(0x80, 4, false);
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Continue);
  EXPECT_EQ(buffer, (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(dev->reads.empty());
}

TEST_F(ExitHandlerTest, MmioGoesToTheMmioBus) {
  hv::Exit e = io(0xd0000070, 4, true);
  e.kind = hv::Exit::Kind::Mmio;
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Continue);
  ASSERT_EQ(dev->writes.size(), 1u);
  EXPECT_EQ(dev->writes[0].first, 0x70u);
}

TEST_F(ExitHandlerTest, MalformedIoIsAnInternalErrorNotACrash) {
  hv::Exit e = io(0x3f8, 4, true);
  e.data = std::span<uint8_t>(buffer.data(), 2);  // shorter than size
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.vmstop, RunState::InternalError);
  EXPECT_NE(requests.vmstop_reason.find("malformed"), std::string::npos);
  EXPECT_TRUE(dev->writes.empty());
  hv::Exit huge = io(0x3f8, 1, false);
  huge.size = 16;  // no x86 access is wider than 8 bytes
  EXPECT_EQ(handle_exit(huge, ctx), ExitAction::Stop);
}

// A device that asks for a reset when written, like the reset control port.
class ResetDevice : public BusDevice {
 public:
  explicit ResetDevice(VmRequests& r) : requests_(r) {}
  std::string name() const override { return "reset"; }
  void read(uint64_t, std::span<uint8_t>) override {}
  void write(uint64_t, std::span<const uint8_t>) override {
    requests_.request_reset(ShutdownCause::GuestReset);
  }

 private:
  VmRequests& requests_;
};

TEST_F(ExitHandlerTest, ADeviceRequestStopsTheVcpuAfterTheAccess) {
  ASSERT_TRUE(pio.insert(0xcf9, 1, std::make_shared<ResetDevice>(requests)).ok());
  hv::Exit e = io(0xcf9, 1, true);
  buffer[0] = 0x06;
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.reset, ShutdownCause::GuestReset);
  // The next, unrelated exit continues: the stop applied to the access that asked for it.
  hv::Exit next = io(0x3f8, 1, true);
  EXPECT_EQ(handle_exit(next, ctx), ExitAction::Continue);
}

TEST_F(ExitHandlerTest, TripleFaultRequestsAGuestReset) {
  hv::Exit e{.kind = hv::Exit::Kind::Shutdown};
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.reset, ShutdownCause::GuestReset);
  EXPECT_FALSE(requests.shutdown);
}

TEST_F(ExitHandlerTest, SystemEvents) {
  hv::Exit off{.kind = hv::Exit::Kind::SystemEvent, .detail = 1};
  EXPECT_EQ(handle_exit(off, ctx), ExitAction::Stop);
  ASSERT_TRUE(requests.shutdown);
  EXPECT_EQ(requests.shutdown->first, ShutdownCause::GuestShutdown);
  hv::Exit reset{.kind = hv::Exit::Kind::SystemEvent, .detail = 2};
  EXPECT_EQ(handle_exit(reset, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.reset, ShutdownCause::GuestReset);
  hv::Exit crash{.kind = hv::Exit::Kind::SystemEvent, .detail = 3};
  EXPECT_EQ(handle_exit(crash, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.vmstop, RunState::GuestPanicked);
  hv::Exit odd{.kind = hv::Exit::Kind::SystemEvent, .detail = 42};
  EXPECT_EQ(handle_exit(odd, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.vmstop, RunState::InternalError);
}

TEST_F(ExitHandlerTest, InternalErrorStopsTheVmWithTheDecodedReason) {
  hv::Exit e{.kind = hv::Exit::Kind::InternalError, .detail = 1, .extra = {0x2, 0xfffff000}};
  EXPECT_EQ(handle_exit(e, ctx), ExitAction::Stop);
  EXPECT_EQ(requests.vmstop, RunState::InternalError);
  EXPECT_NE(requests.vmstop_reason.find("vcpu 1"), std::string::npos);
  EXPECT_NE(requests.vmstop_reason.find("emulation failure (suberror 1)"), std::string::npos)
      << requests.vmstop_reason;
  EXPECT_NE(requests.vmstop_reason.find("0xfffff000"), std::string::npos);
}

TEST_F(ExitHandlerTest, DescribesEverySuberrorAndEntryFailure) {
  EXPECT_NE(describe_exit_error({.kind = hv::Exit::Kind::InternalError, .detail = 2})
                .find("simultaneous exception"),
            std::string::npos);
  EXPECT_NE(describe_exit_error({.kind = hv::Exit::Kind::InternalError, .detail = 3})
                .find("delivery event"),
            std::string::npos);
  EXPECT_NE(describe_exit_error({.kind = hv::Exit::Kind::InternalError, .detail = 4})
                .find("unexpected exit reason"),
            std::string::npos);
  EXPECT_NE(describe_exit_error({.kind = hv::Exit::Kind::InternalError, .detail = 99})
                .find("unknown internal error"),
            std::string::npos);
  EXPECT_EQ(describe_exit_error({.kind = hv::Exit::Kind::FailEntry, .detail = 0x80000021}),
            "VM entry failed, hardware reason 0x80000021");
}

TEST_F(ExitHandlerTest, FailEntryAndUnknownExitsAreInternalErrors) {
  hv::Exit fail{.kind = hv::Exit::Kind::FailEntry, .detail = 7};
  EXPECT_EQ(handle_exit(fail, ctx), ExitAction::Stop);
  EXPECT_NE(requests.vmstop_reason.find("VM entry failed"), std::string::npos);
  hv::Exit other{.kind = hv::Exit::Kind::Other, .detail = 99};
  EXPECT_EQ(handle_exit(other, ctx), ExitAction::Stop);
  EXPECT_NE(requests.vmstop_reason.find("unhandled KVM exit reason 99"), std::string::npos);
}

TEST_F(ExitHandlerTest, HltHaltsAndKicksContinue) {
  EXPECT_EQ(handle_exit({.kind = hv::Exit::Kind::Hlt}, ctx), ExitAction::Halt);
  EXPECT_EQ(handle_exit({.kind = hv::Exit::Kind::Interrupted}, ctx), ExitAction::Continue);
  EXPECT_FALSE(requests.vmstop);
  EXPECT_FALSE(requests.reset);
  EXPECT_FALSE(requests.shutdown);
}

}  // namespace
}  // namespace rrvm::core
