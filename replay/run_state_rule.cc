#include "replay/run_state_rule.h"

#include <string>

#include "trace/names.h"
#include "vmm/core/run_state.h"

namespace rrvm::replay {
namespace {

std::string name_of(trace::RunState s) { return std::string(trace::run_state_name(s)); }

}  // namespace

void RunStateRule::check(const trace::EventRecord& event, std::vector<Violation>& out) {
  const auto* c = std::get_if<trace::RunStateChange>(&event.body);
  if (c == nullptr) return;
  const std::string from = name_of(c->from);
  const std::string to = name_of(c->to);
  const std::string change = from + " -> " + to;
  // set() returns before recording anything when the state does not change.
  if (c->from == c->to) {
    out.push_back({name(), "a change of " + from + " to itself was recorded; set() records none"});
  }
  // set() reads the current state as `from`: any other value means the replayed machine and the
  // recorded one disagree about where the VM was.
  if (c->from != state_) {
    std::string where =
        set_at_ ? "set by the change at seq " + std::to_string(*set_at_) : "the initial state";
    out.push_back({name(), "expected a change from " + name_of(state_) + " (" + where +
                               "), seen one from " + from});
  }
  const bool allowed = core::run_state_transition_allowed(c->from, c->to);
  if (c->accepted && !allowed) {
    out.push_back({name(), "accepted " + change + ", which QEMU's transition table forbids"});
  } else if (!c->accepted && allowed && c->from != c->to) {
    out.push_back({name(), "refused " + change + ", which QEMU's transition table allows"});
  }
  // Follow the recording after a divergence so one wrong change is reported once, not again at
  // every later change.
  if (c->accepted) {
    state_ = c->to;
    set_at_ = event.seq;
  }
}

}  // namespace rrvm::replay
