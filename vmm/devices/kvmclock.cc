#include "vmm/devices/kvmclock.h"

#include <time.h>

#include <cerrno>
#include <string>

#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/base/log.h"
#include "vmm/hv/caps.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::devices {
namespace {

uint64_t host_realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void warn(const std::string& text) {
  spdlog::warn("kvmclock: {}", text);
  trace::emit(trace::Warning{"kvmclock", text});
}

}  // namespace

KvmclockConfig KvmclockConfig::from_hypervisor(const hv::Hypervisor& hv, bool clock_advance) {
  KvmclockConfig c;
  c.adjust_clock_stable =
      (hv.check_extension(hv::cap::ADJUST_CLOCK) & hv::CLOCK_FLAG_TSC_STABLE) != 0;
  c.clock_ctrl = hv.check_extension(hv::cap::KVMCLOCK_CTRL) > 0;
  c.clock_advance = clock_advance;
  return c;
}

Result<uint64_t> pvclock_ns_at(const PvclockTimeInfo& info, uint64_t tsc) {
  if (info.tsc_timestamp > tsc) {
    return make_error("pvclock tsc_timestamp " + std::to_string(info.tsc_timestamp) +
                      " is after the vCPU's TSC " + std::to_string(tsc));
  }
  if (info.tsc_shift <= -64 || info.tsc_shift >= 64) {
    return make_error("pvclock tsc_shift " + std::to_string(info.tsc_shift) + " is out of range");
  }
  uint64_t delta = tsc - info.tsc_timestamp;
  delta = info.tsc_shift < 0 ? delta >> -info.tsc_shift : delta << info.tsc_shift;
  // 64x32-bit multiply keeping bits 32..95, as the guest's pvclock_scale_delta.
  auto scaled =
      static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * info.tsc_to_system_mul) >> 32);
  return scaled + info.system_time;
}

Kvmclock::Kvmclock(hv::Vm& vm, core::VcpuSet& vcpus, const GuestMemory& memory,
                   core::VmRequests& requests, KvmclockConfig config)
    : vm_(vm), vcpus_(vcpus), memory_(memory), requests_(requests), config_(config) {}

Kvmclock::~Kvmclock() {
  if (notifiers_) notifiers_->remove(handler_);
}

void Kvmclock::attach(core::VmStateNotifiers& notifiers) {
  RRVM_CHECK_MSG(!notifiers_, "kvmclock attached twice");
  notifiers_ = &notifiers;
  handler_ = notifiers.add(
      "kvmclock", [this](bool running, core::RunState state) { vm_state_change(running, state); });
}

bool Kvmclock::clock_valid() const {
  std::lock_guard lock(mu_);
  return clock_valid_;
}

bool Kvmclock::reliable() const {
  std::lock_guard lock(mu_);
  return reliable_;
}

uint64_t Kvmclock::clock_ns() const {
  std::lock_guard lock(mu_);
  return clock_;
}

void Kvmclock::fatal(const Error& error) {
  std::string text = error.describe();
  spdlog::critical("kvmclock: {}: the guest's clock cannot be kept, stopping rrvm", text);
  trace::emit(trace::Warning{"kvmclock", "fatal: " + text});
  requests_.request_shutdown(core::ShutdownCause::HostError, FATAL_EXIT_STATUS);
}

// QEMU's kvm_update_clock.
Status Kvmclock::update_clock() {
  trace::Span span("kvm_update_clock");
  RRVM_ASSIGN_OR_RETURN(hv::ClockData data, vm_.get_clock());
  clock_ = data.clock_ns;
  // Without a TSC-stable clock KVM_GET_CLOCK is CLOCK_MONOTONIC plus an offset and can drift from
  // what the guest computes from its pvclock page; start then recomputes from the page.
  reliable_ = config_.adjust_clock_stable && (data.flags & hv::CLOCK_FLAG_TSC_STABLE);
  realtime_.reset();
  if (data.flags & hv::CLOCK_FLAG_REALTIME) realtime_ = data.realtime_ns;
  return ok_status();
}

void Kvmclock::vm_state_change(bool running, core::RunState state) {
  std::lock_guard lock(mu_);
  if (running) {
    on_start();
  } else {
    on_stop(state);
  }
}

void Kvmclock::on_stop(core::RunState state) {
  // A second stop (e.g. migrating a paused VM) must keep the first stop's clock.
  if (clock_valid_) return;
  runstate_paused_ = state == core::RunState::Paused;
  if (auto st = vcpus_.synchronize_all_tsc(); !st.ok()) return fatal(st.error());
  if (auto st = update_clock(); !st.ok()) return fatal(st.error());
  clock_valid_ = true;
}

void Kvmclock::on_start() {
  // clock_advance restores with KVM's realtime pairing instead: recomputing from the page would
  // fight it.
  if (!reliable_ && !advance_on_start_) {
    auto ns = current_nsec_from_guest();
    if (!ns.ok()) {
      warn("cannot recompute the clock from the guest's pvclock page (" + ns.error().describe() +
           "); keeping the saved clock");
    } else if (ns.value() != 0) {
      clock_ = ns.value();
    }
  }
  clock_valid_ = false;
  bool advanced = advance_on_start_ && realtime_;
  if (auto st = set_clock(); !st.ok()) return fatal(st.error());
  if (advanced) rewrite_wall_clock();
  if (config_.clock_ctrl) kvmclock_ctrl_all();
}

