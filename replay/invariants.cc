#include "replay/invariants.h"

#include "replay/clock_rule.h"
#include "replay/kvmclock_ctrl_rule.h"
#include "replay/order_rule.h"
#include "replay/run_state_rule.h"

namespace rrvm::replay {

std::vector<std::unique_ptr<Rule>> make_rules(const trace::TraceHeader& header) {
  std::vector<std::unique_ptr<Rule>> rules;
  rules.push_back(std::make_unique<RunStateRule>());
  rules.push_back(std::make_unique<ClockMonotonicRule>(header));
  rules.push_back(std::make_unique<KvmclockCtrlRule>(header));
  rules.push_back(std::make_unique<OrderRule>());
  return rules;
}

}  // namespace rrvm::replay
