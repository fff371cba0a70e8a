// The pending requests of a VM (QEMU's shutdown_requested / reset_requested / vmstop_requested):
// set from any thread, taken by the main loop (VmControl::main_loop_should_exit).
//
// Constructed before the vCPUs and devices that make requests, and before the VmControl that
// performs them, so nothing refers to an object that does not exist yet.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "vmm/core/main_loop.h"
#include "vmm/core/vm_requests.h"

namespace rrvm::core {

class RequestQueue final : public VmRequests {
 public:
  struct Shutdown {
    ShutdownCause cause;
    int exit_status;
  };
  struct VmStop {
    RunState state;
    std::string reason;
  };

  // no_reboot: QEMU's -no-reboot, a reset request becomes a shutdown request.
  explicit RequestQueue(MainLoop& loop, bool no_reboot = false)
      : loop_(loop), no_reboot_(no_reboot) {}

  std::optional<Shutdown> take_shutdown();
  std::optional<ShutdownCause> take_reset();
  std::optional<VmStop> take_vmstop();
  // Whether a shutdown was requested and not yet taken (any thread).
  bool shutdown_pending() const;

 protected:
  // The first shutdown request decides the exit status: a later `quit` must not hide a guest's
  // failure code. Later reset and vmstop requests replace earlier ones (QEMU keeps one of each).
  void do_request_shutdown(ShutdownCause cause, int exit_status) override;
  void do_request_reset(ShutdownCause cause) override;
  void do_request_vmstop(RunState state, std::string_view reason) override;

 private:
  MainLoop& loop_;
  const bool no_reboot_;
  mutable std::mutex mu_;
  std::optional<Shutdown> shutdown_;
  std::optional<ShutdownCause> reset_;
  std::optional<VmStop> vmstop_;
};

}  // namespace rrvm::core
