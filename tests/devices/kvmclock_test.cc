#include "vmm/devices/kvmclock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

#include "tests/core/test_vm.h"
#include "tests/hv/fake_hv.h"
#include "vmm/hv/caps.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::devices {
namespace {

using core::RunState;
using core::testing::TestVm;
namespace msr = hv::msr;

constexpr uint64_t PVCLOCK_GPA = 0x2000;

class KvmclockTest : public ::testing::Test {
 protected:
  explicit KvmclockTest(KvmclockConfig config = {.adjust_clock_stable = true, .clock_ctrl = true})
      : memory_(GuestMemory::allocate(1 << 20).value()),
        clock_(vm_.hv_vm(), vm_.vcpus, memory_, vm_.requests, config) {
    clock_.attach(vm_.notifiers);  // after the vCPUs, as the machine does
    vm_.vm.clock = hv::ClockData{.clock_ns = 7'000'000'000, .flags = hv::CLOCK_FLAG_TSC_STABLE};
  }

  void boot_and_start() {
    vm_.boot();
    ASSERT_TRUE(vm_.control.vm_start("boot").ok());
    ASSERT_TRUE(vm_.fake(0).wait_runs(1) && vm_.fake(1).wait_runs(1));
  }

  // The guest enabled kvmclock on vCPU 0 with its pvclock page at PVCLOCK_GPA.
  void guest_enables_kvmclock(const PvclockTimeInfo& info) {
    vm_.fake(0).msrs[msr::KVM_SYSTEM_TIME_NEW] = PVCLOCK_GPA | 1;
    ASSERT_TRUE(memory_.write_obj(PVCLOCK_GPA, info).ok());
  }

  bool shutdown_requested() {
    auto s = vm_.requests.take_shutdown();
    return s && s->cause == core::ShutdownCause::HostError && s->exit_status == 1;
  }

  TestVm vm_;
  GuestMemory memory_;
  Kvmclock clock_;
};

TEST_F(KvmclockTest, StartSetsTheClockThenCtrlOnEachVcpuThreadBeforeAnyRun) {
  boot_and_start();
  auto& log = vm_.log;
  long set = log.first("KVM_SET_CLOCK");
  long ctrl0 = log.first("KVM_KVMCLOCK_CTRL", 0);
  long ctrl1 = log.first("KVM_KVMCLOCK_CTRL", 1);
  ASSERT_GE(set, 0);
  ASSERT_GE(ctrl0, 0);
  ASSERT_GE(ctrl1, 0);
  EXPECT_LT(set, ctrl0);
  EXPECT_LT(ctrl0, ctrl1);
  EXPECT_LT(ctrl1, log.first("KVM_RUN"));  // every ctrl before any vCPU runs
  EXPECT_EQ(log.count("KVM_KVMCLOCK_CTRL"), 2u);
  // Each on its own vCPU's thread (the thread that runs that vCPU).
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(log.named("KVM_KVMCLOCK_CTRL", i).at(0).thread, log.named("KVM_RUN", i).at(0).thread);
  }
  EXPECT_FALSE(clock_.clock_valid());
}

TEST_F(KvmclockTest, StopSyncsTscOnEveryVcpuThreadThenGetsTheClock) {
  boot_and_start();
  vm_.fake(0).msrs[msr::IA32_TSC] = 111;
  vm_.fake(1).msrs[msr::IA32_TSC] = 222;
  auto vcpu0_thread = vm_.log.named("KVM_RUN", 0).at(0).thread;
  vm_.log.clear();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  auto calls = vm_.log.calls();
  std::vector<std::string> order;
  for (const auto& c : calls) {
    if (c.name == "KVM_GET_MSRS" || c.name == "KVM_GET_CLOCK") {
      order.push_back(c.name + (c.vcpu >= 0 ? std::to_string(c.vcpu) : ""));
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"KVM_GET_MSRS0", "KVM_GET_MSRS1", "KVM_GET_CLOCK"}));
  auto tsc0 = vm_.log.named("KVM_GET_MSRS", 0).at(0);
  ASSERT_EQ(tsc0.msrs.size(), 1u);
  EXPECT_EQ(tsc0.msrs[0].index, msr::IA32_TSC);
  EXPECT_EQ(tsc0.msrs[0].value, 111u);
  EXPECT_EQ(tsc0.level, trace::SyncLevel::None);
  EXPECT_EQ(tsc0.thread, vcpu0_thread);
  EXPECT_EQ(vm_.vcpus.sync(1).state().msr(msr::IA32_TSC), 222u);
  EXPECT_TRUE(clock_.clock_valid());
  EXPECT_TRUE(clock_.reliable());
  EXPECT_EQ(clock_.clock_ns(), 7'000'000'000u);
}

TEST_F(KvmclockTest, ReliableNeedsTheFlagFromKvm) {
  vm_.vm.clock.flags = 0;
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  EXPECT_FALSE(clock_.reliable());
}

TEST_F(KvmclockTest, ResumeSetsTheClockOfTheStop) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  vm_.vm.clock.clock_ns = 99'000'000'000;  // KVM's clock moved on while paused
  vm_.log.clear();
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  ASSERT_FALSE(vm_.vm.set_clocks.empty());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 7'000'000'000u);  // paused time not counted
  EXPECT_EQ(vm_.vm.set_clocks.back().flags, 0u);
  EXPECT_EQ(vm_.log.count("KVM_GET_REGS", 0), 0u);  // reliable: no recompute from guest memory
  EXPECT_EQ(vm_.log.count("KVM_KVMCLOCK_CTRL"), 2u);
  EXPECT_FALSE(clock_.clock_valid());
}

