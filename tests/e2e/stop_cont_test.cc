// stop/cont over QMP against a running rrvm guest: the trace shows QEMU's kvmclock sequence with
// its spans, and across 50 cycles the guest's own kvmclock never goes backwards and does not count
// the paused time.
#include <gtest/gtest.h>

#include <thread>

#include "tests/e2e/e2e_test_support.h"
#include "tests/e2e/stop_cont_sequence.h"

namespace rrvm::e2e {
namespace {

using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using trace::EventType;
using namespace std::chrono_literals;

TEST(E2eStopCont, TraceShowsKvmclockSequenceWithSpans) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--append", "tick_ms=50"}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  ASSERT_GE(wait_ticks(f.console, 1, 20s).size(), 1u) << read_file(f.console);
  ASSERT_TRUE(qmp.ok("stop"));
  EXPECT_EQ(qmp.status(), "paused");
  ASSERT_TRUE(qmp.ok("cont"));
  EXPECT_EQ(qmp.status(), "running");
  EXPECT_TRUE(wait_until(10s, [&] {
    return count_lines(read_file(f.console), "rrvm-guest: pvclock guest-stopped") >= 1;
  })) << read_file(f.console);
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();

  auto ev = load_trace(f.trace);
  long boot = find_event(ev, 0, is(EventType::RunStateChange, "prelaunch -> running"));
  ASSERT_GE(boot, 0);
  long stop_cmd = find_event(ev, boot, is(EventType::MonitorCommand, "\"stop\""));
  ASSERT_GE(stop_cmd, 0);
  long after_stop = expect_stop_sequence(ev, stop_cmd);
  ASSERT_GE(after_stop, 0);
  long stop = find_event(ev, stop_cmd, is(EventType::RunStateChange, "running -> paused"));
  EXPECT_TRUE(backtrace_has(ev[stop], {"vm_stop"}) || backtrace_has(ev[stop], {"do_vm_stop"}))
      << ev[stop].str();
  long after_cont = expect_cont_sequence(ev, after_stop);
  ASSERT_GE(after_cont, 0);
  // The clock is restored to the value saved at stop: paused time is not counted.
  long get = find_event(ev, after_stop - 1, is(EventType::ClockAccess, "get clock="));
  long set = find_event(ev, after_stop, is(EventType::ClockAccess, "set clock="));
  auto clock_of = [](const std::string& t) { return t.substr(t.find("clock="), t.find("ns ") - t.find("clock=")); };
  EXPECT_EQ(clock_of(ev[get].text), clock_of(ev[set].text)) << ev[get].str() << "\n" << ev[set].str();
  // A RUNTIME put runs before KVM_RUN once registers were fetched (cpu_synchronize_state).
  EXPECT_GE(find_event(ev, boot, is(EventType::MsrAccess, "level=runtime")), 0);
}

TEST(E2eStopCont, FiftyCyclesKvmclockMonotonicAndPausedTimeNotCounted) {
  RRVM_E2E_REQUIRE_KVM();
  constexpr int CYCLES = 50;
  constexpr auto PAUSE = 100ms;
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--append", "tick_ms=20"}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  auto first = wait_ticks(f.console, 1, 20s);
  ASSERT_FALSE(first.empty()) << read_file(f.console);
  // The host time of the last tick line seen before the cycles, within the 5 ms polling step.
  auto t0 = std::chrono::steady_clock::now();
  Tick k0 = first.back();
  std::chrono::nanoseconds paused{0};
  for (int i = 0; i < CYCLES; ++i) {
    auto before = std::chrono::steady_clock::now();
    ASSERT_TRUE(qmp.ok("stop")) << "cycle " << i;
    std::this_thread::sleep_for(PAUSE);
    ASSERT_TRUE(qmp.ok("cont")) << "cycle " << i;
    paused += std::chrono::steady_clock::now() - before;
    std::this_thread::sleep_for(10ms);
  }
  size_t seen = parse_ticks(read_file(f.console)).size();
  auto after = wait_ticks(f.console, seen + 1, 10s);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_GT(after.size(), seen);
  Tick k1 = after.back();
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();

  for (size_t i = 1; i < after.size(); ++i) {
    EXPECT_GT(after[i].kvmclock_ns, after[i - 1].kvmclock_ns) << "tick " << after[i].n;
    EXPECT_EQ(after[i].n, after[i - 1].n + 1);
  }
  const std::string console = read_file(f.console);
  EXPECT_GE(count_lines(console, "rrvm-guest: pvclock guest-stopped"), 1u) << console;
  auto host_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  auto guest_ns = static_cast<int64_t>(k1.kvmclock_ns - k0.kvmclock_ns);
  // The paused intervals (each measured generously, from before stop to after cont) are
  // >= 5 s; the guest clock must miss most of them. Host time includes polling slack.
  EXPECT_LT(guest_ns, host_ns - paused.count() / 2)
      << "guest kvmclock advanced " << guest_ns << " ns over " << host_ns
      << " ns of host time with " << paused.count() << " ns paused";
  EXPECT_GT(guest_ns, 0);

  auto ev = load_trace(f.trace);
  long at = find_event(ev, 0, is(EventType::RunStateChange, "prelaunch -> running"));
  ASSERT_GE(at, 0);
  for (int i = 0; i < CYCLES && at >= 0; ++i) {
    SCOPED_TRACE("cycle " + std::to_string(i));
    at = expect_stop_sequence(ev, at);
    if (at >= 0) at = expect_cont_sequence(ev, at);
  }
  expect_trace_checks_clean(dir, f.trace);
}

}  // namespace
}  // namespace rrvm::e2e
