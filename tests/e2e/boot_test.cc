// Boot and guest-driven endings of `rrvm run` with the built-in rrvm guest: the ready marker, the
// debug-exit status as rrvm's exit status, reset/triple-fault (reboot, or shutdown with
// --no-reboot) and a KVM internal error, each checked on the console, the exit status and the trace.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_test_support.h"

namespace rrvm::e2e {
namespace {

using core::testing::find_event;
using core::testing::is;
using trace::EventType;
using namespace std::chrono_literals;

TEST(E2eBoot, ReadyMarkerWithTwoCpusOnKvmclockAndFullPutPerVcpu) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RunResult r = run_rrvm(dir, "vm",
                         {"run", "--trace", f.trace, "--serial", f.console, "--append",
                          "scenario=ticks:2"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string console = read_file(f.console);
  EXPECT_EQ(count_lines(console, "rrvm-guest: ready cpus=2 clocksource=kvmclock"), 1u) << console;
  EXPECT_EQ(parse_ticks(console).size(), 2u) << console;
  EXPECT_NE(r.err.find(f.trace), std::string::npos) << "rrvm should say where the trace went";

  auto events = load_trace(f.trace);
  long running = find_event(events, 0, is(EventType::RunStateChange, "prelaunch -> running"));
  ASSERT_GE(running, 0) << describe(events, 0, events.size());
  // QEMU's order: a FULL put on every vCPU after init, before the VM first runs.
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    std::string put = "put vcpu=" + std::to_string(vcpu) + " level=full";
    long at = find_event(events, 0, is(EventType::MsrAccess, put));
    EXPECT_GE(at, 0) << put << " missing";
    EXPECT_LT(at, running) << put << " must come before the VM runs";
    if (at >= 0) {
      EXPECT_EQ(events[at].thread_vcpu, vcpu) << events[at].str();
    }
  }
}

TEST(E2eBoot, ExitStatusIsTheGuestsDebugExitValue) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  for (int code : {7, 0, 42}) {
    RunResult r = run_rrvm(dir, "exit" + std::to_string(code),
                           {"run", "--no-trace", "--serial", dir.file("c"), "--append",
                            "scenario=exit:" + std::to_string(code)});
    EXPECT_EQ(r.status, code) << r.err;
    EXPECT_FALSE(r.signaled);
  }
  RunResult ticks = run_rrvm(dir, "ticks",
                             {"run", "--no-trace", "--serial", dir.file("t"), "--append",
                              "scenario=ticks:2"});
  EXPECT_EQ(ticks.status, 0) << ticks.err;
  EXPECT_EQ(parse_ticks(read_file(dir.file("t"))).size(), 2u);
}

// Reset and triple fault without --no-reboot: QEMU's behaviour is a system reset (RESET event,
// RESET-level register put on every vCPU) and the guest boots again.
void expect_reboot(const std::string& scenario) {
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--append", "scenario=" + scenario}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  auto reset = qmp.wait_event("RESET", 20s);
  ASSERT_TRUE(reset.has_value()) << "no RESET event; console:\n" << read_file(f.console);
  EXPECT_EQ((*reset)["data"]["guest"], true) << reset->dump();
  EXPECT_TRUE(wait_until(20s, [&] { return count_lines(read_file(f.console), READY_MARKER) >= 2; }))
      << "the guest did not boot again:\n" << read_file(f.console);
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();

  auto events = load_trace(f.trace);
  long rst = find_event(events, 0, is(EventType::MonitorReply, "\"event\":\"RESET\""));
  ASSERT_GE(rst, 0) << describe(events, 0, events.size());
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    std::string put = "put vcpu=" + std::to_string(vcpu) + " level=reset";
    EXPECT_GE(find_event(events, 0, is(EventType::MsrAccess, put)), 0) << put << " missing";
  }
}

TEST(E2eBoot, ResetPortRebootsTheGuest) {
  RRVM_E2E_REQUIRE_KVM();
  expect_reboot("reset");
}

TEST(E2eBoot, TripleFaultRebootsTheGuest) {
  RRVM_E2E_REQUIRE_KVM();
  expect_reboot("triple-fault");
}

// With --no-reboot a reset request ends rrvm: SHUTDOWN with reason guest-reset, run state
// shutdown, exit status 0 (QEMU's -no-reboot), and the guest does not boot again.
void expect_no_reboot_shutdown(const std::string& scenario, const std::string& cause_exit) {
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--no-reboot", "--append", "scenario=" + scenario}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  auto shutdown = qmp.wait_event("SHUTDOWN", 20s);
  ASSERT_TRUE(shutdown.has_value()) << "no SHUTDOWN event; console:\n" << read_file(f.console);
  EXPECT_EQ((*shutdown)["data"]["guest"], true) << shutdown->dump();
  EXPECT_EQ((*shutdown)["data"]["reason"], "guest-reset") << shutdown->dump();
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();
  EXPECT_EQ(count_lines(read_file(f.console), READY_MARKER), 1u) << read_file(f.console);

  auto events = load_trace(f.trace);
  long cause = find_event(events, 0, is(EventType::VcpuExit, cause_exit));
  ASSERT_GE(cause, 0) << cause_exit << " missing:\n" << describe(events, 0, events.size());
  long down = find_event(events, cause,
                         is(EventType::RunStateChange, "running -> shutdown reason=\"guest-reset\""));
  EXPECT_GE(down, 0) << describe(events, cause, events.size());
  EXPECT_EQ(find_event(events, 0, is(EventType::MonitorReply, "\"event\":\"RESET\"")), -1);
}

TEST(E2eBoot, ResetPortWithNoRebootShutsDown) {
  RRVM_E2E_REQUIRE_KVM();
  expect_no_reboot_shutdown("reset", "io write port=0xcf9");
}

TEST(E2eBoot, TripleFaultWithNoRebootShutsDown) {
  RRVM_E2E_REQUIRE_KVM();
  expect_no_reboot_shutdown("triple-fault", "vcpu=0 shutdown");
}

// An instruction KVM's emulator refuses: the VM stops in internal-error with the decoded reason
// recorded (QEMU keeps the process and its monitor alive in that state).
TEST(E2eBoot, BadInstructionEndsInInternalErrorWithReason) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--append", "scenario=bad-insn,ticks:1"}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  std::string status;
  EXPECT_TRUE(wait_until(20s, [&] { return (status = qmp.status()) != "running"; }));
  if (read_file(f.console).find("cmpxchg16b completed") != std::string::npos) {
    GTEST_SKIP() << "this host's CPU ran cmpxchg16b natively: no emulation failure to observe";
  }
  EXPECT_EQ(status, "internal-error");
  EXPECT_TRUE(parse_ticks(read_file(f.console)).empty()) << "a vCPU ran on after the error";
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_TRUE(vm.wait(20s).has_value()) << vm.describe();

  auto events = load_trace(f.trace);
  long err = find_event(events, 0, is(EventType::RunStateChange, "running -> internal-error"));
  ASSERT_GE(err, 0) << describe(events, 0, events.size());
  EXPECT_NE(events[err].text.find("emulation failure"), std::string::npos) << events[err].str();
  EXPECT_GE(find_event(events, 0, is(EventType::VcpuExit, "internal-error")), 0)
      << describe(events, 0, err + 1);
}

}  // namespace
}  // namespace rrvm::e2e
