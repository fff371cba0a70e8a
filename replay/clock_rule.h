// Rule `clock-monotonic`: the kvmclock values rrvm read (KVM_GET_CLOCK) and wrote (KVM_SET_CLOCK),
// as ClockAccess events record them, never move the VM's clock backwards. Definition in
// replay/invariants.h.
#pragma once

#include <cstdint>
#include <optional>

#include "replay/rule.h"
#include "trace/capnp_codec.h"

namespace rrvm::replay {

class ClockMonotonicRule final : public Rule {
 public:
  explicit ClockMonotonicRule(const trace::TraceHeader& header);

  std::string_view name() const override { return "clock-monotonic"; }
  void check(const trace::EventRecord& event, std::vector<Violation>& out) override;

 private:
  struct Access {
    uint64_t seq;
    uint64_t clock_ns;
    trace::ClockOp op;
  };
  // Whether the host's KVM_CAP_ADJUST_CLOCK offers KVM_CLOCK_TSC_STABLE: without it kvmclock
  // treats every read as unreliable (vmm/devices/kvmclock.cc). True when the header does not say.
  bool host_tsc_stable_;
  std::optional<Access> last_;      // the last successful get or set
  std::optional<Access> last_get_;  // the last successful get...
  bool last_get_reliable_ = false;  // ...and whether kvmclock would write it back unchanged
};

}  // namespace rrvm::replay