TEST_F(KvmclockTest, PlainPauseThenMigrationKeepsTheFirstClock) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  vm_.vm.clock.clock_ns = 8'000'000'000;
  ASSERT_TRUE(vm_.control.vm_stop_force_state(RunState::FinishMigrate, "migration").ok());
  ASSERT_TRUE(clock_.pre_save().ok());
  EXPECT_EQ(vm_.log.count("KVM_GET_CLOCK"),
            1u);  // no notifier on the second stop, no pre_save read
  EXPECT_EQ(clock_.save().clock_ns, 7'000'000'000u);
}

TEST_F(KvmclockTest, MigrationOfARunningVmReadsTheClockAgainInPreSave) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::FinishMigrate, "migration").ok());
  vm_.vm.clock = hv::ClockData{.clock_ns = 7'100'000'000,
                               .flags = hv::CLOCK_FLAG_TSC_STABLE | hv::CLOCK_FLAG_REALTIME,
                               .realtime_ns = 1'700'000'000'000'000'000};
  ASSERT_TRUE(clock_.pre_save().ok());
  EXPECT_EQ(vm_.log.count("KVM_GET_CLOCK"), 2u);
  auto s = clock_.save();
  EXPECT_EQ(s.clock_ns, 7'100'000'000u);
  EXPECT_TRUE(s.reliable);
  EXPECT_TRUE(s.has_realtime);
  EXPECT_EQ(s.realtime_ns, 1'700'000'000'000'000'000u);
}

TEST_F(KvmclockTest, CtrlEinvalIsIgnoredAndOtherErrorsDoNotStopTheStart) {
  vm_.fake(0).kvmclock_ctrl_errno = EINVAL;
  vm_.fake(1).kvmclock_ctrl_errno = EIO;
  boot_and_start();
  EXPECT_EQ(vm_.log.count("KVM_KVMCLOCK_CTRL"), 2u);
  EXPECT_FALSE(vm_.requests.take_shutdown());
  EXPECT_EQ(vm_.run_state.get(), RunState::Running);
}

TEST_F(KvmclockTest, SetClockFailureIsFatalBeforeAnyVcpuRuns) {
  vm_.vm.set_clock_errno = EIO;
  vm_.boot();
  ASSERT_TRUE(vm_.control.vm_start("boot").ok());
  EXPECT_TRUE(shutdown_requested());
  EXPECT_EQ(vm_.log.count("KVM_KVMCLOCK_CTRL"), 0u);
  // QEMU aborts here; rrvm must not let the guest run on a clock it could not set.
  EXPECT_FALSE(vm_.fake(0).wait_runs(1, std::chrono::milliseconds(50)));
  EXPECT_EQ(vm_.log.count("KVM_RUN"), 0u);
}

TEST_F(KvmclockTest, GetClockFailureOnStopIsFatal) {
  boot_and_start();
  vm_.vm.get_clock_errno = EIO;
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  EXPECT_TRUE(shutdown_requested());
  EXPECT_FALSE(clock_.clock_valid());
}

