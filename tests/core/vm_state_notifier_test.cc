#include "vmm/core/vm_state_notifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rrvm::core {
namespace {

struct Recorder {
  std::vector<std::string> calls;
  VmStateNotifiers::Callback cb(const std::string& tag) {
    return [this, tag](bool running, RunState) { calls.push_back(tag + (running ? "+" : "-")); };
  }
};

TEST(VmStateNotifiers, StartRunsAllPreparesThenAllMainsAscending) {
  VmStateNotifiers n;
  Recorder r;
  n.add("b", r.cb("main b"), 10, r.cb("prep b"));
  n.add("a", r.cb("main a"), -5, r.cb("prep a"));
  n.add("c", r.cb("main c"), 0);  // no prepare callback
  n.notify(true, RunState::Running);
  EXPECT_EQ(r.calls,
            (std::vector<std::string>{"prep a+", "prep b+", "main a+", "main c+", "main b+"}));
}

TEST(VmStateNotifiers, StopRunsBothPassesDescending) {
  VmStateNotifiers n;
  Recorder r;
  n.add("b", r.cb("main b"), 10, r.cb("prep b"));
  n.add("a", r.cb("main a"), -5, r.cb("prep a"));
  n.add("c", r.cb("main c"), 0);
  n.notify(false, RunState::Paused);
  EXPECT_EQ(r.calls,
            (std::vector<std::string>{"prep b-", "prep a-", "main b-", "main c-", "main a-"}));
}

TEST(VmStateNotifiers, EqualPrioritiesKeepRegistrationOrderAndReverseOnStop) {
  VmStateNotifiers n;
  Recorder r;
  n.add("x", r.cb("x"));
  n.add("y", r.cb("y"));
  n.add("z", r.cb("z"));
  n.add("early", r.cb("early"), -1);
  n.notify(true, RunState::Running);
  n.notify(false, RunState::Paused);
  EXPECT_EQ(r.calls,
            (std::vector<std::string>{"early+", "x+", "y+", "z+", "z-", "y-", "x-", "early-"}));
}

TEST(VmStateNotifiers, PassesRunningAndState) {
  VmStateNotifiers n;
  std::vector<std::pair<bool, RunState>> seen;
  n.add("h", [&](bool running, RunState s) { seen.emplace_back(running, s); });
  n.notify(false, RunState::FinishMigrate);
  n.notify(true, RunState::Running);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(false, RunState::FinishMigrate));
  EXPECT_EQ(seen[1], std::make_pair(true, RunState::Running));
}

TEST(VmStateNotifiers, RemoveAndChangesDuringANotifyPass) {
  VmStateNotifiers n;
  Recorder r;
  auto a = n.add("a", r.cb("a"));
  VmStateNotifiers::Id added = 0;
  // A handler that registers another one while the pass runs: the new one waits for the next pass.
  n.add("adder", [&](bool, RunState) {
    if (!added) added = n.add("late", r.cb("late"));
  });
  n.notify(true, RunState::Running);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"a+"}));
  n.remove(a);
  r.calls.clear();
  n.notify(true, RunState::Running);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"late+"}));
  EXPECT_EQ(n.size(), 2u);
}

}  // namespace
}  // namespace rrvm::core
