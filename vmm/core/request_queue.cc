#include "vmm/core/request_queue.h"

namespace rrvm::core {

void RequestQueue::do_request_shutdown(ShutdownCause cause, int exit_status) {
  {
    std::lock_guard lock(mu_);
    if (!shutdown_) shutdown_ = Shutdown{cause, exit_status};
  }
  loop_.notify();
}

void RequestQueue::do_request_reset(ShutdownCause cause) {
  if (no_reboot_ && cause != ShutdownCause::SubsystemReset) {
    do_request_shutdown(cause, 0);
    return;
  }
  {
    std::lock_guard lock(mu_);
    reset_ = cause;
  }
  loop_.notify();
}

void RequestQueue::do_request_vmstop(RunState state, std::string_view reason) {
  {
    std::lock_guard lock(mu_);
    vmstop_ = VmStop{state, std::string(reason)};
  }
  loop_.notify();
}

std::optional<RequestQueue::Shutdown> RequestQueue::take_shutdown() {
  std::lock_guard lock(mu_);
  return std::exchange(shutdown_, std::nullopt);
}

bool RequestQueue::shutdown_pending() const {
  std::lock_guard lock(mu_);
  return shutdown_.has_value();
}

std::optional<ShutdownCause> RequestQueue::take_reset() {
  std::lock_guard lock(mu_);
  return std::exchange(reset_, std::nullopt);
}

std::optional<RequestQueue::VmStop> RequestQueue::take_vmstop() {
  std::lock_guard lock(mu_);
  return std::exchange(vmstop_, std::nullopt);
}

}  // namespace rrvm::core
