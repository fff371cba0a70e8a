#include "vmm/hv/msr_set.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/hv/fake_hv.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::hv {
namespace {

using trace::SyncLevel;

// KVM_GET_MSR_INDEX_LIST as an AMD EPYC host under KVM-PVM (Linux 6.18) reported it, in KVM's
// order: a realistic fixture.
const std::vector<uint32_t> HOST_LIST = {
    0x174,      0x175,      0x176,      0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082,
    0x10,       0x277,      0xc0010117, 0x1d9,      0x1db,      0x1dc,      0x1dd,      0x1de,
    0x12,       0x11,       0x4b564d01, 0x4b564d00, 0x4b564d02, 0x4b564d03, 0x4b564d04, 0x4b564d06,
    0x4b564d07, 0x3b,       0x6e0,      0x10a,      0x345,      0x1a0,      0x17a,      0x17b,
    0x34,       0xce,       0x140,      0xc001011f, 0x1fc,      0x8b,       0xc0010015, 0x4b564d05};

bool contains(const std::vector<uint32_t>& v, uint32_t index) {
  return std::find(v.begin(), v.end(), index) != v.end();
}

size_t position(const std::vector<uint32_t>& v, uint32_t index) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), index) - v.begin());
}

TEST(MsrIndexList, SortsDeduplicatesAndFinds) {
  MsrIndexList list({0x20, 0x10, 0x20, 0x4b564d01});
  EXPECT_EQ(list.indices(), (std::vector<uint32_t>{0x10, 0x20, 0x4b564d01}));
  EXPECT_TRUE(list.contains(0x10));
  EXPECT_TRUE(list.contains(0x4b564d01));
  EXPECT_FALSE(list.contains(0x11));
}

TEST(MsrSet, RuntimePutOnHostListIsQemusRuntimeSetThatKvmLists) {
  const auto put = msrs_for_put(SyncLevel::Runtime, MsrIndexList(HOST_LIST));
  // QEMU's runtime order, minus what KVM does not list (TSC_AUX, SPEC_CTRL, ... here).
  const std::vector<uint32_t> expected = {
      msr::IA32_SYSENTER_CS, msr::IA32_SYSENTER_ESP, msr::IA32_SYSENTER_EIP, msr::IA32_PAT,
      msr::STAR,             msr::VM_HSAVE_PA,       msr::IA32_TSC_ADJUST,   msr::IA32_MISC_ENABLE,
      msr::IA32_SMI_COUNT,   msr::VIRT_SSBD,         msr::K7_HWCR,           msr::CSTAR,
      msr::KERNEL_GS_BASE,   msr::FMASK,             msr::LSTAR,             msr::IA32_MCG_STATUS,
      msr::IA32_MCG_CTL};
  EXPECT_EQ(put, expected);
}

TEST(MsrSet, NoneLevelIsRuntime) {
  MsrIndexList kvm(HOST_LIST);
  EXPECT_EQ(msrs_for_put(SyncLevel::None, kvm), msrs_for_put(SyncLevel::Runtime, kvm));
}

TEST(MsrSet, ResetAndFullAddSideEffectMsrsAfterTheRuntimeSet) {
  MsrIndexList kvm(HOST_LIST);
  const auto runtime = msrs_for_put(SyncLevel::Runtime, kvm);
  const auto reset = msrs_for_put(SyncLevel::Reset, kvm);
  EXPECT_EQ(reset, msrs_for_put(SyncLevel::Full, kvm));
  for (uint32_t index : {msr::IA32_TSC, msr::KVM_SYSTEM_TIME_NEW, msr::KVM_WALL_CLOCK_NEW,
                         msr::KVM_ASYNC_PF_EN, msr::KVM_STEAL_TIME, msr::KVM_PV_EOI_EN,
                         msr::KVM_POLL_CONTROL, msr::KVM_ASYNC_PF_INT, msr::KVM_ASYNC_PF_ACK}) {
    EXPECT_FALSE(contains(runtime, index)) << std::hex << index;
    EXPECT_TRUE(contains(reset, index)) << std::hex << index;
  }
  for (uint32_t index : runtime) EXPECT_TRUE(contains(reset, index)) << std::hex << index;
  // QEMU's order: TSC, then kvmclock's system time and wall clock.
  EXPECT_LT(position(reset, msr::LSTAR), position(reset, msr::IA32_TSC));
  EXPECT_LT(position(reset, msr::IA32_TSC), position(reset, msr::KVM_SYSTEM_TIME_NEW));
  EXPECT_LT(position(reset, msr::KVM_SYSTEM_TIME_NEW), position(reset, msr::KVM_WALL_CLOCK_NEW));
  EXPECT_LT(position(reset, msr::KVM_POLL_CONTROL), position(reset, msr::KVM_ASYNC_PF_ACK));
  EXPECT_EQ(reset.back(), msr::IA32_MCG_CTL);
}

