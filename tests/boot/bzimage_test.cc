#include "vmm/boot/bzimage.h"

#include <gtest/gtest.h>

#include "tests/boot/fake_bzimage.h"

namespace rrvm::boot {
namespace {

using testing::FakeBzImage;
using testing::val;

Result<BzImage> parse(const FakeBzImage& fake) {
  const std::vector<uint8_t> file = fake.build();
  return parse_bzimage(file, "bz");
}

void expect_error(const FakeBzImage& fake, const std::string& fragment) {
  auto r = parse(fake);
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.rfind("bz: ", 0), 0u) << "errors name the image: " << r.error().message;
}

TEST(BzImage, GoodImageParses) {
  FakeBzImage fake;
  auto bz = parse(fake);
  ASSERT_TRUE(bz.ok()) << bz.error().describe();
  EXPECT_EQ(bz->protocol, 0x20f);
  EXPECT_EQ(bz->setup_bytes, 5u * 512);
  EXPECT_EQ(bz->kernel_offset, 5u * 512);
  EXPECT_EQ(bz->kernel_size, fake.kernel_bytes);
  EXPECT_EQ(bz->load_gpa, 0x1000000u);
  EXPECT_EQ(bz->init_size, 0x300000u);
  EXPECT_EQ(val(bz->hdr.cmdline_size), 2047u);
}

TEST(BzImage, ZeroSetupSectsMeansFour) {
  FakeBzImage fake;
  fake.setup_sects = 0;
  auto bz = parse(fake);
  ASSERT_TRUE(bz.ok()) << bz.error().describe();
  EXPECT_EQ(bz->setup_bytes, 5u * 512);
}

TEST(BzImage, InitSizeIsAtLeastTheKernel) {
  FakeBzImage fake;
  fake.init_size = 100;
  auto bz = parse(fake);
  ASSERT_TRUE(bz.ok()) << bz.error().describe();
  EXPECT_EQ(bz->init_size, fake.kernel_bytes);
}

TEST(BzImage, OldProtocolWithoutPrefAddressLoadsAtOneMiB) {
  FakeBzImage fake;
  fake.pref_address = 0;
  auto bz = parse(fake);
  ASSERT_TRUE(bz.ok()) << bz.error().describe();
  EXPECT_EQ(bz->load_gpa, 0x100000u);
}

TEST(BzImage, MissingMagic) {
  FakeBzImage fake;
  fake.magic = 0x12345678;
  expect_error(fake, "no \"HdrS\"");
}

TEST(BzImage, TooShortForAHeader) {
  const std::vector<uint8_t> tiny(0x100, 0);
  auto r = parse_bzimage(tiny, "bz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a bzImage"), std::string::npos);
}

TEST(BzImage, BadBootFlag) {
  FakeBzImage fake;
  fake.boot_flag = 0x1234;
  expect_error(fake, "boot flag");
}

TEST(BzImage, ProtocolOlderThan206) {
  FakeBzImage fake;
  fake.version = 0x205;
  expect_error(fake, "2.05 is older than the 2.06");
}

TEST(BzImage, ZImageLoadedLow) {
  FakeBzImage fake;
  fake.loadflags = 0;
  expect_error(fake, "zImage");
}

TEST(BzImage, NoSixtyFourBitEntryFlag) {
  FakeBzImage fake;
  fake.xloadflags = linux_abi::XLF_CAN_BE_LOADED_ABOVE_4G;
  expect_error(fake, "no 64-bit entry point");
}

TEST(BzImage, ProtocolWithoutXloadflags) {
  FakeBzImage fake;
  fake.version = 0x20a;
  expect_error(fake, "this is 2.10");
}

TEST(BzImage, SetupLargerThanFile) {
  FakeBzImage fake;
  fake.setup_sects = 200;
  fake.kernel_bytes = 0;
  fake.syssize_bytes = 0;
  expect_error(fake, "no kernel after it");
}

TEST(BzImage, TruncatedPayload) {
  FakeBzImage fake;
  fake.syssize_bytes = fake.kernel_bytes + 4096;
  expect_error(fake, "truncated");
}

TEST(BzImage, AlignmentNotPowerOfTwo) {
  FakeBzImage fake;
  fake.kernel_alignment = 0x300000;
  expect_error(fake, "not a power of two");
}

TEST(BzImage, PrefAddressNotAligned) {
  FakeBzImage fake;
  fake.pref_address = 0x1100000;
  fake.kernel_alignment = 0x1000000;
  expect_error(fake, "not aligned to kernel_alignment");
}

TEST(BzImage, HeaderLengthBeyondFile) {
  FakeBzImage fake;
  std::vector<uint8_t> file = fake.build();
  file.resize(0x210);  // keeps the magic, cuts the header the jump says is there
  auto r = parse_bzimage(file, "bz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("runs past the end"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace rrvm::boot
