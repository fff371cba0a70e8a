#include "replay/clock_rule.h"

#include <string>

#include "replay/header_caps.h"
#include "vmm/hv/types.h"

namespace rrvm::replay {
namespace {

std::string ns(uint64_t v) { return std::to_string(v) + " ns"; }

}  // namespace

ClockMonotonicRule::ClockMonotonicRule(const trace::TraceHeader& header) {
  auto cap = recorded_kvm_cap(header, "ADJUST_CLOCK");
  host_tsc_stable_ = !cap || (*cap & hv::CLOCK_FLAG_TSC_STABLE) != 0;
}

void ClockMonotonicRule::check(const trace::EventRecord& event, std::vector<Violation>& out) {
  const auto* c = std::get_if<trace::ClockAccess>(&event.body);
  // A failed ioctl read nothing and changed nothing: its clock field is not a clock value.
  if (c == nullptr || c->err != 0) return;
  if (c->op == trace::ClockOp::Get) {
    // KVM's clock only runs forward from the last value rrvm saw it take, read or set.
    if (last_ && c->clock_ns < last_->clock_ns) {
      out.push_back({name(), "KVM_GET_CLOCK read " + ns(c->clock_ns) + ", expected at least the " +
                                 ns(last_->clock_ns) + " " +
                                 (last_->op == trace::ClockOp::Get ? "read" : "set") + " at seq " +
                                 std::to_string(last_->seq) + ": the clock went back by " +
                                 ns(last_->clock_ns - c->clock_ns)});
    }
    last_get_ = Access{event.seq, c->clock_ns, c->op};
    last_get_reliable_ = host_tsc_stable_ && (c->flags & hv::CLOCK_FLAG_TSC_STABLE) != 0;
  } else if (last_get_ && last_get_reliable_ && c->clock_ns < last_get_->clock_ns) {
    // kvmclock's start writes back the clock its stop (or pre_save) read; only an unreliable
    // clock is recomputed from the guest's pvclock page, which may be lower.
    out.push_back({name(), "KVM_SET_CLOCK set " + ns(c->clock_ns) + ", expected at least the " +
                               ns(last_get_->clock_ns) + " read (TSC_STABLE) at seq " +
                               std::to_string(last_get_->seq) + ": " +
                               ns(last_get_->clock_ns - c->clock_ns) + " of the clock undone"});
  }
  last_ = Access{event.seq, c->clock_ns, c->op};
}

}  // namespace rrvm::replay
