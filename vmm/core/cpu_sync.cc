#include "vmm/core/cpu_sync.h"

#include <string>

#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/base/log.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::core {
namespace {

template <typename T>
Status store(Result<T> r, T& out) {
  if (!r.ok()) return r.error();
  out = std::move(r).value();
  return ok_status();
}

}  // namespace

// QEMU's kvm_arch_get_registers order: regs, xsave/fpu, xcrs, sregs, msrs, mp_state, lapic,
// events, debugregs.
Status CpuSync::get_registers() {
  trace::Span span("kvm_arch_get_registers");
  auto ctx = [&](const Error& e) {
    return e.context("get registers of vcpu " + std::to_string(index()));
  };
  CpuState& s = state_;
  if (auto st = store(vcpu_.get_regs(), s.regs); !st.ok()) return ctx(st.error());
  if (config_.xsave) {
    if (auto st = store(vcpu_.get_xsave(), s.xsave); !st.ok()) return ctx(st.error());
  } else {
    if (auto st = store(vcpu_.get_fpu(), s.fpu); !st.ok()) return ctx(st.error());
  }
  if (config_.xcrs) {
    if (auto st = store(vcpu_.get_xcrs(), s.xcrs); !st.ok()) return ctx(st.error());
  }
  if (auto st = store(vcpu_.get_sregs(), s.sregs); !st.ok()) return ctx(st.error());
  // IA32_TSC only while no stop cached it (QEMU's kvm_get_msrs and env->tsc_valid).
  bool read_tsc = !s.tsc_valid;
  auto indices = hv::msrs_for_get(config_.msrs, read_tsc);
  auto values = hv::get_msrs_chunked(vcpu_, indices, SyncLevel::Full);
  if (!values.ok()) return ctx(values.error());
  s.merge_msrs(values.value());
  if (read_tsc && config_.msrs.contains(hv::msr::IA32_TSC)) s.tsc_valid = !run_state_.is_running();
  if (auto st = store(vcpu_.get_mp_state(), s.mp_state); !st.ok()) return ctx(st.error());
  if (auto st = store(vcpu_.get_lapic(), s.lapic); !st.ok()) return ctx(st.error());
  if (auto st = store(vcpu_.get_vcpu_events(), s.events); !st.ok()) return ctx(st.error());
  if (config_.debugregs) {
    if (auto st = store(vcpu_.get_debugregs(), s.debugregs); !st.ok()) return ctx(st.error());
  }
  has_state_ = true;
  return ok_status();
}

// Put order (QEMU's kvm_arch_put_registers) and why:
//   FULL: TSC frequency first, so the TSC written below counts at the right rate.
//   regs, xsave (or fpu), xcrs, sregs: sregs carries EFER and APIC_BASE, which the MSRs and the
//     LAPIC below depend on.
//   MSRs of the level: FEATURE_CONTROL first; IA32_TSC and kvmclock at RESET/FULL.
//   RESET/FULL: LAPIC (after APIC_BASE in sregs; before TSC_DEADLINE, which KVM ignores unless
//     the LAPIC timer is in TSC-deadline mode).
//   vcpu events, then RESET/FULL: mp_state.
//   IA32_TSC_DEADLINE after the events and after IA32_TSC: a deadline written before the TSC is
//     compared against the old TSC and the timer interrupt is lost.
//   debug registers last.
Status CpuSync::put_registers(SyncLevel level) {
  trace::Span span("kvm_arch_put_registers");
  auto ctx = [&](const Error& e) {
    return e.context("put registers of vcpu " + std::to_string(index()) + " at level " +
                     std::to_string(static_cast<int>(level)));
  };
  if (!has_state_) return ctx(make_error("the vCPU state was never read or loaded"));
  const bool reset_or_full = level == SyncLevel::Reset || level == SyncLevel::Full;
  const CpuState& s = state_;
  if (level == SyncLevel::Full && config_.tsc_khz != 0) {
    // QEMU ignores this error too: a frequency mismatch must not fail a migration.
    if (auto st = vcpu_.set_tsc_khz(config_.tsc_khz); !st.ok()) {
      std::string text = st.error().describe();
      spdlog::warn("vcpu {}: {}", index(), text);
      trace::emit(trace::Warning{"cpu_sync", text});
    }
  }
  if (auto st = vcpu_.set_regs(s.regs); !st.ok()) return ctx(st.error());
  if (auto st = config_.xsave ? vcpu_.set_xsave(s.xsave) : vcpu_.set_fpu(s.fpu); !st.ok()) {
    return ctx(st.error());
  }
  if (config_.xcrs) {
    if (auto st = vcpu_.set_xcrs(s.xcrs); !st.ok()) return ctx(st.error());
  }
  if (auto st = vcpu_.set_sregs(s.sregs); !st.ok()) return ctx(st.error());
  if (auto st = put_msrs(level); !st.ok()) return ctx(st.error());
  if (reset_or_full) {
    if (auto st = vcpu_.set_lapic(s.lapic); !st.ok()) return ctx(st.error());
  }
  if (auto st = vcpu_.set_vcpu_events(s.events); !st.ok()) return ctx(st.error());
  if (reset_or_full) {
    if (auto st = vcpu_.set_mp_state(s.mp_state); !st.ok()) return ctx(st.error());
  }
  if (auto st = put_tsc_deadline(level); !st.ok()) return ctx(st.error());
  if (config_.debugregs) {
    if (auto st = vcpu_.set_debugregs(s.debugregs); !st.ok()) return ctx(st.error());
  }
  return ok_status();
}

