// Requests that threads other than the main loop make of the VM (QEMU's
// qemu_system_{shutdown,reset,vmstop}_request): a guest writing the debug-exit port, a triple
// fault, a reset port write, a KVM internal error on a vCPU, the monitor's `quit`.
//
// A request only sets a flag and wakes the main loop; the main loop performs it (VmControl). The
// requesting vCPU stops itself right after (QEMU's cpu_stop_current), so it does not run on into
// guest code past a shutdown or reset.
#pragma once

#include <string_view>

#include "trace/events.h"

namespace rrvm::core {

using trace::RunState;

// QEMU's ShutdownCause; names as QAPI spells them (the "reason" of SHUTDOWN/RESET events).
enum class ShutdownCause {
  None,
  HostError,
  HostQmpQuit,
  HostQmpSystemReset,
  HostSignal,
  HostUi,
  GuestShutdown,
  GuestReset,
  GuestPanic,
  SubsystemReset,
  SnapshotLoad,
};

std::string_view shutdown_cause_name(ShutdownCause cause);
// QEMU's shutdown_caused_by_guest(): the `guest` member of SHUTDOWN and RESET events.
bool shutdown_caused_by_guest(ShutdownCause cause);

// A request made on a vCPU thread (a device's port write, an exit) also stops that vCPU right after
// the exit it is handling (QEMU's cpu_stop_current): handle_exit() sees it through
// take_stop_current_vcpu(). The flag is per thread; on other threads it is never looked at.
void stop_current_vcpu();
bool take_stop_current_vcpu();

class VmRequests {
 public:
  virtual ~VmRequests() = default;
  // The VM ends; rrvm exits with `exit_status` (the debug-exit port's value, or 0).
  void request_shutdown(ShutdownCause cause, int exit_status) {
    stop_current_vcpu();
    do_request_shutdown(cause, exit_status);
  }
  // A system reset (or a shutdown instead, when the VM was configured not to reboot).
  void request_reset(ShutdownCause cause) {
    stop_current_vcpu();
    do_request_reset(cause);
  }
  // Stop the VM into `state` (internal-error, guest-panicked, debug). `reason` is recorded.
  void request_vmstop(RunState state, std::string_view reason) {
    stop_current_vcpu();
    do_request_vmstop(state, reason);
  }

 protected:
  virtual void do_request_shutdown(ShutdownCause cause, int exit_status) = 0;
  virtual void do_request_reset(ShutdownCause cause) = 0;
  virtual void do_request_vmstop(RunState state, std::string_view reason) = 0;
};

}  // namespace rrvm::core
