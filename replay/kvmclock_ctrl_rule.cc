#include "replay/kvmclock_ctrl_rule.h"

#include "replay/header_caps.h"

namespace rrvm::replay {

KvmclockCtrlRule::KvmclockCtrlRule(const trace::TraceHeader& header) {
  // rrvm issues KVMCLOCK_CTRL only when the host offers it (KvmclockConfig::from_hypervisor).
  auto cap = recorded_kvm_cap(header, "KVMCLOCK_CTRL");
  if (!cap) {
    not_checked_ = "the trace header does not say whether the host had KVM_CAP_KVMCLOCK_CTRL";
  } else if (*cap <= 0) {
    not_checked_ = "the recording host had no KVM_CAP_KVMCLOCK_CTRL, so rrvm issued none";
  }
}

void KvmclockCtrlRule::check(const trace::EventRecord& event, std::vector<Violation>& out) {
  if (!not_checked_.empty()) return;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, trace::RunStateChange>) {
          if (!e.accepted) return;
          if (e.to == trace::RunState::Running) {
            // kvmclock's start runs on every start; it has a stopped clock to tell the guest
            // about only when something saved one since the last start.
            armed_ = saved_;
            armed_by_seq_ = saved_seq_;
            start_seq_ = event.seq;
            done_.clear();
            saved_ = false;
          } else if (e.from == trace::RunState::Running) {
            armed_ = false;  // stopped again: vCPUs that did not run since owe nothing more
          }
        } else if constexpr (std::is_same_v<T, trace::ClockAccess>) {
          if (e.op == trace::ClockOp::Get && e.err == 0) saved_ = true, saved_seq_ = event.seq;
        } else if constexpr (std::is_same_v<T, trace::SnapshotSection>) {
          if (e.op == trace::SectionOp::Load && e.ok && e.device == "kvmclock") {
            saved_ = true, saved_seq_ = event.seq;
          }
        } else if constexpr (std::is_same_v<T, trace::KvmclockCtrl>) {
          // Any result counts: EINVAL is a guest that never enabled kvmclock (QEMU ignores it),
          // and other errors are the ctrl's own failure, already recorded.
          if (armed_) done_.insert(e.vcpu);
        } else if constexpr (std::is_same_v<T, trace::VcpuExit>) {
          ran(e.vcpu, out);
        } else if constexpr (std::is_same_v<T, trace::HvCall>) {
          // A KVM_RUN that failed records no exit, only this call: the vCPU entered the guest.
          if (e.name == "KVM_RUN") ran(e.vcpu, out);
        }
      },
      event.body);
}

void KvmclockCtrlRule::ran(int32_t vcpu, std::vector<Violation>& out) {
  if (!armed_ || !done_.insert(vcpu).second) return;
  out.push_back({name(), "vcpu " + std::to_string(vcpu) + " ran after the start at seq " +
                             std::to_string(start_seq_) +
                             " without its KVMCLOCK_CTRL: expected one (any result) before its "
                             "first exit, since the clock was saved at seq " +
                             std::to_string(armed_by_seq_)});
}

}  // namespace rrvm::replay
