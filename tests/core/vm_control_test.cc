#include "vmm/core/vm_control.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "tests/core/test_vm.h"

namespace rrvm::core {
namespace {

using testing::TestVm;

bool eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

hv::Exit port_write(uint64_t port) {
  hv::Exit e;
  e.kind = hv::Exit::Kind::Io;
  e.address = port;
  e.size = 1;
  e.is_write = true;
  return e;
}

// A port that asks for a shutdown with the byte written (like the debug-exit device).
class ExitPort : public BusDevice {
 public:
  explicit ExitPort(VmRequests& r) : requests_(r) {}
  std::string name() const override { return "exit"; }
  void read(uint64_t, std::span<uint8_t>) override {}
  void write(uint64_t, std::span<const uint8_t> d) override {
    requests_.request_shutdown(ShutdownCause::GuestShutdown, d[0]);
  }

 private:
  VmRequests& requests_;
};

struct Observed {
  bool running;
  RunState state;
  size_t kvm_runs;  // KVM_RUN calls made before the handler ran
};

class VmControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vm.notifiers.add("observer", [this](bool running, RunState s) {
      observed.push_back({running, s, vm.log.count("KVM_RUN")});
    });
  }
  TestVm vm;
  std::vector<Observed> observed;
};

TEST_F(VmControlTest, BootPutsFullStateOnEachVcpuThread) {
  vm.boot();
  auto puts = vm.log.named("KVM_SET_MSRS");
  ASSERT_EQ(puts.size(), 4u);  // level MSRs + TSC_DEADLINE, per vCPU
  EXPECT_EQ(puts[0].level, trace::SyncLevel::Full);
  EXPECT_EQ(puts[0].vcpu, 0);
  EXPECT_EQ(puts[2].vcpu, 1);
  EXPECT_NE(puts[0].thread, std::this_thread::get_id());
  EXPECT_NE(puts[0].thread, puts[2].thread);
  EXPECT_EQ(vm.log.count("KVM_RUN"), 0u);  // nothing runs before vm_start
  EXPECT_EQ(vm.run_state.get(), RunState::Prelaunch);
}

TEST_F(VmControlTest, StartAnnouncesNotifiesThenResumes) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("test").ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Running);
  EXPECT_EQ(vm.events(), std::vector<std::string>{"RESUME"});
  ASSERT_EQ(observed.size(), 1u);
  EXPECT_TRUE(observed[0].running);
  EXPECT_EQ(observed[0].state, RunState::Running);
  EXPECT_EQ(observed[0].kvm_runs, 0u);  // notifiers run before any vCPU resumes
  EXPECT_TRUE(vm.fake(0).wait_runs(1));
  EXPECT_TRUE(vm.fake(1).wait_runs(1));
  // Starting a running VM does nothing.
  ASSERT_TRUE(vm.control.vm_start("again").ok());
  EXPECT_EQ(observed.size(), 1u);
  EXPECT_EQ(vm.events().size(), 1u);
}

TEST_F(VmControlTest, StopPausesEveryVcpuBeforeTheNotifiers) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("test").ok());
  ASSERT_TRUE(vm.fake(0).wait_runs(1) && vm.fake(1).wait_runs(1));
  ASSERT_TRUE(vm.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Paused);
  EXPECT_TRUE(vm.vcpus.all_stopped());
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_FALSE(observed[1].running);
  EXPECT_EQ(observed[1].state, RunState::Paused);
  EXPECT_EQ(vm.events(), (std::vector<std::string>{"RESUME", "STOP"}));
  size_t runs = vm.log.count("KVM_RUN");
  vm.vcpus.thread(0).run_on_cpu("probe", [] {});
  vm.vcpus.thread(1).run_on_cpu("probe", [] {});
  EXPECT_EQ(vm.log.count("KVM_RUN"), runs);
}