// KVM fills the guest's pvclock_wall_clock (host realtime at kvmclock 0) only when the guest
// writes MSR_KVM_WALL_CLOCK_NEW, and the FULL put on restore wrote it before KVM_SET_CLOCK, against
// the new VM's clock near 0. After an advancing KVM_SET_CLOCK that value is ahead by the guest's
// uptime plus the advance, so write the guest's own MSR value again: KVM recomputes the struct
// against the clock just set, and wall = boot wall + kvmclock matches the host's realtime. Without
// clock_advance rrvm keeps QEMU's behaviour and does not touch it.
void Kvmclock::rewrite_wall_clock() {
  if (vcpus_.size() == 0) return;
  core::CpuSync& sync = vcpus_.sync(0);
  auto gpa = sync.state().msr(hv::msr::KVM_WALL_CLOCK_NEW);
  if (!gpa || *gpa == 0) return;  // the guest never enabled its wall clock
  hv::MsrEntry entry{.index = hv::msr::KVM_WALL_CLOCK_NEW, .value = *gpa};
  vcpus_.thread(0).run_on_cpu("kvmclock_rewrite_wall_clock", [&sync, &entry] {
    auto put = sync.vcpu().set_msrs(std::span(&entry, 1), trace::SyncLevel::None);
    if (!put.ok()) {
      warn("cannot rewrite the guest's wall clock: " + put.error().describe());
    } else if (put.value() != 1) {
      warn("KVM refused MSR_KVM_WALL_CLOCK_NEW: the guest's wall time stays behind");
    }
  });
}

// QEMU's kvmclock_current_nsec: vCPU 0's pvclock page at vCPU 0's current TSC. 0 when the guest
// has not enabled kvmclock.
Result<uint64_t> Kvmclock::current_nsec_from_guest() {
  trace::Span span("kvmclock_current_nsec");
  if (vcpus_.size() == 0) return uint64_t{0};
  RRVM_TRY(vcpus_.synchronize_state(0));
  const core::CpuState& cpu = vcpus_.sync(0).state();
  uint64_t system_time = cpu.msr(hv::msr::KVM_SYSTEM_TIME_NEW).value_or(0);
  if (!(system_time & 1)) return uint64_t{0};
  auto tsc = cpu.msr(hv::msr::IA32_TSC);
  if (!tsc) return make_error("vcpu 0's TSC was not read");
  RRVM_ASSIGN_OR_RETURN(auto info, memory_.read_obj<PvclockTimeInfo>(system_time & ~1ull));
  return pvclock_ns_at(info, *tsc);
}

Status Kvmclock::set_clock() {
  hv::ClockData data{.clock_ns = clock_};
  bool advance = advance_on_start_ && realtime_;
  advance_on_start_ = false;
  if (advance) {
    data.flags = hv::CLOCK_FLAG_REALTIME;
    data.realtime_ns = *realtime_;
  }
  auto st = vm_.set_clock(data);
  if (!st.ok() && advance) {
    // KVM pairs the clock with realtime only when the host's clocksource is the TSC; otherwise
    // advance by the elapsed wall time ourselves.
    uint64_t now = host_realtime_ns();
    uint64_t elapsed = now > *realtime_ ? now - *realtime_ : 0;
    warn("KVM_SET_CLOCK with KVM_CLOCK_REALTIME failed (" + st.error().describe() +
         "); advancing the clock by " + std::to_string(elapsed) + " ns instead");
    data = hv::ClockData{.clock_ns = clock_ + elapsed};
    st = vm_.set_clock(data);
  }
  return st;
}

// One KVMCLOCK_CTRL per vCPU on its own thread, each waited for, so all are done before
// vm_start resumes any vCPU.
void Kvmclock::kvmclock_ctrl_all() {
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    core::CpuSync& sync = vcpus_.sync(i);
    vcpus_.thread(i).run_on_cpu("do_kvmclock_ctrl", [&sync] {
      auto st = sync.vcpu().kvmclock_ctrl();
      // EINVAL: this vCPU's guest has not enabled kvmclock; nothing to tell it (QEMU ignores it).
      if (!st.ok() && st.error().err != EINVAL) {
        warn("vcpu " + std::to_string(sync.index()) + ": " + st.error().describe());
      }
    });
  }
}

Status Kvmclock::pre_save() {
  trace::Span span("kvmclock_pre_save");
  std::lock_guard lock(mu_);
  // After a plain pause the clock of that pause is what the guest last saw; reading it again
  // would count the paused time. Otherwise a second read shrinks the error across migration.
  if (!runstate_paused_) RRVM_TRY(update_clock());
  return ok_status();
}

Kvmclock::State Kvmclock::save() const {
  std::lock_guard lock(mu_);
  return State{clock_, reliable_, realtime_.has_value(), realtime_.value_or(0)};
}

Status Kvmclock::restore(const State& state) {
  if (!state.has_realtime && state.realtime_ns != 0) {
    return make_error("kvmclock: invalid saved state: realtime_ns set without has_realtime");
  }
  std::lock_guard lock(mu_);
  // QEMU's pre_load makes the clock unreliable; only a state that says so makes it reliable.
  reliable_ = state.reliable;
  clock_ = state.clock_ns;
  realtime_.reset();
  if (state.has_realtime) realtime_ = state.realtime_ns;
  advance_on_start_ = config_.clock_advance && state.has_realtime;
  return ok_status();
}

}  // namespace rrvm::devices