TEST_F(KvmclockTest, QuitOfARunningVmStopsTheClock) {
  boot_and_start();
  vm_.control.qmp_quit();
  EXPECT_EQ(vm_.control.run_main_loop(), 0);
  vm_.log.clear();
  ASSERT_TRUE(vm_.control.vm_shutdown().ok());
  EXPECT_EQ(vm_.log.count("KVM_GET_CLOCK"), 1u);
  EXPECT_TRUE(clock_.clock_valid());
}

class UnreliableKvmclockTest : public KvmclockTest {
 protected:
  UnreliableKvmclockTest() : KvmclockTest({.adjust_clock_stable = false, .clock_ctrl = true}) {}
};

TEST_F(UnreliableKvmclockTest, StartRecomputesTheClockFromTheGuestsPvclockPage) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  EXPECT_FALSE(clock_.reliable());  // TSC_STABLE without the capability is not enough
  // 0.5 ns per TSC tick: at TSC 3000 the guest's clock is 5 s + (3000 - 1000) / 2 ns.
  guest_enables_kvmclock({.tsc_timestamp = 1000,
                          .system_time = 5'000'000'000,
                          .tsc_to_system_mul = 0x80000000u,
                          .tsc_shift = 0});
  vm_.fake(0).msrs[msr::IA32_TSC] = 3000;
  vm_.log.clear();
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  ASSERT_FALSE(vm_.vm.set_clocks.empty());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 5'000'001'000u);
  // QEMU's kvmclock_current_nsec: vCPU 0's state fetched (TSC included, the start invalidated the
  // stop's cached TSC), before KVM_SET_CLOCK.
  auto gets = vm_.log.named("KVM_GET_MSRS", 0);
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_TRUE(std::any_of(gets[0].msrs.begin(), gets[0].msrs.end(), [](const auto& e) {
    return e.index == msr::IA32_TSC && e.value == 3000;
  }));
  EXPECT_LT(vm_.log.first("KVM_GET_MSRS", 0), vm_.log.first("KVM_SET_CLOCK"));
}

