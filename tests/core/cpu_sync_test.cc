#include "vmm/core/cpu_sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/core/fake_hv.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::core {
namespace {

using testing::CallLog;
using testing::FakeVcpu;
namespace msr = hv::msr;

// Call names in order, with MSR calls tagged by what they carry.
std::vector<std::string> sequence(const CallLog& log) {
  std::vector<std::string> out;
  for (const auto& c : log.calls()) {
    std::string name = c.name;
    if (name == "KVM_SET_MSRS" && c.msrs.size() == 1 && c.msrs[0].index == msr::IA32_TSC_DEADLINE) {
      name += "(TSC_DEADLINE)";
    }
    out.push_back(name);
  }
  return out;
}

bool has_msr(const testing::Call& c, uint32_t index) {
  return std::any_of(c.msrs.begin(), c.msrs.end(), [&](const auto& e) { return e.index == index; });
}

class CpuSyncTest : public ::testing::Test {
 protected:
  CpuSyncTest() {
    testing::give_typical_msrs(vcpu);
    config.msrs = hv::MsrIndexList(testing::typical_msr_index_list());
  }
  CallLog log;
  FakeVcpu vcpu{0, log};
  CpuSyncConfig config;
  RunStateMachine run_state{RunState::Prelaunch};
  CpuSync sync{vcpu, config, run_state};
};

TEST_F(CpuSyncTest, PutBeforeAnyReadIsRefused) {
  auto st = sync.synchronize_post_init();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("never read"), std::string::npos);
  EXPECT_TRUE(log.calls().empty());
}

TEST_F(CpuSyncTest, GetFollowsQemusOrderAndMarksDirty) {
  ASSERT_TRUE(sync.synchronize_state().ok());
  EXPECT_TRUE(sync.dirty());
  EXPECT_EQ(sequence(log),
            (std::vector<std::string>{
                "KVM_GET_REGS", "KVM_GET_XSAVE", "KVM_GET_XCRS", "KVM_GET_SREGS", "KVM_GET_MSRS",
                "KVM_GET_MP_STATE", "KVM_GET_LAPIC", "KVM_GET_VCPU_EVENTS", "KVM_GET_DEBUGREGS"}));
  auto get = log.named("KVM_GET_MSRS").at(0);
  EXPECT_TRUE(has_msr(get, msr::IA32_TSC));           // not cached yet
  EXPECT_TRUE(has_msr(get, msr::IA32_TSC_DEADLINE));  // gets read it; puts write it on its own
  EXPECT_TRUE(has_msr(get, msr::KVM_SYSTEM_TIME_NEW));
  // Dirty: a second synchronize_state does not fetch again.
  log.clear();
  ASSERT_TRUE(sync.synchronize_state().ok());
  EXPECT_TRUE(log.calls().empty());
}

TEST_F(CpuSyncTest, PostInitPutsEverythingAtFullInOrder) {
  config.tsc_khz = 2'100'000;
  ASSERT_TRUE(sync.get_registers().ok());
  log.clear();
  ASSERT_TRUE(sync.synchronize_post_init().ok());
  EXPECT_FALSE(sync.dirty());
  EXPECT_EQ(sequence(log),
            (std::vector<std::string>{"KVM_SET_TSC_KHZ", "KVM_SET_REGS", "KVM_SET_XSAVE",
                                      "KVM_SET_XCRS", "KVM_SET_SREGS", "KVM_SET_MSRS",
                                      "KVM_SET_LAPIC", "KVM_SET_VCPU_EVENTS", "KVM_SET_MP_STATE",
                                      "KVM_SET_MSRS(TSC_DEADLINE)", "KVM_SET_DEBUGREGS"}));
  auto puts = log.named("KVM_SET_MSRS");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].level, trace::SyncLevel::Full);
  EXPECT_EQ(puts[1].level, trace::SyncLevel::Full);
  EXPECT_EQ(puts[0].msrs.front().index, msr::IA32_FEATURE_CONTROL);  // first, as QEMU
  EXPECT_TRUE(has_msr(puts[0], msr::IA32_TSC));
  EXPECT_TRUE(has_msr(puts[0], msr::KVM_SYSTEM_TIME_NEW));
  EXPECT_FALSE(has_msr(puts[0], msr::IA32_TSC_DEADLINE));
  EXPECT_EQ(vcpu.tsc_khz, 2'100'000u);
}

