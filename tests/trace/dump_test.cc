// DumpCommand.*, InfoCommand.*, StatsCommand.*: the rrvm binary on traces written by the tests.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/trace/sample_trace.h"
#include "tests/trace/test_util.h"
#include "trace/reader.h"

namespace rrvm::trace::testing {
namespace {

// `rrvm ARGS` with the binary built alongside the tests.
CommandResult run_rrvm(const std::string& args) {
  return run_command(std::string(RRVM_BINARY) + " " + args);
}

class CommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sample_ = new std::string(temp_path("dump-sample.rrtrace"));
    ASSERT_TRUE(write_sample_trace({.path = *sample_}).ok());
  }
  static void TearDownTestSuite() { delete sample_; }
  static std::string* sample_;
};
std::string* CommandTest::sample_ = nullptr;

using DumpCommand = CommandTest;
using InfoCommand = CommandTest;
using StatsCommand = CommandTest;

// The event lines of a dump (backtrace lines start with spaces and '#').
std::vector<std::string> event_lines(const std::string& out) {
  std::vector<std::string> lines;
  for (auto& l : split_lines(out)) {
    if (l.find_first_not_of(' ') != std::string::npos && l[l.find_first_not_of(' ')] != '#') {
      lines.push_back(l);
    }
  }
  return lines;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(DumpCommand, PrintsOneLinePerEventWithDecodedNames) {
  auto r = run_rrvm("dump " + *sample_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto lines = event_lines(r.out);
  ASSERT_EQ(lines.size(), sample_expected_lines().size());
  // seq, time since the start, thread, type, fields.
  EXPECT_TRUE(contains(lines[2], "       2 0.")) << lines[2];
  EXPECT_TRUE(
      contains(lines[2], " main       run-state      running -> paused reason=\"qmp:stop\""))
      << lines[2];
  EXPECT_TRUE(contains(r.out,
                       "vcpu0      msr            get vcpu=0 level=full processed=5/5 "
                       "IA32_TSC(0x10)=0x1234567890 IA32_TSC_DEADLINE(0x6e0)=0x0 "
                       "MSR_KVM_SYSTEM_TIME_NEW(0x4b564d01)=0x2a001"));
  EXPECT_TRUE(contains(r.out, "failed-at=0x6e0 (IA32_TSC_DEADLINE)"));
  EXPECT_TRUE(contains(r.out, "3 -> 11 (ACKNOWLEDGE|DRIVER -> ACKNOWLEDGE|DRIVER|FEATURES_OK)"));
  EXPECT_TRUE(contains(r.out, "kvmclock-ctrl  vcpu=0 result=EINVAL"));
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(std::stoull(lines[i]), i) << lines[i];
  }
}

TEST_F(DumpCommand, BacktraceShowsTheSpanChainInnermostFirst) {
  auto r = run_rrvm("dump --backtrace " + *sample_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = split_lines(r.out);
  auto msr = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return contains(l, " msr ") && contains(l, "get");
  });
  ASSERT_NE(msr, lines.end());
  ASSERT_GE(lines.end() - msr, 3);
  EXPECT_TRUE(contains(msr[1], "#0 cpu_synchronize_state [vcpu0] span=0x20000000001")) << msr[1];
  EXPECT_TRUE(contains(msr[2], "#1 qmp:stop [main] span=0x10000000001")) << msr[2];
  EXPECT_FALSE(contains(msr[3], "#2")) << msr[3];
}