Status CpuSync::put_msrs(SyncLevel level) {
  trace::Span span("kvm_put_msrs");
  auto entries = hv::msr_put_entries(level, config_.msrs, state_.msrs);
  return hv::put_msrs_chunked(vcpu_, entries, level);
}

Status CpuSync::put_tsc_deadline(SyncLevel level) {
  if (!hv::has_tsc_deadline(config_.msrs)) return ok_status();
  hv::MsrEntry entry{hv::msr::IA32_TSC_DEADLINE,
                     state_.msr(hv::msr::IA32_TSC_DEADLINE).value_or(0)};
  return hv::put_msrs_chunked(vcpu_, std::span<const hv::MsrEntry>(&entry, 1), level);
}

Status CpuSync::synchronize_state() {
  if (dirty_) return ok_status();
  RRVM_TRY(get_registers());
  dirty_ = true;
  return ok_status();
}

Status CpuSync::synchronize_post_init() {
  RRVM_TRY(put_registers(SyncLevel::Full));
  dirty_ = false;
  return ok_status();
}

Status CpuSync::synchronize_post_reset() {
  RRVM_TRY(put_registers(SyncLevel::Reset));
  dirty_ = false;
  return ok_status();
}

Status CpuSync::put_if_dirty() {
  if (!dirty_) return ok_status();
  RRVM_TRY(put_registers(SyncLevel::Runtime));
  dirty_ = false;
  return ok_status();
}

// QEMU's kvm_get_tsc: one KVM_GET_MSRS of IA32_TSC; while the VM is stopped the value stays
// cached (tsc_valid), so every later stop-time reader sees the same TSC.
Status CpuSync::synchronize_tsc() {
  if (state_.tsc_valid) return ok_status();
  uint32_t index = hv::msr::IA32_TSC;
  auto values = hv::get_msrs_chunked(vcpu_, std::span<const uint32_t>(&index, 1), SyncLevel::None);
  if (!values.ok())
    return values.error().context("read the TSC of vcpu " + std::to_string(this->index()));
  uint64_t tsc = values.value().at(0).value;
  state_.set_msr(hv::msr::IA32_TSC, tsc);
  state_.tsc_valid = !run_state_.is_running();
  trace::emit(trace::TscRead{this->index(), tsc});
  return ok_status();
}

void CpuSync::on_vm_state_change(bool running) {
  if (running) state_.tsc_valid = false;
}

Status CpuSync::load(const CpuState& state) {
  if (auto st = validate_cpu_state(state, config_.xsave, config_.debugregs); !st.ok()) {
    return st.error().context("vcpu " + std::to_string(index()));
  }
  state_ = state;
  dirty_ = true;
  has_state_ = true;
  return ok_status();
}

}  // namespace rrvm::core
