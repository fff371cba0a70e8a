// Starting, stopping, resetting and shutting down the VM: QEMU's system/cpus.c (vm_stop,
// do_vm_stop, vm_start, vm_prepare_start, vm_shutdown) and the request handling of
// system/runstate.c (main_loop_should_exit, qemu_system_reset), with QMP's stop/cont/quit/
// system_reset semantics from monitor/qmp-cmds.c.
//
// Threading: every operation runs on the main loop thread (or on the main thread before the loop
// starts). vCPU threads and devices only make requests (RequestQueue); the monitor calls through
// MainLoop::call.
//
// Ordering invariants (QEMU's, visible in the trace):
//   stop:  run-state change, pause every vCPU, notifiers (descending), STOP event.
//   start: RESUME event, run-state change to running, notifiers (ascending; kvmclock's
//          KVM_SET_CLOCK and KVMCLOCK_CTRL on each vCPU happen here), then the vCPUs resume.
//   stopping a VM that is not running changes nothing (vm_stop) or only the run state
//   (vm_stop_force_state): no notifier runs twice, so kvmclock keeps the clock of the first stop.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/core/main_loop.h"
#include "vmm/core/request_queue.h"
#include "vmm/core/run_state.h"
#include "vmm/core/vcpu_set.h"
#include "vmm/core/vm_requests.h"
#include "vmm/core/vm_state_notifier.h"

namespace rrvm::core {

struct VmControlCallbacks {
  // A QMP event: "STOP", "RESUME" (no cause) or "SHUTDOWN", "RESET" (with their cause, which
  // becomes {"guest": ..., "reason": ...}). Called on the main loop thread. May be empty.
  std::function<void(std::string_view event, std::optional<ShutdownCause> cause)> event;
  // Resets the devices on a system reset (every vCPU is stopped). vCPU state is reset by
  // VmControl itself (VcpuSet reset states). May be empty.
  std::function<Status(ShutdownCause cause)> reset_devices;
  // QEMU's bdrv_activate_all() in qmp_cont: takes back disk images a completed migration gave up
  // (a no-op when they are held). `cont` fails with its error. May be empty.
  std::function<Status()> activate_disks;
};

struct VmControlOptions {
  // (QEMU's -no-reboot is RequestQueue's no_reboot: it turns reset requests into shutdowns.)
  // When set, a VM that stops in internal-error or guest-panicked ends rrvm with this status
  // (for runs nobody can inspect over QMP). Unset: it stays stopped, as QEMU does.
  std::optional<int> exit_status_on_error;
};

class VmControl {
 public:
  VmControl(RunStateMachine& run_state, VmStateNotifiers& notifiers, VcpuSet& vcpus,
            RequestQueue& requests, MainLoop& main_loop, VmControlCallbacks callbacks,
            VmControlOptions options = {});

  RunStateMachine& run_state() { return run_state_; }
  RequestQueue& requests() { return requests_; }

  // QEMU's vm_stop: do_vm_stop(state, send_stop=true). Nothing happens unless the VM is live.
  Status vm_stop(RunState state, std::string_view reason);
  // QEMU's vm_stop_force_state: like vm_stop on a live VM; otherwise only the run state changes.
  Status vm_stop_force_state(RunState state, std::string_view reason);
  // QEMU's vm_start: vm_prepare_start, then resume every vCPU. A running VM is left alone.
  Status vm_start(std::string_view reason);
  // QEMU's vm_shutdown at exit: do_vm_stop(SHUTDOWN, send_stop=false). On a VM that is not
  // running nothing is recorded.
  Status vm_shutdown();
  // QEMU's qemu_system_reset: devices, vCPU state (RESET put), RESET event. vCPUs must be stopped.
  Status system_reset(ShutdownCause cause);

  // QMP commands, with QEMU's checks and error texts.
  Status qmp_stop();
  Status qmp_cont();
  void qmp_quit() { requests_.request_shutdown(ShutdownCause::HostQmpQuit, 0); }
  void qmp_system_reset() { requests_.request_reset(ShutdownCause::HostQmpSystemReset); }

  // Incoming migration: whether to run once loaded (`cont`/`stop` during inmigrate set it).
  bool autostart() const { return autostart_; }
  void set_autostart(bool on) { autostart_ = on; }

  // Runs the main loop on the calling thread until a shutdown request; returns rrvm's exit status
  // (the debug-exit value, 0 for quit). Call vm_shutdown() afterwards, as QEMU's qemu_cleanup.
  int run_main_loop();
  // One pass over pending requests (QEMU's main_loop_should_exit); true when the loop must end.
  bool main_loop_should_exit(int* status);

 private:
  Status do_vm_stop(RunState state, bool send_stop, std::string_view reason);
  // Error when the VM is already running (QEMU returns -1 and vm_start does nothing).
  Result<bool> vm_prepare_start(std::string_view reason);
  void handle_reset(ShutdownCause cause);
  void send_event(std::string_view name, std::optional<ShutdownCause> cause = std::nullopt);

  RunStateMachine& run_state_;
  VmStateNotifiers& notifiers_;
  VcpuSet& vcpus_;
  RequestQueue& requests_;
  MainLoop& main_loop_;
  VmControlCallbacks callbacks_;
  VmControlOptions options_;
  std::atomic<bool> autostart_{true};  // read by the migration-incoming thread

  ShutdownCause shutdown_cause_ = ShutdownCause::None;  // main loop thread: why it ended
};

}  // namespace rrvm::core