TEST_F(CpuSyncTest, TscDeadlineGoesAfterEventsAndAfterTheTsc) {
  ASSERT_TRUE(sync.get_registers().ok());
  sync.state().set_msr(msr::IA32_TSC_DEADLINE, 0x123456);
  for (auto level : {trace::SyncLevel::Full, trace::SyncLevel::Reset, trace::SyncLevel::Runtime}) {
    log.clear();
    ASSERT_TRUE(sync.put_registers(level).ok());
    auto calls = log.calls();
    long events = log.first("KVM_SET_VCPU_EVENTS");
    long deadline = log.last("KVM_SET_MSRS");
    long tsc_put = log.first("KVM_SET_MSRS");
    ASSERT_GE(events, 0);
    ASSERT_EQ(calls[deadline].msrs.size(), 1u);
    EXPECT_EQ(calls[deadline].msrs[0].index, msr::IA32_TSC_DEADLINE);
    EXPECT_EQ(calls[deadline].msrs[0].value, 0x123456u);
    EXPECT_EQ(calls[deadline].level, level);
    EXPECT_GT(deadline, events);
    EXPECT_GT(deadline, tsc_put);
  }
  EXPECT_EQ(vcpu.msrs[msr::IA32_TSC_DEADLINE], 0x123456u);
}

TEST_F(CpuSyncTest, PostResetPutsAtResetLevel) {
  ASSERT_TRUE(sync.get_registers().ok());
  log.clear();
  ASSERT_TRUE(sync.synchronize_post_reset().ok());
  auto puts = log.named("KVM_SET_MSRS");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].level, trace::SyncLevel::Reset);
  EXPECT_TRUE(has_msr(puts[0], msr::IA32_TSC));
  EXPECT_TRUE(has_msr(puts[0], msr::KVM_WALL_CLOCK_NEW));
  EXPECT_EQ(log.count("KVM_SET_TSC_KHZ"), 0u);  // FULL only
  EXPECT_EQ(log.count("KVM_SET_LAPIC"), 1u);
  EXPECT_EQ(log.count("KVM_SET_MP_STATE"), 1u);
}

TEST_F(CpuSyncTest, RuntimePutOnlyWhenDirty) {
  ASSERT_TRUE(sync.get_registers().ok());
  ASSERT_TRUE(sync.synchronize_post_init().ok());
  log.clear();
  ASSERT_TRUE(sync.put_if_dirty().ok());
  EXPECT_TRUE(log.calls().empty());  // clean: nothing to write before KVM_RUN

  ASSERT_TRUE(sync.synchronize_state().ok());  // device emulation fetched registers
  sync.state().regs.rax = 0x42;
  log.clear();
  ASSERT_TRUE(sync.put_if_dirty().ok());
  EXPECT_FALSE(sync.dirty());
  EXPECT_EQ(vcpu.regs.rax, 0x42u);
  auto puts = log.named("KVM_SET_MSRS");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].level, trace::SyncLevel::Runtime);
  EXPECT_FALSE(has_msr(puts[0], msr::IA32_TSC));  // RESET/FULL only
  EXPECT_FALSE(has_msr(puts[0], msr::KVM_SYSTEM_TIME_NEW));
  EXPECT_TRUE(has_msr(puts[0], msr::LSTAR));
  EXPECT_EQ(log.count("KVM_SET_LAPIC"), 0u);
  EXPECT_EQ(log.count("KVM_SET_MP_STATE"), 0u);
  log.clear();
  ASSERT_TRUE(sync.put_if_dirty().ok());
  EXPECT_TRUE(log.calls().empty());
}

TEST_F(CpuSyncTest, TscIsReadOncePerStopAndSkippedByLaterGets) {
  ASSERT_TRUE(run_state.set(RunState::Running, "t").ok());
  ASSERT_TRUE(run_state.set(RunState::Paused, "t").ok());
  vcpu.msrs[msr::IA32_TSC] = 1000;
  ASSERT_TRUE(sync.synchronize_tsc().ok());
  vcpu.msrs[msr::IA32_TSC] = 2000;
  ASSERT_TRUE(sync.synchronize_tsc().ok());  // cached while stopped
  auto gets = log.named("KVM_GET_MSRS");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].level, trace::SyncLevel::None);
  ASSERT_EQ(gets[0].msrs.size(), 1u);
  EXPECT_EQ(sync.state().msr(msr::IA32_TSC), 1000u);
  // A full get while stopped keeps the cached TSC (QEMU's env->tsc_valid).
  ASSERT_TRUE(sync.get_registers().ok());
  EXPECT_FALSE(has_msr(log.named("KVM_GET_MSRS").back(), msr::IA32_TSC));
  EXPECT_EQ(sync.state().msr(msr::IA32_TSC), 1000u);
  // Starting the VM invalidates the cache.
  sync.on_vm_state_change(true);
  ASSERT_TRUE(run_state.set(RunState::Running, "t").ok());
  ASSERT_TRUE(sync.synchronize_tsc().ok());
  EXPECT_EQ(sync.state().msr(msr::IA32_TSC), 2000u);
  // While running the value is never cached: every read goes to KVM.
  log.clear();
  ASSERT_TRUE(sync.synchronize_tsc().ok());
  EXPECT_EQ(log.count("KVM_GET_MSRS"), 1u);
}