TEST_F(VmControlTest, StoppingAStoppedVmChangesOnlyWhatQemuChanges) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("test").ok());
  ASSERT_TRUE(vm.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  size_t calls = observed.size();
  // vm_stop on a paused VM: nothing at all.
  ASSERT_TRUE(vm.control.vm_stop(RunState::Paused, "again").ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Paused);
  // vm_stop_force_state (migration of a paused VM): only the run state, no notifier, no STOP.
  ASSERT_TRUE(vm.control.vm_stop_force_state(RunState::FinishMigrate, "migration").ok());
  EXPECT_EQ(vm.run_state.get(), RunState::FinishMigrate);
  EXPECT_EQ(observed.size(), calls);
  EXPECT_EQ(vm.events(), (std::vector<std::string>{"RESUME", "STOP"}));
}

TEST_F(VmControlTest, ContAndStopFollowQmpSemantics) {
  vm.boot();
  ASSERT_TRUE(vm.run_state.set(RunState::InMigrate, "incoming").ok());
  ASSERT_TRUE(vm.control.qmp_stop().ok());
  EXPECT_FALSE(vm.control.autostart());
  ASSERT_TRUE(vm.control.qmp_cont().ok());
  EXPECT_TRUE(vm.control.autostart());
  EXPECT_EQ(vm.run_state.get(), RunState::InMigrate);  // cont during inmigrate only sets autostart
  ASSERT_TRUE(vm.run_state.set(RunState::FinishMigrate, "t").ok());
  auto st = vm.control.qmp_cont();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "Migration is not finalized yet");
  ASSERT_TRUE(vm.run_state.set(RunState::InternalError, "t").ok());
  st = vm.control.qmp_cont();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "Resetting the Virtual Machine is required");
  EXPECT_TRUE(observed.empty());
  EXPECT_TRUE(vm.events().empty());
}

TEST_F(VmControlTest, IllegalStartIsRefusedBeforeAnnouncingIt) {
  vm.boot();
  ASSERT_TRUE(vm.run_state.set(RunState::InMigrate, "t").ok());
  ASSERT_TRUE(vm.run_state.set(RunState::InternalError, "t").ok());
  auto st = vm.control.vm_start("test");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("internal-error -> running"), std::string::npos);
  EXPECT_TRUE(vm.events().empty());
  EXPECT_TRUE(observed.empty());
  EXPECT_EQ(vm.log.count("KVM_RUN"), 0u);
}

TEST_F(VmControlTest, GuestShutdownEndsTheLoopWithItsStatus) {
  ASSERT_TRUE(vm.pio.insert(0x501, 1, std::make_shared<ExitPort>(vm.requests)).ok());
  vm.fake(1).push_exit(port_write(0x501), {7});
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  int status = vm.control.run_main_loop();
  EXPECT_EQ(status, 7);
  EXPECT_EQ(vm.events(), (std::vector<std::string>{"RESUME", "SHUTDOWN guest-shutdown"}));
  // qemu_cleanup: vm_shutdown stops a running VM into shutdown (no STOP event).
  ASSERT_TRUE(vm.control.vm_shutdown().ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Shutdown);
  EXPECT_TRUE(vm.vcpus.all_stopped());
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[1].state, RunState::Shutdown);
  EXPECT_EQ(vm.events().size(), 2u);
}

TEST_F(VmControlTest, QuitOnAPausedVmRecordsNoRunStateChange) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  ASSERT_TRUE(vm.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  vm.control.qmp_quit();
  EXPECT_EQ(vm.control.run_main_loop(), 0);
  ASSERT_TRUE(vm.control.vm_shutdown().ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Paused);
  EXPECT_EQ(observed.size(), 2u);
  EXPECT_EQ(vm.events().back(), "SHUTDOWN host-qmp-quit");
}

TEST_F(VmControlTest, QuitOnARunningVmShutsItDown) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  vm.control.qmp_quit();
  EXPECT_EQ(vm.control.run_main_loop(), 0);
  ASSERT_TRUE(vm.control.vm_shutdown().ok());
  EXPECT_EQ(vm.run_state.get(), RunState::Shutdown);
}