TEST_F(UnreliableKvmclockTest, APvclockPageFromTheFutureKeepsTheSavedClock) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  guest_enables_kvmclock(
      {.tsc_timestamp = 10'000, .system_time = 1, .tsc_to_system_mul = 1u << 31});
  vm_.fake(0).msrs[msr::IA32_TSC] = 500;
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 7'000'000'000u);
  EXPECT_FALSE(shutdown_requested());
}

TEST_F(UnreliableKvmclockTest, APvclockPageOutsideRamKeepsTheSavedClock) {
  boot_and_start();
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  vm_.fake(0).msrs[msr::KVM_SYSTEM_TIME_NEW] = (64ull << 30) | 1;
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 7'000'000'000u);
}

TEST_F(KvmclockTest, RestoredClockIsUnreliableUnlessTheStateSaysSo) {
  vm_.boot();
  ASSERT_TRUE(vm_.run_state.set(RunState::InMigrate, "incoming").ok());
  ASSERT_TRUE(clock_.restore({.clock_ns = 3'000'000'000, .reliable = false}).ok());
  guest_enables_kvmclock(
      {.tsc_timestamp = 0, .system_time = 4'000'000'000, .tsc_to_system_mul = 1u << 31});
  vm_.fake(0).msrs[msr::IA32_TSC] = 2'000'000;
  ASSERT_TRUE(vm_.control.vm_start("incoming").ok());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 4'001'000'000u);  // recomputed from the page

  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  ASSERT_TRUE(clock_.restore({.clock_ns = 3'000'000'000, .reliable = true}).ok());
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  EXPECT_EQ(vm_.vm.set_clocks.back().clock_ns, 3'000'000'000u);  // taken as it is
}

TEST(KvmclockState, RestoreValidates) {
  TestVm vm(1);
  GuestMemory mem = GuestMemory::allocate(1 << 20).value();
  Kvmclock clock(vm.hv_vm(), vm.vcpus, mem, vm.requests, {});
  auto st = clock.restore({.clock_ns = 1, .has_realtime = false, .realtime_ns = 5});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("realtime_ns set without has_realtime"), std::string::npos);
}

class ClockAdvanceTest : public KvmclockTest {
 protected:
  ClockAdvanceTest()
      : KvmclockTest({.adjust_clock_stable = true, .clock_ctrl = true, .clock_advance = true}) {}
  static uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
};

TEST_F(ClockAdvanceTest, FirstStartAfterRestoreUsesKvmRealtime) {
  vm_.boot();
  ASSERT_TRUE(vm_.run_state.set(RunState::InMigrate, "incoming").ok());
  ASSERT_TRUE(clock_
                  .restore({.clock_ns = 1'000'000'000,
                            .reliable = true,
                            .has_realtime = true,
                            .realtime_ns = 123456789})
                  .ok());
  ASSERT_TRUE(vm_.control.vm_start("incoming").ok());
  const auto& first = vm_.vm.set_clocks.back();
  EXPECT_EQ(first.clock_ns, 1'000'000'000u);
  EXPECT_EQ(first.flags, hv::CLOCK_FLAG_REALTIME);
  EXPECT_EQ(first.realtime_ns, 123456789u);
  // Later stop/cont cycles are QEMU's: no advance.
  ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  EXPECT_EQ(vm_.vm.set_clocks.back().flags, 0u);
}

TEST_F(ClockAdvanceTest, WithoutKvmSupportTheElapsedWallTimeIsAddedByHand) {
  vm_.vm.refuse_realtime = true;
  vm_.boot();
  ASSERT_TRUE(vm_.run_state.set(RunState::InMigrate, "incoming").ok());
  uint64_t five_seconds_ago = now_ns() - 5'000'000'000ull;
  ASSERT_TRUE(clock_
                  .restore({.clock_ns = 1'000'000'000,
                            .reliable = true,
                            .has_realtime = true,
                            .realtime_ns = five_seconds_ago})
                  .ok());
  ASSERT_TRUE(vm_.control.vm_start("incoming").ok());
  ASSERT_EQ(vm_.vm.set_clocks.size(), 1u);  // the REALTIME attempt was refused
  uint64_t set = vm_.vm.set_clocks[0].clock_ns;
  EXPECT_GE(set, 6'000'000'000u);
  EXPECT_LT(set, 7'000'000'000u);
  EXPECT_EQ(vm_.vm.set_clocks[0].flags, 0u);
  EXPECT_FALSE(shutdown_requested());
}

TEST(KvmclockConfig, FromTheHostsCapabilities) {
  hv::testing::FakeHypervisor host;
  KvmclockConfig none = KvmclockConfig::from_hypervisor(host);
  EXPECT_FALSE(none.adjust_clock_stable);
  EXPECT_FALSE(none.clock_ctrl);
  // KVM_CAP_ADJUST_CLOCK answers with the KVM_CLOCK_* flags KVM_GET_CLOCK can report.
  host.caps[hv::cap::ADJUST_CLOCK] = hv::CLOCK_FLAG_REALTIME;
  host.caps[hv::cap::KVMCLOCK_CTRL] = 1;
  KvmclockConfig some = KvmclockConfig::from_hypervisor(host, true);
  EXPECT_FALSE(some.adjust_clock_stable);
  EXPECT_TRUE(some.clock_ctrl);
  EXPECT_TRUE(some.clock_advance);
  host.caps[hv::cap::ADJUST_CLOCK] = hv::CLOCK_FLAG_TSC_STABLE | hv::CLOCK_FLAG_REALTIME;
  EXPECT_TRUE(KvmclockConfig::from_hypervisor(host).adjust_clock_stable);
}

TEST(Pvclock, ScalesLikeTheGuest) {
  PvclockTimeInfo info{
      .tsc_timestamp = 100, .system_time = 10, .tsc_to_system_mul = 1u << 31, .tsc_shift = 1};
  EXPECT_EQ(pvclock_ns_at(info, 300).value(), 10u + 200u);  // (200 << 1) * 0.5
  info.tsc_shift = -2;
  EXPECT_EQ(pvclock_ns_at(info, 900).value(), 10u + 100u);  // (800 >> 2) * 0.5
  info.tsc_shift = 70;
  EXPECT_FALSE(pvclock_ns_at(info, 900).ok());
  info.tsc_shift = 0;
  EXPECT_FALSE(pvclock_ns_at(info, 50).ok());
  // Large deltas keep their high bits (128-bit product).
  PvclockTimeInfo big{.tsc_timestamp = 0, .system_time = 0, .tsc_to_system_mul = 0xffffffffu};
  EXPECT_EQ(pvclock_ns_at(big, 1ull << 40).value(), (1ull << 40) - 256);  // 2^40 * (2^32-1) / 2^32
}

}  // namespace
}  // namespace rrvm::devices
