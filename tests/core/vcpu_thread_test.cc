#include "vmm/core/vcpu_thread.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/core/fake_hv.h"

namespace rrvm::core {
namespace {

using testing::CallLog;
using testing::FakeVcpu;

class Requests : public VmRequests {
 public:
  void do_request_shutdown(ShutdownCause cause, int status) override {
    std::lock_guard lock(mu);
    shutdown = {cause, status};
  }
  void do_request_reset(ShutdownCause cause) override {
    std::lock_guard lock(mu);
    reset = cause;
  }
  void do_request_vmstop(RunState state, std::string_view) override {
    std::lock_guard lock(mu);
    vmstop = state;
  }
  std::mutex mu;
  std::optional<std::pair<ShutdownCause, int>> shutdown;
  std::optional<ShutdownCause> reset;
  std::optional<RunState> vmstop;
};

// A port that asks for a shutdown, like the debug-exit device.
class ExitPort : public BusDevice {
 public:
  explicit ExitPort(VmRequests& r) : requests_(r) {}
  std::string name() const override { return "exit"; }
  void read(uint64_t, std::span<uint8_t>) override {}
  void write(uint64_t, std::span<const uint8_t> data) override {
    requests_.request_shutdown(ShutdownCause::GuestShutdown, data[0]);
  }

 private:
  VmRequests& requests_;
};

class VcpuThreadTest : public ::testing::Test {
 protected:
  VcpuThreadTest() {
    testing::give_typical_msrs(vcpu);
    config.msrs = hv::MsrIndexList(testing::typical_msr_index_list());
    EXPECT_TRUE(pio.insert(0x501, 1, std::make_shared<ExitPort>(requests)).ok());
  }
  void TearDown() override { thread.exit_thread(); }

  CallLog log;
  FakeVcpu vcpu{0, log};
  CpuSyncConfig config;
  RunStateMachine run_state{RunState::Running};
  CpuSync sync{vcpu, config, run_state};
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  Requests requests;
  VcpuThread thread{vcpu, sync, ExitContext{0, pio, mmio, requests}};
};

TEST_F(VcpuThreadTest, StartsStoppedAndStillRunsWork) {
  thread.start();
  std::thread::id worker;
  thread.run_on_cpu("probe", [&] { worker = std::this_thread::get_id(); });
  EXPECT_NE(worker, std::this_thread::get_id());
  EXPECT_TRUE(thread.stopped());
  EXPECT_EQ(vcpu.runs(), 0u);
}

TEST_F(VcpuThreadTest, ResumeRunsTheGuestAndPauseStopsIt) {
  thread.start();
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(1));
  EXPECT_FALSE(thread.stopped());
  thread.request_stop();
  thread.wait_stopped();
  EXPECT_TRUE(thread.stopped());
  EXPECT_GE(vcpu.kicks(), 1u);  // the stop kicked it out of KVM_RUN
  size_t runs = vcpu.runs();
  thread.run_on_cpu("probe", [] {});  // the thread is alive and idle, not running the guest
  EXPECT_EQ(vcpu.runs(), runs);
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(runs + 1));
}

TEST_F(VcpuThreadTest, RunOnCpuInterruptsTheGuestAndRunsOnTheVcpuThread) {
  thread.start();
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(1));
  std::thread::id worker;
  thread.run_on_cpu("work", [&] { worker = std::this_thread::get_id(); });
  auto runs = log.named("KVM_RUN");
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(worker, runs[0].thread);  // the thread that enters KVM_RUN
  ASSERT_TRUE(vcpu.wait_runs(2));     // and it goes back into the guest afterwards
}

TEST_F(VcpuThreadTest, AsyncWorkAndNestedRunOnCpu) {
  thread.start();
  std::promise<int> done;
  thread.async_run_on_cpu("async", [&] {
    int inner = 0;
    thread.run_on_cpu("nested", [&] { inner = 7; });  // on its own thread: runs inline
    done.set_value(inner);
  });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), 7);
}

TEST_F(VcpuThreadTest, AGuestShutdownRequestStopsTheVcpuAtOnce) {
  hv::Exit e;
  e.kind = hv::Exit::Kind::Io;
  e.address = 0x501;
  e.size = 1;
  e.is_write = true;
  vcpu.push_exit(e, {3});
  thread.start();
  thread.resume();
  thread.wait_stopped();
  std::lock_guard lock(requests.mu);
  ASSERT_TRUE(requests.shutdown);
  EXPECT_EQ(requests.shutdown->second, 3);
  EXPECT_EQ(vcpu.runs(), 1u);  // it did not enter the guest again
}

TEST_F(VcpuThreadTest, DirtyRegistersArePutAtRuntimeBeforeKvmRun) {
  thread.start();
  Status st = make_error("not run");
  thread.run_on_cpu("fetch", [&] { st = sync.synchronize_state(); });
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(sync.dirty());
  log.clear();
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(1));
  long put = log.first("KVM_SET_MSRS");
  ASSERT_GE(put, 0);
  EXPECT_EQ(log.calls()[put].level, trace::SyncLevel::Runtime);
  EXPECT_LT(put, log.first("KVM_RUN"));
  EXPECT_FALSE(sync.dirty());
}

TEST_F(VcpuThreadTest, KvmRunFailureIsAnInternalError) {
  vcpu.run_errno = EFAULT;
  thread.start();
  thread.resume();
  thread.wait_stopped();
  std::lock_guard lock(requests.mu);
  EXPECT_EQ(requests.vmstop, RunState::InternalError);
}

TEST_F(VcpuThreadTest, HaltIdlesUntilResumed) {
  vcpu.push_exit(hv::Exit{.kind = hv::Exit::Kind::Hlt});
  thread.start();
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(1));
  thread.run_on_cpu("probe", [] {});
  thread.run_on_cpu("probe", [] {});
  EXPECT_EQ(vcpu.runs(), 1u);  // halted: work runs, the guest does not
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(2));
}

TEST_F(VcpuThreadTest, ExitThreadRunsPendingWorkAndIsIdempotent) {
  thread.start();
  thread.resume();
  ASSERT_TRUE(vcpu.wait_runs(1));
  thread.exit_thread();
  thread.exit_thread();
  EXPECT_TRUE(thread.stopped());
}

}  // namespace
}  // namespace rrvm::core