TEST(MsrSet, FeatureControlComesFirstAtResetAndFullOnly) {
  MsrIndexList kvm({msr::IA32_FEATURE_CONTROL, msr::IA32_PAT, msr::IA32_TSC});
  EXPECT_EQ(msrs_for_put(SyncLevel::Full, kvm),
            (std::vector<uint32_t>{msr::IA32_FEATURE_CONTROL, msr::IA32_PAT, msr::IA32_TSC}));
  EXPECT_EQ(msrs_for_put(SyncLevel::Runtime, kvm), (std::vector<uint32_t>{msr::IA32_PAT}));
}

TEST(MsrSet, SkipsWhatKvmDoesNotListAndWhatQemuDoesNotSync) {
  // TSC_AUX missing from KVM's list: skipped. DEBUGCTL and PLATFORM_INFO listed: QEMU does not
  // sync them, neither do we. The legacy kvmclock MSRs share state with the _NEW ones: not synced.
  MsrIndexList kvm({msr::IA32_PAT, 0x1d9, 0xce, msr::KVM_SYSTEM_TIME, msr::KVM_WALL_CLOCK});
  EXPECT_EQ(msrs_for_put(SyncLevel::Full, kvm), (std::vector<uint32_t>{msr::IA32_PAT}));
  EXPECT_EQ(msrs_for_get(kvm, true), (std::vector<uint32_t>{msr::IA32_PAT}));
}

TEST(MsrSet, TakesEveryListedMsrOfTheKvmParavirtualRange) {
  const uint32_t unnamed_pv = 0x4b564d42;
  MsrIndexList kvm({unnamed_pv, 0x4b564e00, msr::KVM_SYSTEM_TIME_NEW});
  EXPECT_EQ(msrs_for_put(SyncLevel::Reset, kvm),
            (std::vector<uint32_t>{msr::KVM_SYSTEM_TIME_NEW, unnamed_pv}));
  EXPECT_TRUE(msrs_for_put(SyncLevel::Runtime, kvm).empty());
}

TEST(MsrSet, TscDeadlineIsNeverPutButIsReadLast) {
  MsrIndexList kvm(HOST_LIST);
  EXPECT_TRUE(has_tsc_deadline(kvm));
  EXPECT_FALSE(has_tsc_deadline(MsrIndexList({msr::IA32_PAT})));
  for (SyncLevel level : {SyncLevel::Runtime, SyncLevel::Reset, SyncLevel::Full}) {
    EXPECT_FALSE(contains(msrs_for_put(level, kvm), msr::IA32_TSC_DEADLINE));
  }
  const auto get = msrs_for_get(kvm, true);
  EXPECT_EQ(get.back(), msr::IA32_TSC_DEADLINE);
}

TEST(MsrSet, GetReadsTheFullSetAndTheTscOnlyWhenAsked) {
  MsrIndexList kvm(HOST_LIST);
  auto full = msrs_for_put(SyncLevel::Full, kvm);
  full.push_back(msr::IA32_TSC_DEADLINE);
  EXPECT_EQ(msrs_for_get(kvm, true), full);
  const auto without_tsc = msrs_for_get(kvm, false);
  EXPECT_FALSE(contains(without_tsc, msr::IA32_TSC));
  EXPECT_EQ(without_tsc.size(), full.size() - 1);
}

