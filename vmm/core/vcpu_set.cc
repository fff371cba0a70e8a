#include "vmm/core/vcpu_set.h"

#include "trace/span.h"
#include "vmm/base/check.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::core {

VcpuSet::VcpuSet(const RunStateMachine& run_state, VmStateNotifiers& notifiers,
                 const CpuSyncConfig& config, const IoBus& pio, const IoBus& mmio,
                 VmRequests& requests)
    : run_state_(run_state),
      notifiers_(notifiers),
      config_(config),
      pio_(pio),
      mmio_(mmio),
      requests_(requests) {}

VcpuSet::~VcpuSet() {
  exit_threads();
  for (auto& v : vcpus_) notifiers_.remove(v->notifier);
}

void VcpuSet::add(hv::Vcpu& vcpu) {
  RRVM_CHECK_MSG(!started_, "vCPU added after the vCPU threads started");
  auto entry = std::make_unique<Entry>(vcpu, config_, run_state_,
                                       ExitContext{vcpu.index(), pio_, mmio_, requests_});
  CpuSync* sync = &entry->sync;
  // Runs in vm_state_notify while every vCPU is stopped, so touching its copy is safe.
  entry->notifier =
      notifiers_.add("cpu_update_state cpu" + std::to_string(vcpu.index()),
                     [sync](bool running, RunState) { sync->on_vm_state_change(running); });
  vcpus_.push_back(std::move(entry));
}

void VcpuSet::start() {
  RRVM_CHECK_MSG(!started_, "vCPU threads started twice");
  started_ = true;
  for (auto& v : vcpus_) v->thread.start();
}

void VcpuSet::pause_all() {
  trace::Span span("pause_all_vcpus");
  for (auto& v : vcpus_) {
    RRVM_CHECK_MSG(!v->thread.is_self(), "pause_all_vcpus called on a vCPU thread");
    v->thread.request_stop();
  }
  for (auto& v : vcpus_) v->thread.wait_stopped();
}

void VcpuSet::resume_all() {
  if (!run_state_.is_running()) return;
  trace::Span span("resume_all_vcpus");
  for (auto& v : vcpus_) v->thread.resume();
}

bool VcpuSet::all_stopped() const {
  for (const auto& v : vcpus_) {
    if (!v->thread.stopped()) return false;
  }
  return true;
}

Status VcpuSet::run_on_all(const std::string& work_name,
                           const std::function<Status(CpuSync&)>& fn) {
  for (auto& v : vcpus_) {
    Status result;
    CpuSync& sync = v->sync;
    v->thread.run_on_cpu(work_name, [&] { result = fn(sync); });
    if (!result.ok()) return result;
  }
  return ok_status();
}

Status VcpuSet::synchronize_state(size_t i) {
  Entry& v = *vcpus_.at(i);
  trace::Span span("cpu_synchronize_state");
  // QEMU checks vcpu_dirty before queuing: a dirty copy is newer than KVM's, nothing to fetch.
  if (v.sync.dirty()) return ok_status();
  Status result;
  v.thread.run_on_cpu("do_kvm_cpu_synchronize_state", [&] { result = v.sync.synchronize_state(); });
  return result;
}

Status VcpuSet::synchronize_all_states() {
  trace::Span span("cpu_synchronize_all_states");
  for (size_t i = 0; i < vcpus_.size(); ++i) RRVM_TRY(synchronize_state(i));
  return ok_status();
}

Status VcpuSet::synchronize_all_post_init() {
  trace::Span span("cpu_synchronize_all_post_init");
  return run_on_all("do_kvm_cpu_synchronize_post_init",
                    [](CpuSync& s) { return s.synchronize_post_init(); });
}

Status VcpuSet::synchronize_all_post_reset() {
  trace::Span span("cpu_synchronize_all_post_reset");
  return run_on_all("do_kvm_cpu_synchronize_post_reset",
                    [](CpuSync& s) { return s.synchronize_post_reset(); });
}

void VcpuSet::synchronize_all_pre_loadvm() {
  for (auto& v : vcpus_) {
    CpuSync& sync = v->sync;
    v->thread.run_on_cpu("do_kvm_cpu_synchronize_pre_loadvm",
                         [&] { sync.synchronize_pre_loadvm(); });
  }
}

Status VcpuSet::synchronize_all_tsc() {
  trace::Span span("kvm_synchronize_all_tsc");
  return run_on_all("do_kvm_synchronize_tsc", [](CpuSync& s) { return s.synchronize_tsc(); });
}

void VcpuSet::capture_reset_states() {
  for (auto& v : vcpus_) v->reset_state = v->sync.state();
}

bool VcpuSet::has_reset_states() const {
  for (const auto& v : vcpus_) {
    if (!v->reset_state) return false;
  }
  return !vcpus_.empty();
}

void VcpuSet::restore_reset_states() {
  RRVM_CHECK_MSG(has_reset_states(), "system reset before the machine captured the reset state");
  RRVM_CHECK_MSG(all_stopped(), "vCPU state reset while a vCPU runs");
  for (auto& v : vcpus_) {
    CpuState s = *v->reset_state;
    std::erase_if(s.msrs, [](const hv::MsrEntry& e) { return e.index == hv::msr::IA32_TSC; });
    s.tsc_valid = false;
    v->sync.state() = std::move(s);
  }
}

void VcpuSet::exit_threads() {
  for (auto& v : vcpus_) v->thread.exit_thread();
}

}  // namespace rrvm::core
