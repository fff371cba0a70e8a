#include <gtest/gtest.h>

#include <optional>

#include "vmm/devices/debug_exit.h"
#include "vmm/devices/reset_port.h"

namespace rrvm::devices {
namespace {

class Requests : public core::VmRequests {
 public:
  void do_request_shutdown(core::ShutdownCause cause, int status) override {
    shutdown = {cause, status};
  }
  void do_request_reset(core::ShutdownCause cause) override { reset = cause; }
  void do_request_vmstop(core::RunState, std::string_view) override {}
  std::optional<std::pair<core::ShutdownCause, int>> shutdown;
  std::optional<core::ShutdownCause> reset;
};

TEST(DebugExit, WriteEndsTheVmWithThatStatus) {
  Requests r;
  DebugExit dev(r);
  const uint8_t three = 3;
  dev.write(0, std::span<const uint8_t>(&three, 1));
  ASSERT_TRUE(r.shutdown);
  EXPECT_EQ(r.shutdown->first, core::ShutdownCause::GuestShutdown);
  EXPECT_EQ(r.shutdown->second, 3);
  uint8_t buf[2] = {0xaa, 0xaa};
  dev.read(0, buf);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[1], 0);
}

TEST(DebugExit, StatusAbove255NeverWrapsToSuccess) {
  Requests r;
  DebugExit dev(r);
  const uint8_t wide[2] = {0x00, 0x01};  // 0x100
  dev.write(0, wide);
  ASSERT_TRUE(r.shutdown);
  EXPECT_EQ(r.shutdown->second, 255);
}

TEST(ResetPort, RstCpuRequestsAResetAndSysRstIsKept) {
  Requests r;
  ResetPort dev(r);
  const uint8_t sys_rst = 0x02;
  dev.write(0, std::span<const uint8_t>(&sys_rst, 1));
  EXPECT_FALSE(r.reset);
  uint8_t v = 0;
  dev.read(0, std::span<uint8_t>(&v, 1));
  EXPECT_EQ(v, 0x02);
  const uint8_t reset = 0x06;
  dev.write(0, std::span<const uint8_t>(&reset, 1));
  EXPECT_EQ(r.reset, core::ShutdownCause::GuestReset);
  EXPECT_FALSE(r.shutdown);
}

}  // namespace
}  // namespace rrvm::devices
