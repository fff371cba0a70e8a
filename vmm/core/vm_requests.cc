#include "vmm/core/vm_requests.h"

#include <utility>

namespace rrvm::core {
namespace {

thread_local bool stop_current = false;

}  // namespace

void stop_current_vcpu() { stop_current = true; }

bool take_stop_current_vcpu() { return std::exchange(stop_current, false); }

std::string_view shutdown_cause_name(ShutdownCause cause) {
  switch (cause) {
    case ShutdownCause::None:
      return "none";
    case ShutdownCause::HostError:
      return "host-error";
    case ShutdownCause::HostQmpQuit:
      return "host-qmp-quit";
    case ShutdownCause::HostQmpSystemReset:
      return "host-qmp-system-reset";
    case ShutdownCause::HostSignal:
      return "host-signal";
    case ShutdownCause::HostUi:
      return "host-ui";
    case ShutdownCause::GuestShutdown:
      return "guest-shutdown";
    case ShutdownCause::GuestReset:
      return "guest-reset";
    case ShutdownCause::GuestPanic:
      return "guest-panic";
    case ShutdownCause::SubsystemReset:
      return "subsystem-reset";
    case ShutdownCause::SnapshotLoad:
      return "snapshot-load";
  }
  return "unknown";
}

// QEMU: "cause >= SHUTDOWN_CAUSE_GUEST_SHUTDOWN && cause != SHUTDOWN_CAUSE_SUBSYSTEM_RESET",
// and snapshot-load (after subsystem-reset) is not the guest's doing either.
bool shutdown_caused_by_guest(ShutdownCause cause) {
  return cause == ShutdownCause::GuestShutdown || cause == ShutdownCause::GuestReset ||
         cause == ShutdownCause::GuestPanic;
}

}  // namespace rrvm::core
