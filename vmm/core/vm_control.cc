#include "vmm/core/vm_control.h"

#include <fmt/format.h>

#include "trace/names.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/base/log.h"

namespace rrvm::core {

VmControl::VmControl(RunStateMachine& run_state, VmStateNotifiers& notifiers, VcpuSet& vcpus,
                     RequestQueue& requests, MainLoop& main_loop, VmControlCallbacks callbacks,
                     VmControlOptions options)
    : run_state_(run_state),
      notifiers_(notifiers),
      vcpus_(vcpus),
      requests_(requests),
      main_loop_(main_loop),
      callbacks_(std::move(callbacks)),
      options_(options) {}

void VmControl::send_event(std::string_view name, std::optional<ShutdownCause> cause) {
  if (callbacks_.event) callbacks_.event(name, cause);
}

// QEMU's do_vm_stop: only a live VM stops; the state changes before the vCPUs pause (so a vCPU
// that looks at the run state while it finishes its exit already sees the new one), and the
// notifiers run with every vCPU stopped.
Status VmControl::do_vm_stop(RunState state, bool send_stop, std::string_view reason) {
  trace::Span span("do_vm_stop");
  RunState old = run_state_.get();
  if (old != RunState::Running && old != RunState::Suspended) return ok_status();
  RRVM_TRY(run_state_.set(state, reason));
  if (old == RunState::Running) vcpus_.pause_all();
  notifiers_.notify(false, state);
  if (send_stop) send_event("STOP");
  return ok_status();
}

Status VmControl::vm_stop(RunState state, std::string_view reason) {
  trace::Span span("vm_stop");
  return do_vm_stop(state, true, reason);
}

Status VmControl::vm_stop_force_state(RunState state, std::string_view reason) {
  trace::Span span("vm_stop_force_state");
  if (run_state_.is_live()) return vm_stop(state, reason);
  return run_state_.set(state, reason);
}

Result<bool> VmControl::vm_prepare_start(std::string_view reason) {
  trace::Span span("vm_prepare_start");
  if (run_state_.is_running()) return false;
  RunState from = run_state_.get();
  // Refuse an illegal start before announcing it: set() records the refused transition.
  if (!run_state_transition_allowed(from, RunState::Running)) {
    RRVM_TRY(run_state_.set(RunState::Running, reason));
  }
  // QEMU sends RESUME first ("the CPUs will be resumed shortly later").
  send_event("RESUME");
  RRVM_TRY(run_state_.set(RunState::Running, reason));
  notifiers_.notify(true, RunState::Running);
  return true;
}

Status VmControl::vm_start(std::string_view reason) {
  trace::Span span("vm_start");
  RRVM_ASSIGN_OR_RETURN(bool started, vm_prepare_start(reason));
  if (!started) return ok_status();
  // A start notifier that cannot keep the guest's state (kvmclock when KVM_SET_CLOCK fails)
  // requests a shutdown where QEMU aborts: the guest must not run a single instruction on that
  // state, so the vCPUs stay stopped and the main loop's next step ends the VM.
  if (requests_.shutdown_pending()) {
    std::string text = "vCPUs not resumed: a shutdown was requested while the VM started";
    spdlog::warn("{}", text);
    trace::emit(trace::Warning{"vm_control", text});
    return ok_status();
  }
  vcpus_.resume_all();
  return ok_status();
}

Status VmControl::vm_shutdown() {
  trace::Span span("vm_shutdown");
  return do_vm_stop(RunState::Shutdown, false, shutdown_cause_name(shutdown_cause_));
}

Status VmControl::system_reset(ShutdownCause cause) {
  trace::Span span("qemu_system_reset");
  std::string_view reason = shutdown_cause_name(cause);
  trace::emit(trace::DeviceReset{"machine", reason});
  if (callbacks_.reset_devices) RRVM_TRY(callbacks_.reset_devices(cause));
  if (vcpus_.has_reset_states()) vcpus_.restore_reset_states();
  RRVM_TRY(vcpus_.synchronize_all_post_reset());
  if (cause != ShutdownCause::SubsystemReset && cause != ShutdownCause::SnapshotLoad) {
    send_event("RESET", cause);
  }
  return ok_status();
}

Status VmControl::qmp_stop() {
  if (run_state_.check(RunState::InMigrate)) {
    autostart_ = false;
    return ok_status();
  }
  return vm_stop(RunState::Paused, "qmp:stop");
}

Status VmControl::qmp_cont() {
  if (run_state_.needs_reset()) return make_error("Resetting the Virtual Machine is required");
  if (run_state_.check(RunState::Suspended)) return ok_status();
  if (run_state_.check(RunState::FinishMigrate))
    return make_error("Migration is not finalized yet");
  if (run_state_.check(RunState::InMigrate)) {
    autostart_ = true;
    return ok_status();
  }
  // Continuing after a completed migration: the images were handed over and must come back
  // before the VM runs (QEMU's qmp_cont; after a plain pause this changes nothing).
  if (callbacks_.activate_disks) RRVM_TRY(callbacks_.activate_disks());
  return vm_start("qmp:cont");
}

// QEMU's main_loop_should_exit reset branch: stop every vCPU, reset, resume if running; a VM
// that was not running comes back in prelaunch.
void VmControl::handle_reset(ShutdownCause cause) {
  vcpus_.pause_all();
  if (auto st = system_reset(cause); !st.ok()) {
    std::string text = st.error().context("system reset").describe();
    spdlog::error("{}", text);
    trace::emit(trace::Warning{"vm_control", text});
    (void)run_state_.set(RunState::InternalError, text);
    return;
  }
  vcpus_.resume_all();
  RunState s = run_state_.get();
  if (s != RunState::Running && s != RunState::InMigrate && s != RunState::FinishMigrate) {
    (void)run_state_.set(RunState::Prelaunch, shutdown_cause_name(cause));
  }
}

bool VmControl::main_loop_should_exit(int* status) {
  if (auto shutdown = requests_.take_shutdown()) {
    shutdown_cause_ = shutdown->cause;
    *status = shutdown->exit_status;
    trace::Span span("qemu_system_shutdown");
    send_event("SHUTDOWN", shutdown->cause);
    return true;
  }
  if (auto cause = requests_.take_reset()) handle_reset(*cause);
  if (auto stop = requests_.take_vmstop()) {
    if (auto st = vm_stop(stop->state, stop->reason); !st.ok()) {
      spdlog::error("{}", st.error().describe());
    }
    bool failed = stop->state == RunState::InternalError || stop->state == RunState::GuestPanicked;
    if (failed && options_.exit_status_on_error) {
      spdlog::error("the VM stopped in {}: exiting with status {}",
                    trace::run_state_name(stop->state), *options_.exit_status_on_error);
      requests_.request_shutdown(ShutdownCause::HostError, *options_.exit_status_on_error);
    }
  }
  return false;
}

int VmControl::run_main_loop() {
  trace::set_thread_name("main");
  int status = 0;
  main_loop_.run([&] { return main_loop_should_exit(&status); });
  return status;
}

}  // namespace rrvm::core
