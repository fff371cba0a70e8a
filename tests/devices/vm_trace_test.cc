// The stop/cont sequence as the trace shows it: the events of QEMU's backtraces
// (kvmclock-state-changes.txt, migration-completion-kvmclock-msrs.txt), in order, on the right
// threads, with their span chains.
#include <gtest/gtest.h>

#include "tests/core/test_vm.h"
#include "tests/core/trace_capture.h"
#include "trace/span.h"
#include "vmm/devices/kvmclock.h"

namespace rrvm::devices {
namespace {

using core::RunState;
using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using core::testing::TestVm;
using core::testing::TraceCapture;
using core::testing::TracedEvent;
using trace::EventType;

std::string dump(const std::vector<TracedEvent>& events) {
  std::string s;
  for (const auto& e : events) s += e.str() + "\n";
  return s;
}

class VmTraceTest : public ::testing::Test {
 protected:
  VmTraceTest()
      : memory_(GuestMemory::allocate(1 << 20).value()),
        clock_(vm_.hv_vm(), vm_.vcpus, memory_, vm_.requests,
               {.adjust_clock_stable = true, .clock_ctrl = true}) {
    clock_.attach(vm_.notifiers);
    vm_.vm.clock = hv::ClockData{.clock_ns = 5'000'000'000, .flags = hv::CLOCK_FLAG_TSC_STABLE};
  }

  TraceCapture capture_;  // first: installed before any thread starts
  TestVm vm_{2, {}, false, /*recording=*/true};
  GuestMemory memory_;
  Kvmclock clock_;
};

TEST_F(VmTraceTest, StopAndContShowQemusSequenceWithBacktraces) {
  vm_.boot();
  ASSERT_TRUE(vm_.control.vm_start("boot").ok());
  ASSERT_TRUE(vm_.fake(0).wait_runs(1) && vm_.fake(1).wait_runs(1));
  {
    trace::Span qmp("qmp:stop");
    ASSERT_TRUE(vm_.control.vm_stop(RunState::Paused, "qmp:stop").ok());
  }
  {
    trace::Span qmp("qmp:cont");
    ASSERT_TRUE(vm_.control.vm_start("qmp:cont").ok());
  }
  ASSERT_TRUE(vm_.fake(0).wait_runs(2));
  vm_.vcpus.exit_threads();
  auto ev = capture_.finish();
  SCOPED_TRACE(dump(ev));

  // Boot: the FULL put on each vCPU thread, queued by cpu_synchronize_all_post_init.
  long full = find_event(ev, 0, is(EventType::MsrAccess, "put vcpu=1 level=full"));
  ASSERT_GE(full, 0);
  EXPECT_EQ(ev[full].thread_vcpu, 1);
  EXPECT_TRUE(backtrace_has(
      ev[full], {"kvm_put_msrs", "kvm_arch_put_registers", "do_kvm_cpu_synchronize_post_init",
                 "cpu_synchronize_all_post_init"}));

  // Stop: run-state change, kvmclock's notifier, a TSC read on each vCPU thread, KVM_GET_CLOCK.
  long stop = find_event(ev, 0, is(EventType::RunStateChange, "running -> paused"));
  ASSERT_GE(stop, 0);
  EXPECT_TRUE(backtrace_has(ev[stop], {"do_vm_stop", "vm_stop", "qmp:stop"}));
  long notify = find_event(ev, stop,
                           is(EventType::NotifierCall,
                              "handler=kvmclock priority=0 phase=main running=false state=paused"));
  ASSERT_GE(notify, 0);
  EXPECT_TRUE(backtrace_has(ev[notify], {"kvmclock", "vm_state_notify", "do_vm_stop", "vm_stop"}));
  long get_clock = find_event(ev, notify, is(EventType::ClockAccess, "get clock=5000000000"));
  ASSERT_GE(get_clock, 0);
  EXPECT_TRUE(backtrace_has(ev[get_clock], {"kvm_update_clock", "kvmclock", "vm_state_notify"}));
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long tsc = find_event(ev, notify, is(EventType::TscRead, "vcpu=" + std::to_string(vcpu)));
    ASSERT_GE(tsc, 0) << vcpu;
    EXPECT_LT(tsc, get_clock);
    EXPECT_EQ(ev[tsc].thread_vcpu, vcpu);  // read on that vCPU's own thread
    EXPECT_TRUE(
        backtrace_has(ev[tsc], {"do_kvm_synchronize_tsc", "kvm_synchronize_all_tsc", "kvmclock",
                                "vm_state_notify", "do_vm_stop", "vm_stop", "qmp:stop"}));
    long msr = find_event(
        ev, notify, is(EventType::MsrAccess, "get vcpu=" + std::to_string(vcpu) + " level=none"));
    ASSERT_GE(msr, 0);
    EXPECT_LT(msr, tsc);
  }

  // Cont: run-state change, kvmclock's notifier, KVM_SET_CLOCK, one KVMCLOCK_CTRL per vCPU on its
  // own thread.
  long cont = find_event(ev, get_clock, is(EventType::RunStateChange, "paused -> running"));
  ASSERT_GE(cont, 0);
  EXPECT_TRUE(backtrace_has(ev[cont], {"vm_prepare_start", "vm_start", "qmp:cont"}));
  long start_notify = find_event(
      ev, cont, is(EventType::NotifierCall, "handler=kvmclock priority=0 phase=main running=true"));
  ASSERT_GE(start_notify, 0);
  long set_clock = find_event(ev, start_notify, is(EventType::ClockAccess, "set clock=5000000000"));
  ASSERT_GE(set_clock, 0);
  long last_ctrl = set_clock;
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long ctrl =
        find_event(ev, set_clock, is(EventType::KvmclockCtrl, "vcpu=" + std::to_string(vcpu)));
    ASSERT_GE(ctrl, 0) << vcpu;
    EXPECT_EQ(ev[ctrl].thread_vcpu, vcpu);
    EXPECT_TRUE(backtrace_has(ev[ctrl], {"do_kvmclock_ctrl", "kvmclock", "vm_state_notify",
                                         "vm_prepare_start", "vm_start", "qmp:cont"}));
    last_ctrl = std::max(last_ctrl, ctrl);
  }
  // No vCPU ran before the last KVMCLOCK_CTRL: a vCPU in KVM_RUN would have been kicked out by the
  // queued ctrl work, leaving an exit before it.
  long first_exit = find_event(ev, cont, is(EventType::VcpuExit));
  ASSERT_GE(first_exit, 0);
  EXPECT_GT(first_exit, last_ctrl);
  size_t ctrls = 0;
  for (const auto& e : ev) ctrls += e.type == EventType::KvmclockCtrl;
  EXPECT_EQ(ctrls, 4u);  // boot start and cont, two vCPUs each
  EXPECT_GT(last_ctrl, set_clock);

  // The RUNTIME put of vCPU 0 (dirty after kvmclock read its pvclock page at boot) happens in the
  // vCPU loop before KVM_RUN.
  long runtime = find_event(ev, 0, is(EventType::MsrAccess, "put vcpu=0 level=runtime"));
  ASSERT_GE(runtime, 0);
  EXPECT_TRUE(
      backtrace_has(ev[runtime], {"kvm_put_msrs", "kvm_arch_put_registers", "kvm_cpu_exec"}));
}

}  // namespace
}  // namespace rrvm::devices
