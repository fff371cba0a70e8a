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

class VmRequests {
 public:
  virtual ~VmRequests() = default;
  // The VM ends; rrvm exits with `exit_status` (the debug-exit port's value, or 0).
  virtual void request_shutdown(ShutdownCause cause, int exit_status) = 0;
  // A system reset (or a shutdown instead, when the VM was configured not to reboot).
  virtual void request_reset(ShutdownCause cause) = 0;
  // Stop the VM into `state` (internal-error, guest-panicked, debug). `reason` is recorded.
  virtual void request_vmstop(trace::RunState state, std::string_view reason) = 0;
};

}  // namespace rrvm::core
