// CheckCommand.*: `rrvm check` on synthetic traces: its output and exit codes (0 clean, 1
// findings, 2 unreadable, corrupt or truncated).
#include <gtest/gtest.h>

#include "tests/replay/check_traces.h"
#include "tests/trace/test_util.h"
#include "trace/reader.h"

namespace rrvm::replay::testing {
namespace {

using trace::RunState;
using trace::testing::CommandResult;
using trace::testing::run_command;
using trace::testing::split_lines;
using trace::testing::temp_path;

CommandResult run_check(const std::string& args) {
  return run_command(std::string(RRVM_BINARY) + " check " + args);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(CheckCommand, ACleanTraceExitsZeroWithASummary) {
  std::string path = temp_path("clean.rrtrace");
  ASSERT_TRUE(record_trace(path, legit_run).ok());
  auto r = run_check(path);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_TRUE(contains(lines[0], ": 0 findings")) << lines[0];
  EXPECT_EQ(lines[1], "  run-state                  0");
  EXPECT_EQ(lines[2], "  clock-monotonic            0");
  EXPECT_EQ(lines[3], "  kvmclock-ctrl-before-run   0");
  EXPECT_EQ(lines[4], "  order                      0");
}

void two_findings() {
  change(RunState::Running, RunState::Paused);  // the VM starts in prelaunch
  clock_get(10);
  clock_get(5);
}

TEST(CheckCommand, FindingsExitOneStoppingAtTheFirstUnlessAll) {
  std::string path = temp_path("bad.rrtrace");
  ASSERT_TRUE(record_trace(path, two_findings).ok());
  auto r = run_check(path);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  auto lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0],
            "seq 0  run-state  expected a change from prelaunch (the initial state), seen one "
            "from running");
  EXPECT_TRUE(contains(lines[1], "       0 0.")) << lines[1];
  EXPECT_TRUE(contains(lines[1], " main       run-state      running -> paused reason=\"test\""))
      << lines[1];
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3],
            "checked 1 event: 1 finding (stopped at the first divergence; --all lists all)");

  r = run_check("--all " + path);
  EXPECT_EQ(r.exit_code, 1);
  lines = split_lines(r.out);
  ASSERT_GE(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[2],
            "seq 2  clock-monotonic  KVM_GET_CLOCK read 5 ns, expected at least the 10 ns read "
            "at seq 1: the clock went back by 5 ns");
  EXPECT_TRUE(contains(lines[3], "clock          get clock=5ns")) << lines[3];
  EXPECT_EQ(lines[5], "checked 3 events: 2 findings");
  EXPECT_TRUE(contains(r.out, "  run-state                  1\n  clock-monotonic            1\n"))
      << r.out;
}

TEST(CheckCommand, ACorruptTraceExitsTwoWithAOneLineError) {
  std::string bad = temp_path("bad.rrtrace");
  trace::testing::write_bytes(bad, "this is not a trace at all, just some text");
  auto r = run_check(bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "rrvm check: " + bad + ": not an rrvm trace (bad magic at offset 0)\n");

  r = run_check(temp_path("missing.rrtrace"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
}

TEST(CheckCommand, SeqsOutOfOrderAreACorruptChunk) {
  std::string path = temp_path("reordered.rrtrace");
  ASSERT_TRUE(write_raw_trace(path,
                              {
                                  trace::EventRecord{5, 100, 0, 0, trace::UserMark{"a"}},
                                  trace::EventRecord{3, 100, 0, 0, trace::UserMark{"b"}},
                              },
                              /*footer=*/false)
                  .ok());
  auto r = run_check(path);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "checked 1 event (up to the unreadable part): 0 findings")) << r.out;
  EXPECT_TRUE(contains(r.err, "rrvm check: " + path + ": chunk 1 at offset ")) << r.err;
  EXPECT_TRUE(contains(r.err, "events from seq 3 follow seq 5 (out of order)")) << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.err;
}

TEST(CheckCommand, ATruncatedTraceChecksTheCompletePartAndSaysSo) {
  std::string path = temp_path("whole.rrtrace");
  ASSERT_TRUE(record_trace(path, legit_run).ok());
  auto reader = trace::Reader::open(path);
  ASSERT_TRUE(reader.ok());
  const auto& last = (*reader)->chunks().back();
  std::string cut = temp_path("nofooter.rrtrace");
  trace::testing::write_bytes(cut,
                              trace::testing::read_bytes(path).substr(0, last.offset + last.size));
  auto r = run_check(cut);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "(the complete part of a truncated trace): 0 findings")) << r.out;
  EXPECT_TRUE(contains(r.err, "rrvm check: " + cut + ": truncated after event ")) << r.err;

  // Findings in the complete part still make it a failed check (--all: read to the end).
  std::string bad = temp_path("bad.rrtrace");
  ASSERT_TRUE(record_trace(bad, two_findings).ok());
  reader = trace::Reader::open(bad);
  ASSERT_TRUE(reader.ok());
  const auto& bad_last = (*reader)->chunks().back();
  trace::testing::write_bytes(
      cut, trace::testing::read_bytes(bad).substr(0, bad_last.offset + bad_last.size));
  r = run_check("--all " + cut);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, ": truncated after event ")) << r.err;
}

}  // namespace
}  // namespace rrvm::replay::testing
