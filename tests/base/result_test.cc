#include "vmm/base/result.h"

#include <gtest/gtest.h>

#include "vmm/base/fd.h"

namespace rrvm {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> doubled(int v) {
  RRVM_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

TEST(Result, CarriesValueOrError) {
  EXPECT_EQ(doubled(4).value(), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), "value -1 is not positive");
}

TEST(Result, DescribeNamesErrno) {
  Error e = errno_error("KVM_RUN", EINTR);
  EXPECT_NE(e.describe().find("KVM_RUN: "), std::string::npos);
  EXPECT_NE(e.describe().find("(errno 4)"), std::string::npos);
  EXPECT_EQ(e.context("vcpu 0").message, "vcpu 0: KVM_RUN");
}

TEST(Result, ValueOnErrorIsABug) {
  Result<int> r = make_error("boom");
  EXPECT_DEATH((void)r.value(), "boom");
}

TEST(Fd, ReadFileNamesPathAndLimit) {
  auto missing = read_file("/nonexistent/rrvm", 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().describe().find("/nonexistent/rrvm"), std::string::npos);
  auto too_big = read_file("/proc/self/exe", 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message.find("more than the 1 allowed"), std::string::npos);
}

}  // namespace
}  // namespace rrvm
