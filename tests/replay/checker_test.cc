// ReplayChecker.*: each rule of replay/invariants.h on a synthetic trace that keeps it and on one
// that breaks it, asserting the exact seq and rule of what is reported.
#include <gtest/gtest.h>

#include "replay/checker.h"
#include "tests/replay/check_traces.h"
#include "tests/trace/test_util.h"
#include "trace/reader.h"

namespace rrvm::replay::testing {
namespace {

using trace::RunState;
using trace::testing::temp_path;

// Records `body` and checks the whole trace.
CheckReport record_and_check(const std::function<void()>& body,
                             const trace::Header& header = kvm_header(),
                             std::string* path_out = nullptr) {
  std::string path = temp_path("check.rrtrace");
  Status st = record_trace(path, body, header);
  EXPECT_TRUE(st.ok()) << st.error().describe();
  if (path_out) *path_out = path;
  return check_trace(path, {.all = true});
}

std::string describe(const CheckReport& r) {
  std::string s;
  for (const auto& f : r.findings)
    s += "seq " + std::to_string(f.seq) + " " + f.rule + ": " + f.message + "\n";
  if (r.error) s += "error: " + r.error->describe() + "\n";
  return s;
}

TEST(ReplayChecker, ALegitRunInQemuOrderHasNoFindings) {
  std::string path;
  CheckReport r = record_and_check(legit_run, kvm_header(), &path);
  ASSERT_TRUE(r.opened);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.truncation, "");
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_FALSE(r.stopped_early);
  auto reader = trace::Reader::open(path);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->footer().has_value());
  EXPECT_EQ(r.events_checked, (*reader)->footer()->events);
  ASSERT_EQ(r.rules.size(), 4u);
  for (const auto& rule : r.rules) EXPECT_EQ(rule.not_checked, "") << rule.name;
  EXPECT_EQ(r.rules[0].name, "run-state");
  EXPECT_EQ(r.rules[1].name, "clock-monotonic");
  EXPECT_EQ(r.rules[2].name, "kvmclock-ctrl-before-run");
  EXPECT_EQ(r.rules[3].name, "order");
}

// --- run-state ----------------------------------------------------------------------------------

TEST(ReplayChecker, RunStateChangeFromAStateTheVmIsNotIn) {
  std::string path;
  CheckReport r = record_and_check(
      [] {
        change(RunState::Prelaunch, RunState::Running);
        change(RunState::Running, RunState::Paused);
        change(RunState::Running, RunState::Shutdown);  // the VM is paused
      },
      kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "run-state");
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "run-state", "running -> shutdown"));
  EXPECT_EQ(r.findings[0].message,
            "expected a change from paused (set by the change at seq " +
                std::to_string(seq_of(path, "run-state", "running -> paused")) +
                "), seen one from running");
  EXPECT_NE(r.findings[0].event.find("run-state      running -> shutdown reason=\"test\""),
            std::string::npos)
      << r.findings[0].event;
}

TEST(ReplayChecker, RunStateFirstChangeMustLeavePrelaunch) {
  std::string path;
  CheckReport r =
      record_and_check([] { change(RunState::Running, RunState::Paused); }, kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, 0u);
  EXPECT_EQ(r.findings[0].message,
            "expected a change from prelaunch (the initial state), seen one from running");
}

TEST(ReplayChecker, RunStateAcceptedIllegalTransition) {
  std::string path;
  CheckReport r = record_and_check(
      [] {
        change(RunState::Prelaunch, RunState::Running);
        change(RunState::Running, RunState::Prelaunch);  // not in QEMU's table
        change(RunState::Prelaunch, RunState::Running);  // replay follows the recording
      },
      kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "run-state");
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "run-state", "running -> prelaunch"));
  EXPECT_EQ(r.findings[0].message,
            "accepted running -> prelaunch, which QEMU's transition table forbids");
}