TEST_F(CpuSyncTest, TscFrequencyErrorIsRecordedNotFatal) {
  config.tsc_khz = 3'000'000;
  vcpu.set_tsc_khz_errno = EINVAL;
  ASSERT_TRUE(sync.get_registers().ok());
  EXPECT_TRUE(sync.synchronize_post_init().ok());
  EXPECT_EQ(log.count("KVM_SET_REGS"), 1u);
}

TEST_F(CpuSyncTest, AFailingMsrIsNamedInTheError) {
  ASSERT_TRUE(sync.get_registers().ok());
  vcpu.failing_msr = msr::KVM_SYSTEM_TIME_NEW;
  auto st = sync.synchronize_post_init();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().describe().find("0x4b564d01 (MSR_KVM_SYSTEM_TIME_NEW)"), std::string::npos)
      << st.error().describe();
  EXPECT_NE(st.error().describe().find("vcpu 0"), std::string::npos);
}

TEST_F(CpuSyncTest, FpuInsteadOfXsaveWhenConfigured) {
  config.xsave = false;
  config.xcrs = false;
  ASSERT_TRUE(sync.get_registers().ok());
  ASSERT_TRUE(sync.synchronize_post_init().ok());
  EXPECT_EQ(log.count("KVM_GET_FPU"), 1u);
  EXPECT_EQ(log.count("KVM_SET_FPU"), 1u);
  EXPECT_EQ(log.count("KVM_GET_XSAVE") + log.count("KVM_SET_XSAVE") + log.count("KVM_GET_XCRS"),
            0u);
}

TEST_F(CpuSyncTest, LoadValidatesAndIsPutAtFull) {
  ASSERT_TRUE(sync.get_registers().ok());
  CpuState good = sync.state();
  good.regs.rip = 0x100000;
  good.set_msr(msr::LSTAR, 0xffffffff81000000ull);
  CpuState bad = good;
  bad.lapic.resize(10);
  auto st = sync.load(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().describe().find("LAPIC state is 10 bytes"), std::string::npos);

  ASSERT_TRUE(sync.load(good).ok());
  EXPECT_TRUE(sync.dirty());
  log.clear();
  ASSERT_TRUE(sync.synchronize_state().ok());  // dirty: the loaded state is not overwritten
  EXPECT_TRUE(log.calls().empty());
  ASSERT_TRUE(sync.synchronize_post_init().ok());
  EXPECT_EQ(vcpu.regs.rip, 0x100000u);
  EXPECT_EQ(vcpu.msrs[msr::LSTAR], 0xffffffff81000000ull);
}

TEST(CpuStateValidation, RejectsWhatASnapshotMustNotContain) {
  CpuState s;
  s.xsave.assign(4096, 0);
  s.lapic.assign(LAPIC_STATE_SIZE, 0);
  s.events.assign(VCPU_EVENTS_SIZE, 0);
  s.debugregs.assign(DEBUGREGS_SIZE, 0);
  s.msrs = {{msr::LSTAR, 1}, {msr::KVM_POLL_CONTROL, 1}, {0x4b564dfe, 0}};  // PV range is known
  EXPECT_TRUE(validate_cpu_state(s, true, true).ok());

  auto expect_error = [](const CpuState& bad, bool xsave, const std::string& text) {
    auto st = validate_cpu_state(bad, xsave, true);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.error().describe().find(text), std::string::npos) << st.error().describe();
  };
  CpuState b = s;
  b.msrs.push_back({0xdeadbeef, 0});
  expect_error(b, true, "unknown MSR 0xdeadbeef");
  b = s;
  b.msrs.push_back({msr::LSTAR, 2});
  expect_error(b, true, "appears twice");
  b = s;
  b.xsave.resize(100);
  expect_error(b, true, "XSAVE area is 100 bytes");
  expect_error(s, false, "XSAVE area present");
  b = s;
  b.mp_state = static_cast<hv::MpState>(9);
  expect_error(b, true, "mp_state 9");
  b = s;
  b.xcrs.resize(17);
  expect_error(b, true, "17 XCRs");
  b = s;
  b.events.clear();
  expect_error(b, true, "vCPU events is 0 bytes");
  b = s;
  b.msrs.assign(MAX_MSRS + 1, {msr::LSTAR, 0});
  expect_error(b, true, "MSRs (max");
}

}  // namespace
}  // namespace rrvm::core
