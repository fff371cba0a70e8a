// One named invariant of rrvm traces, checked event by event in sequence order. The rules and
// their exact definitions are listed in replay/invariants.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "trace/event_record.h"

namespace rrvm::replay {

// What a rule found wrong with the event it was shown: "expected X, seen Y" in words.
struct Violation {
  std::string_view rule;
  std::string message;
};

class Rule {
 public:
  virtual ~Rule() = default;
  // The name reports use: "run-state", "clock-monotonic", ...
  virtual std::string_view name() const = 0;
  // Empty when the rule is checked on this trace, else why not (e.g. the recording host had no
  // KVM_CAP_KVMCLOCK_CTRL, so rrvm issued none and there is nothing to expect).
  virtual std::string not_checked() const { return {}; }
  // Looks at the next event (events come in sequence order); appends what it violates.
  virtual void check(const trace::EventRecord& event, std::vector<Violation>& out) = 0;
};

}  // namespace rrvm::replay