TEST(ReplayChecker, RunStateRefusedLegalTransitionAndRefusedIllegalOne) {
  std::string path;
  CheckReport r = record_and_check(
      [] {
        change(RunState::Prelaunch, RunState::Running);
        change(RunState::Running, RunState::Prelaunch, false);  // correctly refused
        change(RunState::Running, RunState::Paused, false);     // legal: must not be refused
        change(RunState::Running, RunState::Paused);            // the state stayed running
      },
      kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq,
            seq_of(path, "run-state", "running -> paused reason=\"test\" REFUSED"));
  EXPECT_EQ(r.findings[0].message,
            "refused running -> paused, which QEMU's transition table allows");
}

// --- clock-monotonic ----------------------------------------------------------------------------

TEST(ReplayChecker, ClockGetBelowThePreviousGet) {
  std::string path;
  CheckReport r = record_and_check(
      [] {
        clock_get(5000);
        clock_get(4000);
      },
      kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "clock-monotonic");
  EXPECT_EQ(r.findings[0].seq, 1u);
  EXPECT_EQ(r.findings[0].message,
            "KVM_GET_CLOCK read 4000 ns, expected at least the 5000 ns read at seq 0: the clock "
            "went back by 1000 ns");
}

TEST(ReplayChecker, ClockGetBelowThePreviousSet) {
  CheckReport r = record_and_check([] {
    clock_get(5000);
    clock_set(9000);
    clock_get(8000);
  });
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, 2u);
  EXPECT_EQ(r.findings[0].message,
            "KVM_GET_CLOCK read 8000 ns, expected at least the 9000 ns set at seq 1: the clock "
            "went back by 1000 ns");
}

TEST(ReplayChecker, ClockSetBelowAReliableGet) {
  CheckReport r = record_and_check([] {
    clock_get(5000);
    clock_set(4500);
  });
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "clock-monotonic");
  EXPECT_EQ(r.findings[0].seq, 1u);
  EXPECT_EQ(r.findings[0].message,
            "KVM_SET_CLOCK set 4500 ns, expected at least the 5000 ns read (TSC_STABLE) at seq 0: "
            "500 ns of the clock undone");
}

TEST(ReplayChecker, ClockSetBelowAnUnreliableGetAndFailedCallsAreAccepted) {
  CheckReport r = record_and_check([] {
    clock_get(5000, /*tsc_stable=*/false);
    clock_set(4500);  // recomputed from the guest's pvclock page
    trace::emit(trace::ClockAccess{trace::ClockOp::Get, 0, 0, 0, 0, 5});  // EIO: no value
    clock_get(4600);
    clock_set(4600);
  });
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

TEST(ReplayChecker, ClockSetBelowAStableGetIsAcceptedWhenTheHostCannotSayStable) {
  trace::Header h = kvm_header();
  h.kvm_caps[0].second = 4;  // ADJUST_CLOCK without TSC_STABLE: kvmclock never trusts a read
  CheckReport r = record_and_check(
      [] {
        clock_get(5000);
        clock_set(4500);
      },
      h);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

// --- kvmclock-ctrl-before-run -------------------------------------------------------------------

// prelaunch -> running -> paused (kvmclock stop) -> running, then `after_start`.
CheckReport stop_and_cont(const std::function<void()>& after_start, std::string* path,
                          const trace::Header& header = kvm_header()) {
  return record_and_check(
      [&] {
        change(RunState::Prelaunch, RunState::Running);
        clock_set(0);
        vcpu_exit(0, 0x10);  // the first start saved no clock: nothing to tell the guest yet
        vcpu_exit(1, 0x10);
        change(RunState::Running, RunState::Paused);
        clock_get(1000);
        change(RunState::Paused, RunState::Running);
        clock_set(1000);
        after_start();
      },
      header, path);
}

TEST(ReplayChecker, KvmclockCtrlForEveryVcpuBeforeItRunsIncludingEinval) {
  std::string path;
  CheckReport r = stop_and_cont(
      [] {
        ctrl(0, 22);  // EINVAL: the guest never enabled kvmclock
        ctrl(1);
        vcpu_exit(0, 0x20);
        vcpu_exit(1, 0x20);
      },
      &path);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

TEST(ReplayChecker, KvmclockCtrlMissingForOneVcpu) {
  std::string path;
  CheckReport r = stop_and_cont(
      [] {
        ctrl(0);
        vcpu_exit(0, 0x20);
        vcpu_exit(1, 0x21);
        vcpu_exit(1, 0x22);  // one finding per vCPU and start
      },
      &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "kvmclock-ctrl-before-run");
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "exit", "port=0x21"));
  EXPECT_EQ(r.findings[0].message,
            "vcpu 1 ran after the start at seq " +
                std::to_string(seq_of(path, "run-state", "paused -> running")) +
                " without its KVMCLOCK_CTRL: expected one (any result) before its first exit, "
                "since the clock was saved at seq " +
                std::to_string(seq_of(path, "clock", "get clock=1000ns")));
}

TEST(ReplayChecker, KvmclockCtrlAfterTheVcpuAlreadyRanIsTooLate) {
  std::string path;
  CheckReport r = stop_and_cont(
      [] {
        ctrl(1);
        vcpu_exit(0, 0x20);
        ctrl(0);
      },
      &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "exit", "port=0x20"));
}

