// What the guest ends or resets through its exits, on the whole machine over the in-memory
// hypervisor (fake_machine.h), on every host: the debug-exit port's value becomes rrvm's exit
// status; a reset-port write and a triple fault reset the machine (RESET event, RESET-level put on
// every vCPU, the boot state back in the registers, vCPUs running again) or, with no-reboot, shut
// it down; a KVM internal error stops the VM in internal-error with the reason. Every trace passes
// `rrvm check --all`. tests/e2e/boot_test.cc does the same with the real guest on KVM.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/e2e/e2e_test_support.h"
#include "tests/machine/machine_test_support.h"
#include "vmm/devices/debug_exit.h"
#include "vmm/devices/reset_port.h"

namespace rrvm::machine::testing {
namespace {

using core::testing::find_event;
using core::testing::is;
using e2e::TempDir;
using trace::EventType;
using namespace std::chrono_literals;

hv::Exit port_write(uint64_t port) {
  return hv::Exit{
      .kind = hv::Exit::Kind::Io, .address = port, .size = 1, .count = 1, .is_write = true};
}

TEST(GuestExitsOnFakeHv, DebugExitPortValueIsRrvmsExitStatus) {
  for (uint8_t code : {uint8_t{42}, uint8_t{0}}) {
    TempDir dir;
    MachineConfig config = fake_machine_config(dir.path(), "vm");
    {
      FakeMachine vm(config);
      e2e::QmpClient qmp;
      start_running(vm, config, qmp);
      if (::testing::Test::HasFatalFailure()) return;
      vm.vcpu(1).push_exit(port_write(devices::DEBUG_EXIT_PORT), {code});
      EXPECT_EQ(vm.wait(), code);
    }
    auto ev = e2e::load_trace(config.trace_path);
    EXPECT_GE(find_event(ev, 0, is(EventType::RunStateChange, "running -> shutdown")), 0)
        << e2e::describe(ev, 0, ev.size());
    e2e::expect_trace_checks_clean(dir, config.trace_path);
  }
}

// The guest's reset request (reset port, or a triple fault): QEMU resets the machine.
void expect_reset(hv::Exit exit, std::vector<uint8_t> data) {
  TempDir dir;
  MachineConfig config = fake_machine_config(dir.path(), "vm");
  {
    FakeMachine vm(config);
    e2e::QmpClient qmp;
    start_running(vm, config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    hv::Regs boot_regs = vm.vcpu(0).regs;  // no guest code runs: still the boot state
    ASSERT_TRUE(qmp.ok("stop"));
    vm.vcpu(0).regs.rip += 0x100;  // the "guest" moved on before the reset
    vm.vcpu(0).regs.rax = 0x1234;
    ASSERT_TRUE(qmp.ok("cont"));
    vm.vcpu(0).push_exit(exit, std::move(data));
    auto reset = qmp.wait_event("RESET", 10s);
    ASSERT_TRUE(reset.has_value()) << "no RESET event";
    EXPECT_EQ((*reset)["data"]["guest"], true) << reset->dump();
    size_t runs = vm.vcpu(0).runs();
    ASSERT_TRUE(vm.vcpu(0).wait_runs(runs + 2)) << "vcpu0 does not run after the reset";
    EXPECT_EQ(qmp.status(), "running");
    ASSERT_TRUE(qmp.ok("stop"));
    EXPECT_EQ(std::memcmp(&vm.vcpu(0).regs, &boot_regs, sizeof boot_regs), 0)
        << "the reset did not put the boot state back: rip " << vm.vcpu(0).regs.rip;
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }
  auto ev = e2e::load_trace(config.trace_path);
  long rst = find_event(ev, 0, is(EventType::MonitorReply, "\"event\":\"RESET\""));
  ASSERT_GE(rst, 0) << e2e::describe(ev, 0, ev.size());
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    std::string put = "put vcpu=" + std::to_string(vcpu) + " level=reset";
    EXPECT_GE(find_event(ev, 0, is(EventType::MsrAccess, put)), 0) << put << " missing";
  }
  e2e::expect_trace_checks_clean(dir, config.trace_path);
}

TEST(GuestExitsOnFakeHv, ResetPortWriteResetsTheMachine) {
  expect_reset(port_write(devices::RESET_CONTROL_PORT), {0x06});
}

TEST(GuestExitsOnFakeHv, TripleFaultResetsTheMachine) {
  expect_reset(hv::Exit{.kind = hv::Exit::Kind::Shutdown}, {});
}

TEST(GuestExitsOnFakeHv, ResetWithNoRebootShutsDown) {
  TempDir dir;
  MachineConfig config = fake_machine_config(dir.path(), "vm");
  config.no_reboot = true;
  {
    FakeMachine vm(config);
    e2e::QmpClient qmp;
    start_running(vm, config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    vm.vcpu(0).push_exit(port_write(devices::RESET_CONTROL_PORT), {0x06});
    auto shutdown = qmp.wait_event("SHUTDOWN", 10s);
    ASSERT_TRUE(shutdown.has_value());
    EXPECT_EQ((*shutdown)["data"]["reason"], "guest-reset") << shutdown->dump();
    EXPECT_EQ(vm.wait(), 0);
  }
  auto ev = e2e::load_trace(config.trace_path);
  EXPECT_GE(find_event(ev, 0,
                       is(EventType::RunStateChange, "running -> shutdown reason=\"guest-reset\"")),
            0)
      << e2e::describe(ev, 0, ev.size());
  EXPECT_EQ(find_event(ev, 0, is(EventType::MonitorReply, "\"event\":\"RESET\"")), -1);
  e2e::expect_trace_checks_clean(dir, config.trace_path);
}

TEST(GuestExitsOnFakeHv, InternalErrorStopsTheVmWithTheReason) {
  TempDir dir;
  MachineConfig config = fake_machine_config(dir.path(), "vm");
  {
    FakeMachine vm(config);
    e2e::QmpClient qmp;
    start_running(vm, config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    vm.vcpu(1).push_exit(hv::Exit{.kind = hv::Exit::Kind::InternalError, .detail = 1});
    std::string status;
    EXPECT_TRUE(e2e::wait_until(10s, [&] { return (status = qmp.status()) != "running"; }));
    EXPECT_EQ(status, "internal-error");
    size_t runs = vm.vcpu(0).runs();
    std::this_thread::sleep_for(20 * FAKE_EXIT_PERIOD);
    EXPECT_EQ(vm.vcpu(0).runs(), runs) << "a vCPU ran on after the error";
    EXPECT_FALSE(qmp.ok("cont")) << "cont must be refused until a reset";
    EXPECT_TRUE(qmp.ok("quit"));
    vm.wait();
  }
  auto ev = e2e::load_trace(config.trace_path);
  long err = find_event(ev, 0, is(EventType::RunStateChange, "running -> internal-error"));
  ASSERT_GE(err, 0) << e2e::describe(ev, 0, ev.size());
  EXPECT_NE(ev[err].text.find("vcpu 1: KVM internal error: emulation failure"), std::string::npos)
      << ev[err].str();
  e2e::expect_trace_checks_clean(dir, config.trace_path);
}

}  // namespace
}  // namespace rrvm::machine::testing