TEST_F(DumpCommand, FiltersByTypeVcpuAndRange) {
  auto r = run_rrvm("dump --type msr " + *sample_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = event_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) EXPECT_TRUE(contains(l, " msr ")) << l;

  r = run_rrvm("dump --type run-state,kvmclock-ctrl " + *sample_);
  EXPECT_EQ(event_lines(r.out).size(), 4u);

  // vCPU 1: the MMIO exit (its own vcpu field); the io thread itself is not a vCPU.
  r = run_rrvm("dump --vcpu 1 " + *sample_);
  lines = event_lines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(contains(lines[0], "exit           vcpu=1 mmio read gpa=0xd0000070")) << lines[0];

  r = run_rrvm("dump --from 5 --to 7 " + *sample_);
  lines = event_lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(std::stoull(lines[0]), 5u);
  EXPECT_EQ(std::stoull(lines[2]), 7u);

  r = run_rrvm("dump --from 0s --to 100s " + *sample_);
  EXPECT_EQ(event_lines(r.out).size(), sample_expected_lines().size());
  r = run_rrvm("dump --from 100s " + *sample_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(event_lines(r.out).size(), 0u);
}

TEST_F(DumpCommand, BadOptionsAreUsageErrors) {
  auto r = run_rrvm("dump --type nosuch " + *sample_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown event type 'nosuch' (known: run-state, ")) << r.err;
  r = run_rrvm("dump --from 1.5parsecs " + *sample_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--from '1.5parsecs' is neither a seq nor a time")) << r.err;
  r = run_rrvm("dump");
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(DumpCommand, ACorruptTraceExitsTwoWithAOneLineError) {
  std::string bad = temp_path("bad.rrtrace");
  write_bytes(bad, "this is not a trace at all, just some text");
  auto r = run_rrvm("dump " + bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "rrvm dump: " + bad + ": not an rrvm trace (bad magic at offset 0)\n");
}

TEST_F(DumpCommand, ATruncatedTracePrintsWhatIsThereThenExitsTwo) {
  std::string big = temp_path("big.rrtrace");
  ASSERT_TRUE(write_sample_trace({.path = big, .chunk_bytes = 2048}, 30).ok());
  auto reader = Reader::open(big);
  ASSERT_TRUE(reader.ok());
  const auto chunks = (*reader)->chunks();
  ASSERT_GT(chunks.size(), 4u);
  size_t k = chunks.size() - 2;
  std::string cut = temp_path("cut.rrtrace");
  write_bytes(cut, read_bytes(big).substr(0, chunks[k].offset + 10));
  auto r = run_rrvm("dump " + cut);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(event_lines(r.out).size(), chunks[k].first_seq);
  EXPECT_TRUE(
      contains(r.err, cut + ": truncated after event " + std::to_string(chunks[k].first_seq - 1)))
      << r.err;
  EXPECT_EQ(split_lines(r.err).size(), 1u);
}

TEST_F(InfoCommand, PrintsTheHeaderAndWhetherTheTraceIsComplete) {
  auto r = run_rrvm("info " + *sample_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "format:          version 1"));
  EXPECT_TRUE(contains(r.out, "rrvm:            0.1.0-sample"));
  EXPECT_TRUE(contains(r.out, "cpu:             AuthenticAMD, AMD EPYC (sample)"));
  EXPECT_TRUE(contains(r.out, "kvm:             api version 12"));
  EXPECT_TRUE(contains(r.out, "KVM_CAP_ADJUST_CLOCK"));
  EXPECT_TRUE(contains(r.out, "started:         2023-11-14T22:13:20.000000000Z"));
  EXPECT_TRUE(contains(r.out, "vm:              role run, 256 MiB, 2 vCPUs"));
  EXPECT_TRUE(contains(r.out, "complete:        yes"));
  EXPECT_TRUE(
      contains(r.out, "events:          " + std::to_string(sample_expected_lines().size())));
  EXPECT_TRUE(contains(r.out, "dropped:         0"));

  std::string cut = temp_path("cut.rrtrace");
  auto reader = Reader::open(*sample_);
  ASSERT_TRUE(reader.ok());
  const auto& last = (*reader)->chunks().back();
  write_bytes(cut, read_bytes(*sample_).substr(0, last.offset + last.size));
  r = run_rrvm("info " + cut);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.out, "complete:        no: " + cut + ": truncated after event")) << r.out;
  EXPECT_TRUE(
      contains(r.out, "events:          " + std::to_string(sample_expected_lines().size())));
}

TEST_F(StatsCommand, CountsEventsByTypeAndThreadWithBytesPerEvent) {
  auto r = run_rrvm("stats " + *sample_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = split_lines(r.out);
  auto row = [&](const std::string& name) -> std::string {
    for (const auto& l : lines) {
      if (l.rfind(name + " ", 0) == 0) return l;
    }
    return "";
  };
  ASSERT_NE(row("msr"), "");
  EXPECT_EQ(std::stoull(row("msr").substr(22)), 2u);
  EXPECT_EQ(std::stoull(row("span-begin").substr(22)), 4u);
  EXPECT_EQ(std::stoull(row("vcpu0").substr(22)), 5u);
  EXPECT_EQ(std::stoull(row("io").substr(22)), 7u);
  EXPECT_TRUE(contains(r.out, "events: " + std::to_string(sample_expected_lines().size())));
  EXPECT_TRUE(contains(r.out, "ratio: "));
}

}  // namespace
}  // namespace rrvm::trace::testing