TEST(ReplayChecker, KvmclockCtrlFailedKvmRunCountsAsARun) {
  std::string path;
  CheckReport r = stop_and_cont(
      [] {
        trace::emit(trace::HvCall{0, "KVM_RUN", -1, 14, {}});
      },
      &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "hv-call", "KVM_RUN"));
}

TEST(ReplayChecker, KvmclockCtrlAfterAnIncomingMigrationLoadedTheClock) {
  std::string path;
  CheckReport r = record_and_check(
      [] {
        change(RunState::Prelaunch, RunState::InMigrate);
        trace::emit(trace::SnapshotSection{trace::SectionOp::Load, "kvmclock", 32, 1, true, ""});
        change(RunState::InMigrate, RunState::Running);
        clock_set(7000);
        ctrl(1);
        vcpu_exit(1, 0x30);
        vcpu_exit(0, 0x31);
      },
      kvm_header(), &path);
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, seq_of(path, "exit", "port=0x31"));
}

TEST(ReplayChecker, KvmclockCtrlIsNotCheckedWithoutTheCapability) {
  std::string path;
  CheckReport r = stop_and_cont([] { vcpu_exit(0, 0x20); }, &path, kvm_header(0));
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.rules[2].not_checked,
            "the recording host had no KVM_CAP_KVMCLOCK_CTRL, so rrvm issued none");
  trace::Header no_caps = kvm_header();
  no_caps.kvm_caps.clear();
  r = stop_and_cont([] { vcpu_exit(0, 0x20); }, &path, no_caps);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.rules[2].not_checked,
            "the trace header does not say whether the host had KVM_CAP_KVMCLOCK_CTRL");
}

TEST(ReplayChecker, KvmclockCtrlNotOwedOnceTheVmStoppedAgain) {
  std::string path;
  CheckReport r = stop_and_cont(
      [] {
        change(RunState::Running, RunState::Paused);  // stopped before any vCPU ran
        change(RunState::Paused, RunState::Running);  // no clock read since the last start
        vcpu_exit(0, 0x20);
      },
      &path);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

// --- order --------------------------------------------------------------------------------------

trace::EventRecord ev(uint64_t seq, uint64_t time, uint16_t thread, trace::SpanId span,
                      trace::EventBody body) {
  return trace::EventRecord{seq, time, thread, span, body};
}

constexpr trace::SpanId MAIN_1 = (uint64_t{1} << 40) | 1;  // thread 0's first span
constexpr trace::SpanId MAIN_2 = (uint64_t{1} << 40) | 2;
constexpr trace::SpanId VCPU_1 = (uint64_t{2} << 40) | 1;  // thread 1's first span

CheckReport check_raw(const std::vector<trace::EventRecord>& events) {
  std::string path = temp_path("raw.rrtrace");
  Status st = write_raw_trace(path, events);
  EXPECT_TRUE(st.ok()) << st.error().describe();
  return check_trace(path, {.all = true});
}

TEST(ReplayChecker, OrderSpansHandedToAnotherThreadAfterTheirEndAreFine) {
  CheckReport r = check_raw({
      ev(0, 100, 0, MAIN_1, trace::SpanBegin{0, "qmp:stop"}),
      ev(1, 100, 0, MAIN_1, trace::UserMark{"in qmp:stop"}),
      ev(2, 110, 0, MAIN_1, trace::SpanEnd{}),
      ev(3, 120, 1, VCPU_1, trace::SpanBegin{MAIN_1, "do_kvmclock_ctrl"}),  // parent ended
      ev(4, 120, 1, VCPU_1, trace::KvmclockCtrl{0, 22}),
      ev(5, 130, 1, VCPU_1, trace::SpanEnd{}),
      ev(6, 130, 0, 0, trace::UserMark{"no span"}),
  });
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_EQ(r.events_checked, 7u);
}

TEST(ReplayChecker, OrderTimeGoingBackwards) {
  CheckReport r = check_raw({
      ev(0, 100, 0, 0, trace::UserMark{"a"}),
      ev(1, 200, 0, 0, trace::UserMark{"b"}),
      ev(2, 150, 0, 0, trace::UserMark{"c"}),
      ev(3, 200, 0, 0, trace::UserMark{"d"}),
  });
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].rule, "order");
  EXPECT_EQ(r.findings[0].seq, 2u);
  EXPECT_EQ(r.findings[0].message,
            "time 150 ns is 50 ns before seq 1's: expected times that never decrease");
}