TEST(MsrSet, PmuIsStoppedWrittenAndRestartedAtResetAndFull) {
  MsrIndexList kvm({msr::IA32_PERFCTR0, msr::IA32_EVNTSEL0, msr::IA32_FIXED_CTR0,
                    msr::IA32_FIXED_CTR_CTRL, msr::IA32_PERF_GLOBAL_CTRL,
                    msr::IA32_PERF_GLOBAL_STATUS});
  const std::vector<MsrEntry> values = {{msr::IA32_PERF_GLOBAL_CTRL, 0x7},
                                        {msr::IA32_FIXED_CTR_CTRL, 0xb},
                                        {msr::IA32_PERFCTR0, 1234},
                                        {msr::IA32_EVNTSEL0, 0x4300c0}};
  const auto entries = msr_put_entries(SyncLevel::Full, kvm, values);
  ASSERT_EQ(entries.size(), 8u);
  // Stop: controls written 0 before anything else.
  EXPECT_EQ(entries[0].index, msr::IA32_FIXED_CTR_CTRL);
  EXPECT_EQ(entries[0].value, 0u);
  EXPECT_EQ(entries[1].index, msr::IA32_PERF_GLOBAL_CTRL);
  EXPECT_EQ(entries[1].value, 0u);
  // Counters and selectors, status, then the controls with their values: restart.
  EXPECT_EQ(entries[2].index, msr::IA32_FIXED_CTR0);
  EXPECT_EQ(entries[3].index, msr::IA32_PERFCTR0);
  EXPECT_EQ(entries[3].value, 1234u);
  EXPECT_EQ(entries[4].index, msr::IA32_EVNTSEL0);
  EXPECT_EQ(entries[5].index, msr::IA32_PERF_GLOBAL_STATUS);
  EXPECT_EQ(entries[6].index, msr::IA32_FIXED_CTR_CTRL);
  EXPECT_EQ(entries[6].value, 0xbu);
  EXPECT_EQ(entries[7].index, msr::IA32_PERF_GLOBAL_CTRL);
  EXPECT_EQ(entries[7].value, 0x7u);
  // RUNTIME leaves the PMU alone.
  EXPECT_TRUE(msr_put_entries(SyncLevel::Runtime, kvm, values).empty());
}

TEST(MsrSet, AmdPmuCountersComeBeforeTheirSelectors) {
  MsrIndexList kvm({msr::F15H_PERF_CTL0, msr::F15H_PERF_CTL0 + 1, msr::K7_EVNTSEL0,
                    msr::K7_PERFCTR0, msr::AMD64_PERF_CNTR_GLOBAL_CTL});
  const auto put = msrs_for_put(SyncLevel::Reset, kvm);
  EXPECT_EQ(put, (std::vector<uint32_t>{msr::K7_PERFCTR0, msr::K7_EVNTSEL0,
                                        msr::F15H_PERF_CTL0 + 1, msr::F15H_PERF_CTL0,
                                        msr::AMD64_PERF_CNTR_GLOBAL_CTL}));
}

TEST(MsrSet, MtrrsAndXfdAreResetLevel) {
  MsrIndexList kvm({msr::IA32_MTRR_DEF_TYPE, msr::IA32_MTRR_PHYSBASE0, msr::IA32_MTRR_PHYSBASE0 + 1,
                    msr::IA32_MTRR_FIX4K_C0000 + 7, msr::IA32_XFD});
  EXPECT_TRUE(msrs_for_put(SyncLevel::Runtime, kvm).empty());
  EXPECT_EQ(msrs_for_put(SyncLevel::Reset, kvm),
            (std::vector<uint32_t>{msr::IA32_MTRR_DEF_TYPE, msr::IA32_MTRR_FIX4K_C0000 + 7,
                                   msr::IA32_MTRR_PHYSBASE0, msr::IA32_MTRR_PHYSBASE0 + 1,
                                   msr::IA32_XFD}));
}

TEST(MsrSet, MissingValuesGetTheirResetValue) {
  EXPECT_EQ(msr_reset_value(msr::IA32_PAT), 0x0007040600070406ull);
  EXPECT_EQ(msr_reset_value(msr::IA32_MISC_ENABLE), 1u);
  EXPECT_EQ(msr_reset_value(msr::KVM_SYSTEM_TIME_NEW), 0u);
  MsrIndexList kvm({msr::IA32_PAT, msr::IA32_SYSENTER_ESP, msr::KVM_SYSTEM_TIME_NEW});
  const auto entries =
      msr_put_entries(SyncLevel::Reset, kvm, std::vector<MsrEntry>{{msr::IA32_SYSENTER_ESP, 0x9000}});
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].index, msr::IA32_SYSENTER_ESP);
  EXPECT_EQ(entries[0].value, 0x9000u);
  EXPECT_EQ(entries[1].index, msr::IA32_PAT);
  EXPECT_EQ(entries[1].value, 0x0007040600070406ull);
  EXPECT_EQ(entries[2].index, msr::KVM_SYSTEM_TIME_NEW);
  EXPECT_EQ(entries[2].value, 0u);
}