TEST_F(VmControlTest, TripleFaultResetsStateAtResetLevelAndKeepsRunning) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  ASSERT_TRUE(vm.fake(0).wait_runs(1) && vm.fake(1).wait_runs(1));  // no KVM_RUN after the clear
  vm.vcpus.sync(0).state().regs.rip = 0xdead;                       // what the guest did since boot
  vm.log.clear();
  vm.start_loop();
  vm.fake(0).push_exit(hv::Exit{.kind = hv::Exit::Kind::Shutdown});
  ASSERT_TRUE(eventually([&] {
    auto e = vm.events();
    return !e.empty() && e.back() == "RESET guest-reset";
  }));
  ASSERT_TRUE(
      eventually([&] { return vm.log.count("KVM_RUN", 0) > 0 && vm.log.count("KVM_RUN", 1) > 0; }));
  EXPECT_EQ(vm.run_state.get(), RunState::Running);
  for (int i = 0; i < 2; ++i) {
    auto puts = vm.log.named("KVM_SET_MSRS", i);
    ASSERT_FALSE(puts.empty());
    EXPECT_EQ(puts[0].level, trace::SyncLevel::Reset);
    // The reset state came back, and KVM got it before the vCPU ran again.
    EXPECT_LT(vm.log.first("KVM_SET_REGS", i), vm.log.first("KVM_RUN", i));
  }
  EXPECT_EQ(vm.fake(0).regs.rip, 0x100000u);
  EXPECT_EQ(vm.stop_loop(), 0);
}

TEST_F(VmControlTest, ResetOfAPausedVmLeavesItInPrelaunch) {
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  ASSERT_TRUE(vm.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  vm.start_loop();
  vm.control.qmp_system_reset();
  ASSERT_TRUE(eventually([&] { return vm.run_state.get() == RunState::Prelaunch; }));
  EXPECT_EQ(vm.stop_loop(), 0);
  EXPECT_TRUE(vm.vcpus.all_stopped());
  EXPECT_EQ(vm.events(), (std::vector<std::string>{"RESUME", "STOP", "RESET host-qmp-system-reset",
                                                   "SHUTDOWN host-signal"}));
  EXPECT_EQ(vm.log.named("KVM_SET_MSRS", 0).back().level, trace::SyncLevel::Reset);
}

TEST(VmControlOptions, NoRebootTurnsResetIntoShutdown) {
  TestVm vm(1, {}, /*no_reboot=*/true);
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  vm.fake(0).push_exit(hv::Exit{.kind = hv::Exit::Kind::Shutdown});
  EXPECT_EQ(vm.control.run_main_loop(), 0);
  EXPECT_EQ(vm.events().back(), "SHUTDOWN guest-reset");
}

TEST(VmControlOptions, InternalErrorStopsTheVmAndCanEndRrvm) {
  TestVm vm(2, VmControlOptions{.exit_status_on_error = 1});
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  vm.fake(1).push_exit(hv::Exit{.kind = hv::Exit::Kind::InternalError, .detail = 1});
  EXPECT_EQ(vm.control.run_main_loop(), 1);
  EXPECT_EQ(vm.run_state.get(), RunState::InternalError);
  EXPECT_TRUE(vm.vcpus.all_stopped());
  EXPECT_EQ(vm.events(), (std::vector<std::string>{"RESUME", "STOP", "SHUTDOWN host-error"}));
  ASSERT_TRUE(vm.control.vm_shutdown().ok());
  EXPECT_EQ(vm.run_state.get(), RunState::InternalError);  // not live: shutdown changes nothing
}

TEST(VmControlOptions, InternalErrorWithoutExitStaysStopped) {
  TestVm vm(1);
  vm.boot();
  ASSERT_TRUE(vm.control.vm_start("boot").ok());
  vm.start_loop();
  vm.fake(0).push_exit(hv::Exit{.kind = hv::Exit::Kind::FailEntry, .detail = 0x21});
  ASSERT_TRUE(eventually([&] { return vm.run_state.get() == RunState::InternalError; }));
  EXPECT_EQ(vm.stop_loop(), 0);
}

}  // namespace
}  // namespace rrvm::core