TEST(ReplayChecker, OrderSpanBegunTwiceEndedTwiceAndEndedWithoutABegin) {
  CheckReport r = check_raw({
      ev(0, 100, 0, MAIN_1, trace::SpanBegin{0, "a"}),
      ev(1, 100, 0, MAIN_1, trace::SpanBegin{0, "a again"}),
      ev(2, 100, 0, MAIN_1, trace::SpanEnd{}),
      ev(3, 100, 0, MAIN_1, trace::SpanEnd{}),
      ev(4, 100, 1, VCPU_1, trace::SpanEnd{}),
  });
  ASSERT_EQ(r.findings.size(), 3u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, 1u);
  EXPECT_EQ(r.findings[0].message, "span 0x10000000001 is begun twice");
  EXPECT_EQ(r.findings[1].seq, 3u);
  EXPECT_EQ(r.findings[1].message, "span 0x10000000001 is ended twice");
  EXPECT_EQ(r.findings[2].seq, 4u);
  EXPECT_EQ(r.findings[2].message, "span 0x20000000001 ends without a begin");
}

TEST(ReplayChecker, OrderEventsCarryingSpansThatAreNotOpen) {
  CheckReport r = check_raw({
      ev(0, 100, 0, MAIN_2, trace::UserMark{"never begun"}),
      ev(1, 100, 0, MAIN_1, trace::SpanBegin{0, "a"}),
      ev(2, 100, 0, MAIN_1, trace::SpanEnd{}),
      ev(3, 100, 0, MAIN_1, trace::UserMark{"after the end"}),
      ev(4, 100, 1, VCPU_1, trace::SpanBegin{MAIN_2, "parent never begun"}),
      ev(5, 100, 0, VCPU_1, trace::UserMark{"another thread's span"}),
  });
  ASSERT_EQ(r.findings.size(), 4u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, 0u);
  EXPECT_EQ(r.findings[0].message, "carries span 0x10000000002, which was never begun");
  EXPECT_EQ(r.findings[1].seq, 3u);
  EXPECT_EQ(r.findings[1].message,
            "carries span 0x10000000001, which already ended: expected an open span or none");
  EXPECT_EQ(r.findings[2].seq, 4u);
  EXPECT_EQ(r.findings[2].message,
            "span 0x20000000001 names parent 0x10000000002, which was never begun before it");
  EXPECT_EQ(r.findings[3].seq, 5u);
  EXPECT_EQ(r.findings[3].message,
            "carries span 0x20000000001 on thread 0, expected its own thread 1");
}

