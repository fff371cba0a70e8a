// Rule `kvmclock-ctrl-before-run`: after a start that follows a kvmclock stop, every vCPU gets its
// KVMCLOCK_CTRL before it runs again. Definition in replay/invariants.h.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "replay/rule.h"
#include "trace/capnp_codec.h"

namespace rrvm::replay {

class KvmclockCtrlRule final : public Rule {
 public:
  explicit KvmclockCtrlRule(const trace::TraceHeader& header);

  std::string_view name() const override { return "kvmclock-ctrl-before-run"; }
  std::string not_checked() const override { return not_checked_; }
  void check(const trace::EventRecord& event, std::vector<Violation>& out) override;

 private:
  void ran(int32_t vcpu, std::vector<Violation>& out);

  std::string not_checked_;
  // The clock was saved since the last start (QEMU's clock_valid): a successful KVM_GET_CLOCK
  // (kvmclock's stop, or pre_save) or a loaded "kvmclock" section (incoming migration, restore).
  bool saved_ = false;
  uint64_t saved_seq_ = 0;
  // Between a start after a save and the next stop: vCPUs still owed their KVMCLOCK_CTRL are
  // those not in done_.
  bool armed_ = false;
  uint64_t start_seq_ = 0;
  uint64_t armed_by_seq_ = 0;
  std::set<int32_t> done_;
};

}  // namespace rrvm::replay
