#include "vmm/core/run_state.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <utility>

#include "trace/names.h"

namespace rrvm::core {
namespace {

// The table exactly as qemu-semantics.md lists it ("from | to, to, ..."), written independently
// of run_state.cc so that a typo in either is caught.
const std::pair<const char*, const char*> DOC_TABLE[] = {
    {"prelaunch", "inmigrate suspended running finish-migrate"},
    {"debug", "running finish-migrate prelaunch suspended"},
    {"inmigrate",
     "internal-error io-error paused running shutdown suspended watchdog "
     "guest-panicked finish-migrate prelaunch postmigrate colo"},
    {"internal-error", "paused finish-migrate prelaunch"},
    {"io-error", "running finish-migrate prelaunch"},
    {"paused", "running finish-migrate postmigrate prelaunch colo suspended"},
    {"postmigrate", "running finish-migrate prelaunch"},
    {"finish-migrate",
     "running paused postmigrate prelaunch colo internal-error io-error "
     "shutdown suspended watchdog guest-panicked"},
    {"restore-vm", "running prelaunch suspended"},
    {"colo", "running prelaunch shutdown"},
    {"running",
     "debug internal-error io-error paused finish-migrate restore-vm save-vm shutdown "
     "watchdog guest-panicked colo suspended"},
    {"save-vm", "running suspended"},
    {"shutdown", "paused finish-migrate prelaunch colo"},
    {"suspended", "running finish-migrate prelaunch colo paused save-vm restore-vm shutdown"},
    {"watchdog", "running finish-migrate prelaunch colo"},
    {"guest-panicked", "running finish-migrate prelaunch"},
};

RunState parse(const std::string& name) {
  auto s = trace::parse_run_state(name);
  EXPECT_TRUE(s.has_value()) << name;
  return s.value_or(RunState::Prelaunch);
}

std::set<std::pair<RunState, RunState>> doc_transitions() {
  std::set<std::pair<RunState, RunState>> out;
  for (const auto& [from, tos] : DOC_TABLE) {
    std::string rest = tos;
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t end = rest.find(' ', pos);
      if (end == std::string::npos) end = rest.size();
      out.insert({parse(from), parse(rest.substr(pos, end - pos))});
      pos = end + 1;
    }
  }
  return out;
}

RunState state(int i) { return static_cast<RunState>(i); }

TEST(RunStateTable, MatchesQemuSemanticsForEveryPair) {
  auto allowed = doc_transitions();
  EXPECT_EQ(allowed.size(), 85u);  // the number of entries in QEMU's table
  for (int f = 0; f < trace::RUN_STATE_COUNT; ++f) {
    for (int t = 0; t < trace::RUN_STATE_COUNT; ++t) {
      bool expected = allowed.count({state(f), state(t)}) > 0;
      EXPECT_EQ(run_state_transition_allowed(state(f), state(t)), expected)
          << trace::run_state_name(state(f)) << " -> " << trace::run_state_name(state(t));
    }
  }
}

TEST(RunStateMachine, EveryAllowedTransitionIsAccepted) {
  for (const auto& [from, to] : doc_transitions()) {
    RunStateMachine m(from);
    auto st = m.set(to, "test");
    EXPECT_TRUE(st.ok()) << trace::run_state_name(from) << " -> " << trace::run_state_name(to);
    EXPECT_EQ(m.get(), to);
  }
}

TEST(RunStateMachine, RefusedTransitionsKeepTheStateAndNameBothStates) {
  const std::pair<RunState, RunState> refused[] = {
      {RunState::Running, RunState::Prelaunch},     {RunState::Running, RunState::PostMigrate},
      {RunState::Prelaunch, RunState::Paused},      {RunState::Shutdown, RunState::Running},
      {RunState::InternalError, RunState::Running}, {RunState::PostMigrate, RunState::Paused},
      {RunState::SaveVm, RunState::Paused},         {RunState::Colo, RunState::Paused},
      {RunState::Debug, RunState::Paused},          {RunState::GuestPanicked, RunState::Paused},
      {RunState::Prelaunch, RunState::Shutdown},    {RunState::RestoreVm, RunState::Paused},
  };
  for (const auto& [from, to] : refused) {
    RunStateMachine m(from);
    auto st = m.set(to, "qmp:test");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(m.get(), from);
    std::string msg = st.error().message;
    EXPECT_NE(msg.find(std::string(trace::run_state_name(from)) + " -> " +
                       std::string(trace::run_state_name(to))),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("qmp:test"), std::string::npos) << msg;
  }
}

TEST(RunStateMachine, SettingTheCurrentStateIsANoOp) {
  for (int i = 0; i < trace::RUN_STATE_COUNT; ++i) {
    RunStateMachine m(state(i));
    EXPECT_TRUE(m.set(state(i), "again").ok());
    EXPECT_EQ(m.get(), state(i));
  }
}

TEST(RunStateMachine, PredicatesFollowQemu) {
  RunStateMachine m;
  EXPECT_EQ(m.get(), RunState::Prelaunch);
  EXPECT_FALSE(m.is_running());
  EXPECT_FALSE(m.is_live());
  ASSERT_TRUE(m.set(RunState::Running, "t").ok());
  EXPECT_TRUE(m.is_running());
  EXPECT_TRUE(m.is_live());
  ASSERT_TRUE(m.set(RunState::Suspended, "t").ok());
  EXPECT_FALSE(m.is_running());
  EXPECT_TRUE(m.is_live());
  ASSERT_TRUE(m.set(RunState::Shutdown, "t").ok());
  EXPECT_TRUE(m.needs_reset());
  RunStateMachine e(RunState::InternalError);
  EXPECT_TRUE(e.needs_reset());
  RunStateMachine p(RunState::Paused);
  EXPECT_FALSE(p.needs_reset());
}

TEST(RunStateMachine, ConcurrentSettersNeverLoseTheTable) {
  // Two threads race running <-> paused changes; every accepted change must have been legal from
  // the state it replaced, so the machine only ever holds running or paused.
  RunStateMachine m(RunState::Paused);
  std::atomic<int> accepted{0};
  auto flip = [&](RunState to) {
    for (int i = 0; i < 2000; ++i) {
      if (m.set(to, "race").ok()) ++accepted;
      RunState s = m.get();
      EXPECT_TRUE(s == RunState::Running || s == RunState::Paused);
    }
  };
  std::thread a(flip, RunState::Running);
  std::thread b(flip, RunState::Paused);
  a.join();
  b.join();
  EXPECT_EQ(accepted.load(), 4000);  // same-state sets are no-ops, so every set is accepted
}

}  // namespace
}  // namespace rrvm::core
