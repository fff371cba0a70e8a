#include "vmm/machine/irqfd_line.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace rrvm::machine {

Result<std::shared_ptr<IrqfdLine>> IrqfdLine::create(hv::Vm& vm, uint32_t gsi) {
  Fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return errno_error("eventfd for GSI " + std::to_string(gsi));
  RRVM_TRY(vm.irqfd(fd.get(), gsi, true));
  return std::shared_ptr<IrqfdLine>(new IrqfdLine(vm, gsi, std::move(fd)));
}

IrqfdLine::~IrqfdLine() {
  Status st = vm_.irqfd(fd_.get(), gsi_, false);
  if (!st.ok()) spdlog::warn("releasing irqfd for GSI {}: {}", gsi_, st.error().describe());
}

Status IrqfdLine::trigger() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: an interrupt is pending already, which is all an
  // edge needs.
  if (::write(fd_.get(), &one, sizeof one) < 0 && errno != EAGAIN) {
    return errno_error("irqfd write for GSI " + std::to_string(gsi_));
  }
  return ok_status();
}

}  // namespace rrvm::machine
