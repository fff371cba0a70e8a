// The device-status table of virtio 1.x §2.1/§3.1.1, as check_status_write() implements it.
#include <gtest/gtest.h>

#include "vmm/devices/virtio/status_rules.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

constexpr uint32_t A = STATUS_ACKNOWLEDGE, D = STATUS_DRIVER, FO = STATUS_FEATURES_OK,
                   DO = STATUS_DRIVER_OK, NR = STATUS_DEVICE_NEEDS_RESET, F = STATUS_FAILED;

TEST(StatusRules, LinuxSequenceIsAccepted) {
  uint32_t s = 0;
  for (uint32_t next : {A, A | D, A | D | FO, A | D | FO | DO}) {
    StatusCheck c = check_status_write(s, next);
    EXPECT_EQ(c.verdict, StatusVerdict::Accepted) << s << " -> " << next << ": " << c.reason;
    EXPECT_EQ(c.new_status, next);
    EXPECT_EQ(c.features_ok_added, next == (A | D | FO));
    EXPECT_EQ(c.driver_ok_added, next == (A | D | FO | DO));
    s = c.new_status;
  }
  EXPECT_EQ(s, 15u);
}

TEST(StatusRules, ZeroResetsFromAnyState) {
  for (uint32_t s : {0u, A, A | D, A | D | FO, A | D | FO | DO, A | D | FO | DO | NR, A | F}) {
    EXPECT_EQ(check_status_write(s, 0).verdict, StatusVerdict::Reset) << s;
  }
}

TEST(StatusRules, RewritingTheSameValueIsUnchanged) {
  StatusCheck c = check_status_write(A | D, A | D);
  EXPECT_EQ(c.verdict, StatusVerdict::Unchanged);
  EXPECT_EQ(c.new_status, A | D);
}

struct Illegal {
  uint32_t current;
  uint32_t written;
  const char* reason_part;
};

class StatusRulesIllegal : public ::testing::TestWithParam<Illegal> {};

TEST_P(StatusRulesIllegal, IsRefusedWithAReason) {
  const Illegal& p = GetParam();
  StatusCheck c = check_status_write(p.current, p.written);
  EXPECT_EQ(c.verdict, StatusVerdict::Refused) << p.current << " -> " << p.written;
  EXPECT_NE(c.reason.find(p.reason_part), std::string::npos) << c.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Table, StatusRulesIllegal,
    ::testing::Values(Illegal{0, D, "DRIVER without ACKNOWLEDGE"},
                      Illegal{0, A | D | FO, "FEATURES_OK before DRIVER"},
                      Illegal{A, A | FO, "FEATURES_OK before DRIVER"},
                      Illegal{A | D, A | D | DO, "DRIVER_OK without FEATURES_OK"},
                      Illegal{A | D, A | D | FO | DO, "same write as FEATURES_OK"},
                      Illegal{0, A | D | FO | DO, "FEATURES_OK before DRIVER"},
                      Illegal{A | D, A, "clears DRIVER without a reset"},
                      Illegal{A | D | FO | DO, A | D | FO, "clears DRIVER_OK"},
                      Illegal{A | D | FO, A | D | FO | NR, "set by the device"},
                      Illegal{A | D | FO | DO | NR, A | D | FO | DO | NR | 16, "needs a reset"},
                      Illegal{A | F, A | D | F, "FAILED"},
                      Illegal{A | D, 0x103, "above the 8-bit status"}));

TEST(StatusRules, NeedsResetIsKeptAndMayBeWrittenBack) {
  // The driver may OR FAILED into a status that has DEVICE_NEEDS_RESET, with or without echoing
  // the device's bit; the bit stays either way.
  StatusCheck echo = check_status_write(A | D | FO | DO | NR, A | D | FO | DO | NR | F);
  EXPECT_EQ(echo.verdict, StatusVerdict::Accepted) << echo.reason;
  EXPECT_EQ(echo.new_status, A | D | FO | DO | NR | F);
  StatusCheck omit = check_status_write(A | D | FO | DO | NR, A | D | FO | DO | F);
  EXPECT_EQ(omit.verdict, StatusVerdict::Accepted) << omit.reason;
  EXPECT_EQ(omit.new_status, A | D | FO | DO | NR | F);
}

TEST(StatusRules, FailedMayBeAddedAnyTime) {
  for (uint32_t s : {0u, A, A | D, A | D | FO, A | D | FO | DO}) {
    StatusCheck c = check_status_write(s, s | F);
    EXPECT_EQ(c.verdict, StatusVerdict::Accepted) << s << ": " << c.reason;
  }
}

TEST(StatusRules, AcknowledgeAndDriverTogetherAreInOrder) {
  EXPECT_EQ(check_status_write(0, A | D).verdict, StatusVerdict::Accepted);
}

TEST(StatusRules, ReachableStatuses) {
  for (uint32_t s : {0u, A, A | D, A | D | FO, A | D | FO | DO, A | D | FO | DO | NR, A | D | F, F,
                     A | D | FO | DO | NR | F}) {
    EXPECT_TRUE(is_reachable_status(s)) << s;
  }
  for (uint32_t s : {D, A | FO, A | D | DO, A | D | NR, NR, 16u, 32u, 0x100u, A | D | FO | 16}) {
    EXPECT_FALSE(is_reachable_status(s)) << s;
  }
}

}  // namespace
}  // namespace rrvm::virtio
