// Rule `run-state`: the recorded run-state changes replay through QEMU's transition table
// (core::run_state_transition_allowed) as RunStateMachine::set() would have made them.
#pragma once

#include <cstdint>
#include <optional>

#include "replay/rule.h"

namespace rrvm::replay {

class RunStateRule final : public Rule {
 public:
  // rrvm's machine starts in prelaunch (QEMU's initial state) and records from before its first
  // change, so a trace's first change leaves prelaunch.
  explicit RunStateRule(trace::RunState initial = trace::RunState::Prelaunch) : state_(initial) {}

  std::string_view name() const override { return "run-state"; }
  void check(const trace::EventRecord& event, std::vector<Violation>& out) override;

 private:
  trace::RunState state_;
  std::optional<uint64_t> set_at_;  // seq of the accepted change that set state_
};

}  // namespace rrvm::replay