std::vector<MsrEntry> numbered_entries(size_t n) {
  std::vector<MsrEntry> out;
  for (size_t i = 0; i < n; ++i) out.push_back({static_cast<uint32_t>(0x1000 + i), i * 3});
  return out;
}

TEST(MsrChunking, PutsInChunksOfAtMostN) {
  testing::FakeVcpu vcpu(0);
  const auto entries = numbered_entries(130);
  ASSERT_TRUE(put_msrs_chunked(vcpu, entries, SyncLevel::Full).ok());
  EXPECT_EQ(vcpu.msr_call_sizes, (std::vector<size_t>{64, 64, 2}));
  EXPECT_EQ(vcpu.msrs.size(), 130u);
  EXPECT_EQ(vcpu.msrs[0x1000 + 129], 129u * 3);

  testing::FakeVcpu small(1);
  ASSERT_TRUE(put_msrs_chunked(small, entries, SyncLevel::Full, 50).ok());
  EXPECT_EQ(small.msr_call_sizes, (std::vector<size_t>{50, 50, 30}));
}

TEST(MsrChunking, EmptyListMakesNoCall) {
  testing::FakeVcpu vcpu(0);
  ASSERT_TRUE(put_msrs_chunked(vcpu, {}, SyncLevel::Runtime).ok());
  auto got = get_msrs_chunked(vcpu, {}, SyncLevel::Runtime);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_TRUE(vcpu.msr_call_sizes.empty());
}

TEST(MsrChunking, ShortPutNamesTheFailedMsrAndStops) {
  testing::FakeVcpu vcpu(3);
  auto entries = numbered_entries(150);
  entries[70].index = msr::IA32_TSC_DEADLINE;
  vcpu.failing_msr = msr::IA32_TSC_DEADLINE;
  Status s = put_msrs_chunked(vcpu, entries, SyncLevel::Full);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().describe(),
            "KVM_SET_MSRS (vcpu 3): processed 70 of 150, failed at MSR 0x6e0 (IA32_TSC_DEADLINE)");
  EXPECT_EQ(vcpu.msr_call_sizes, (std::vector<size_t>{64, 64}));  // the third chunk never ran
}

TEST(MsrChunking, GetsInChunksAndReturnsValuesInOrder) {
  testing::FakeVcpu vcpu(0);
  std::vector<uint32_t> indices;
  for (uint32_t i = 0; i < 70; ++i) {
    indices.push_back(0x2000 + i);
    vcpu.msrs[0x2000 + i] = i + 100;
  }
  auto got = get_msrs_chunked(vcpu, indices, SyncLevel::Runtime, 64);
  ASSERT_TRUE(got.ok()) << got.error().describe();
  ASSERT_EQ(got->size(), 70u);
  EXPECT_EQ((*got)[0].index, 0x2000u);
  EXPECT_EQ((*got)[0].value, 100u);
  EXPECT_EQ((*got)[69].value, 169u);
  EXPECT_EQ(vcpu.msr_call_sizes, (std::vector<size_t>{64, 6}));
}

TEST(MsrChunking, ShortGetNamesTheMsr) {
  testing::FakeVcpu vcpu(1);
  vcpu.msrs = {{msr::IA32_PAT, 1}, {msr::KVM_SYSTEM_TIME_NEW, 2}};
  const std::vector<uint32_t> indices = {msr::IA32_PAT, msr::KVM_SYSTEM_TIME_NEW, 0x12345};
  auto got = get_msrs_chunked(vcpu, indices, SyncLevel::Full);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().describe(),
            "KVM_GET_MSRS (vcpu 1): processed 2 of 3, failed at MSR 0x12345");
}

TEST(MsrChunking, IoctlErrorsPassThrough) {
  testing::FakeVcpu vcpu(0);
  vcpu.fail_errno = EINVAL;
  Status s = put_msrs_chunked(vcpu, numbered_entries(3), SyncLevel::Runtime);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EINVAL);
  EXPECT_NE(s.error().message.find("KVM_SET_MSRS"), std::string::npos);
}

}  // namespace
}  // namespace rrvm::hv