TEST(ReplayChecker, OrderSkippedSpanIdsAreDropsNotBegins) {
  // Thread 0's spans 2 and 3 were dropped: 4 may follow 1, but 2 was never begun.
  CheckReport r = check_raw({
      ev(0, 100, 0, MAIN_1, trace::SpanBegin{0, "a"}),
      ev(1, 100, 0, MAIN_1, trace::SpanEnd{}),
      ev(2, 100, 0, 0, trace::Dropped{2}),
      ev(3, 100, 0, MAIN_1 + 3, trace::SpanBegin{0, "d"}),
      ev(4, 100, 0, MAIN_2, trace::SpanEnd{}),
  });
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_EQ(r.findings[0].seq, 4u);
  EXPECT_EQ(r.findings[0].message, "span 0x10000000002 ends without a begin");
  EXPECT_EQ(r.findings[0].dropped_before, 2u);
  EXPECT_EQ(r.dropped, 2u);
}

// The reader refuses a file whose seqs do not increase, so the rule sees such events only when fed
// directly.
TEST(ReplayChecker, OrderSeqNotIncreasingWhenFedDirectly) {
  trace::TraceHeader header;
  header.header = kvm_header();
  Checker checker(header, {.all = true});
  checker.check(ev(5, 100, 0, 0, trace::UserMark{"a"}), "main");
  checker.check(ev(5, 100, 0, 0, trace::UserMark{"b"}), "main");
  checker.check(ev(4, 100, 0, 0, trace::UserMark{"c"}), "main");
  const auto& f = checker.report().findings;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].seq, 5u);
  EXPECT_EQ(f[0].message, "seq 5 follows seq 5: expected a seq above it");
  EXPECT_EQ(f[1].seq, 4u);
  EXPECT_EQ(f[1].message, "seq 4 follows seq 5: expected a seq above it");
}

// --- the checker itself -------------------------------------------------------------------------

TEST(ReplayChecker, StopsAtTheFirstDivergenceUnlessAll) {
  std::string path = temp_path("two.rrtrace");
  ASSERT_TRUE(record_trace(path, [] {
                change(RunState::Running, RunState::Paused);  // from the wrong state
                clock_get(10);
                clock_get(5);
              }).ok());
  CheckReport first = check_trace(path);
  ASSERT_EQ(first.findings.size(), 1u) << describe(first);
  EXPECT_EQ(first.findings[0].seq, 0u);
  EXPECT_TRUE(first.stopped_early);
  EXPECT_EQ(first.events_checked, 1u);
  CheckReport all = check_trace(path, {.all = true});
  ASSERT_EQ(all.findings.size(), 2u) << describe(all);
  EXPECT_EQ(all.findings[1].seq, 2u);
  EXPECT_EQ(all.findings[1].rule, "clock-monotonic");
  EXPECT_FALSE(all.stopped_early);
  EXPECT_EQ(all.events_checked, 3u);
  EXPECT_EQ(all.rules[0].findings, 1u);
  EXPECT_EQ(all.rules[1].findings, 1u);
}

TEST(ReplayChecker, ATruncatedTraceIsCheckedUpToItsLastCompleteChunk) {
  std::string path = temp_path("long.rrtrace");
  ASSERT_TRUE(record_trace(
                  path,
                  [] {
                    for (uint64_t i = 0; i < 400; ++i) {
                      clock_get(1000 * (i + 1));
                      trace::emit(trace::UserMark{"filler to make the chunks fill up quickly"});
                    }
                  },
                  kvm_header(), /*chunk_bytes=*/2048)
                  .ok());
  auto reader = trace::Reader::open(path);
  ASSERT_TRUE(reader.ok());
  const auto chunks = (*reader)->chunks();
  ASSERT_GT(chunks.size(), 4u);
  size_t k = chunks.size() - 2;
  std::string cut = temp_path("cut.rrtrace");
  trace::testing::write_bytes(cut,
                              trace::testing::read_bytes(path).substr(0, chunks[k].offset + 10));
  CheckReport r = check_trace(cut);
  EXPECT_TRUE(r.findings.empty()) << describe(r);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events_checked, chunks[k].first_seq);
  EXPECT_NE(
      r.truncation.find(cut + ": truncated after event " + std::to_string(chunks[k].first_seq - 1)),
      std::string::npos)
      << r.truncation;
}

}  // namespace
}  // namespace rrvm::replay::testing
