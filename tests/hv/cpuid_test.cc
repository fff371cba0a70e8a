#include "vmm/hv/cpuid.h"

#include <gtest/gtest.h>

namespace rrvm::hv {
namespace {

// "KVMKVMKVM\0\0\0" as KVM puts it in EBX, ECX, EDX of leaf 0x40000000.
constexpr uint32_t KVM_SIG_EBX = 0x4b4d564b, KVM_SIG_ECX = 0x564b4d56, KVM_SIG_EDX = 0x4d;
constexpr uint32_t KVM_FEATURES = (1u << KVM_FEATURE_CLOCKSOURCE) |
                                  (1u << KVM_FEATURE_CLOCKSOURCE2) |
                                  (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) | (1u << 5);

// A made-up KVM_GET_SUPPORTED_CPUID in the shape KVM produces.
std::vector<CpuidEntry> supported() {
  return {
      {0x0, 0, 0, 0x1f, 0x68747541, 0x444d4163, 0x69746e65},
      // Leaf 1: stepping/family in EAX; EBX with a stale APIC id 0x7f and count 0x02, CLFLUSH 8.
      {0x1, 0, 0, 0x00a10f11, 0x7f020800, 0x81202000, 0x078bfbff},
      {0x7, 0, 1, 0x1, 0x01800002, 0x104, 0x20000000},
      {0xb, 0, 1, 0x1, 0x1, 0x100, 0x99},
      {0xb, 1, 1, 0x4, 0x2, 0x201, 0x99},
      {0x1f, 0, 1, 0x1, 0x1, 0x100, 0x99},
      {0x40000000, 0, 0, 0x40000001, KVM_SIG_EBX, KVM_SIG_ECX, KVM_SIG_EDX},
      {0x40000001, 0, 0, KVM_FEATURES, 0, 0, 0x1},
      {0x80000001, 0, 0, 0x00a10f11, 0x40000000, 0x00400393, 0x23d3fbff},
      {0x8000001e, 0, 0, 0x55, 0x100, 0, 0},
  };
}

const CpuidEntry& get(const std::vector<CpuidEntry>& v, uint32_t f, uint32_t i = 0) {
  const CpuidEntry* e = find_cpuid(v, f, i);
  EXPECT_NE(e, nullptr) << std::hex << f << "." << i;
  static const CpuidEntry none{};
  return e ? *e : none;
}

TEST(VcpuCpuid, SetsApicIdsPerVcpu) {
  auto out = vcpu_cpuid(supported(), 3, 4);
  ASSERT_TRUE(out.ok()) << out.error().describe();
  const CpuidEntry& leaf1 = get(*out, 0x1);
  EXPECT_EQ(leaf1.ebx >> 24, 3u);                 // initial APIC id
  EXPECT_EQ((leaf1.ebx >> 16) & 0xff, 4u);        // logical processors
  EXPECT_EQ(leaf1.ebx & 0xffff, 0x0800u);         // CLFLUSH size and brand index untouched
  EXPECT_TRUE(leaf1.edx & (1u << 28));            // HTT with more than one vCPU
  EXPECT_EQ(get(*out, 0xb, 0).edx, 3u);           // x2APIC id, every subleaf
  EXPECT_EQ(get(*out, 0xb, 1).edx, 3u);
  EXPECT_EQ(get(*out, 0xb, 1).ebx, 2u);           // the rest of the topology leaf kept
  EXPECT_EQ(get(*out, 0x1f, 0).edx, 3u);
  EXPECT_EQ(get(*out, 0x8000001e).eax, 3u);       // AMD extended APIC id
  EXPECT_EQ(get(*out, 0x8000001e).ebx, 0x100u);
}

TEST(VcpuCpuid, SingleVcpuHasNoHtt) {
  auto out = vcpu_cpuid(supported(), 0, 1);
  ASSERT_TRUE(out.ok());
  const CpuidEntry& leaf1 = get(*out, 0x1);
  EXPECT_EQ(leaf1.ebx >> 24, 0u);
  EXPECT_EQ((leaf1.ebx >> 16) & 0xff, 1u);
  EXPECT_FALSE(leaf1.edx & (1u << 28));
}

TEST(VcpuCpuid, KeepsKvmLeavesAndEverythingElse) {
  const auto in = supported();
  auto out = vcpu_cpuid(in, 1, 2);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), in.size());
  const CpuidEntry& sig = get(*out, 0x40000000);
  EXPECT_EQ(sig.eax, 0x40000001u);
  EXPECT_EQ(sig.ebx, KVM_SIG_EBX);
  const CpuidEntry& features = get(*out, 0x40000001);
  EXPECT_EQ(features.eax, KVM_FEATURES);
  EXPECT_EQ(features.edx, 1u);  // KVM hints kept
  for (uint32_t f : {0x0u, 0x7u, 0x80000001u}) {
    const CpuidEntry& a = get(in, f);
    const CpuidEntry& b = get(*out, f);
    EXPECT_EQ(a.eax, b.eax);
    EXPECT_EQ(a.ebx, b.ebx);
    EXPECT_EQ(a.ecx, b.ecx);
    EXPECT_EQ(a.edx, b.edx);
    EXPECT_EQ(a.flags, b.flags);
  }
}

TEST(VcpuCpuid, RefusesCpuidWithoutKvmClock) {
  auto in = supported();
  for (auto& e : in) {
    if (e.function == 0x40000001) e.eax &= ~(1u << KVM_FEATURE_CLOCKSOURCE2);
  }
  auto out = vcpu_cpuid(in, 0, 1);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("KVM_FEATURE_CLOCKSOURCE2"), std::string::npos);

  auto no_leaves = supported();
  std::erase_if(no_leaves, [](const CpuidEntry& e) { return e.function >= 0x40000000 && e.function < 0x40000100; });
  EXPECT_FALSE(vcpu_cpuid(no_leaves, 0, 1).ok());

  auto wrong_sig = supported();
  for (auto& e : wrong_sig) {
    if (e.function == 0x40000000) e.ebx = 0x7263694d;  // "Micr"
  }
  auto bad = vcpu_cpuid(wrong_sig, 0, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("signature"), std::string::npos);
}

TEST(VcpuCpuid, RefusesAVcpuOutsideTheCount) {
  EXPECT_FALSE(vcpu_cpuid(supported(), 2, 2).ok());
  EXPECT_FALSE(vcpu_cpuid(supported(), 0, 0).ok());
}

}  // namespace
}  // namespace rrvm::hv
