#include "vmm/hv/kvm/kvm_exit.h"

#include <algorithm>
#include <string>

namespace rrvm::hv::kvm {
namespace {

// Both the internal-error and the system-event data arrays hold at most 16 words.
constexpr uint32_t MAX_EXIT_DATA = 16;

std::string where(int vcpu_index) { return "KVM_RUN (vcpu " + std::to_string(vcpu_index) + ")"; }

Result<Exit> decode_io(kvm_run& run, std::span<uint8_t> run_area, int vcpu_index) {
  Exit exit;
  exit.kind = Exit::Kind::Io;
  exit.address = run.io.port;
  exit.size = run.io.size;
  exit.count = run.io.count;
  exit.is_write = run.io.direction == KVM_EXIT_IO_OUT;
  const uint64_t bytes = uint64_t{run.io.size} * run.io.count;
  if (run.io.data_offset > run_area.size() || bytes > run_area.size() - run.io.data_offset) {
    return make_error(where(vcpu_index) + ": I/O exit data at offset " +
                      std::to_string(run.io.data_offset) + " (" + std::to_string(bytes) +
                      " bytes) lies outside the kvm_run area");
  }
  exit.data = run_area.subspan(run.io.data_offset, bytes);
  return exit;
}

Exit decode_mmio(kvm_run& run) {
  Exit exit;
  exit.kind = Exit::Kind::Mmio;
  exit.address = run.mmio.phys_addr;
  exit.size = std::min<uint32_t>(run.mmio.len, sizeof run.mmio.data);
  exit.is_write = run.mmio.is_write != 0;
  exit.data = std::span<uint8_t>(run.mmio.data, exit.size);
  return exit;
}

Exit decode_internal_error(const kvm_run& run) {
  Exit exit;
  exit.kind = Exit::Kind::InternalError;
  exit.detail = run.internal.suberror;
  const uint32_t n = std::min(run.internal.ndata, MAX_EXIT_DATA);
  exit.extra.assign(run.internal.data, run.internal.data + n);
  return exit;
}

Exit decode_system_event(const kvm_run& run) {
  Exit exit;
  exit.kind = Exit::Kind::SystemEvent;
  exit.detail = run.system_event.type;
  const uint32_t n = std::min(run.system_event.ndata, MAX_EXIT_DATA);
  exit.extra.assign(run.system_event.data, run.system_event.data + n);
  return exit;
}

Exit simple(Exit::Kind kind, uint32_t detail = 0) {
  Exit exit;
  exit.kind = kind;
  exit.detail = detail;
  return exit;
}

}  // namespace

Result<Exit> decode_exit(std::span<uint8_t> run_area, int vcpu_index) {
  RRVM_CHECK(run_area.size() >= sizeof(kvm_run));
  auto& run = *reinterpret_cast<kvm_run*>(run_area.data());
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return decode_io(run, run_area, vcpu_index);
    case KVM_EXIT_MMIO:
      return decode_mmio(run);
    case KVM_EXIT_HLT:
      return simple(Exit::Kind::Hlt);
    case KVM_EXIT_SHUTDOWN:
      return simple(Exit::Kind::Shutdown);
    case KVM_EXIT_INTERNAL_ERROR:
      return decode_internal_error(run);
    case KVM_EXIT_FAIL_ENTRY: {
      const uint64_t reason = run.fail_entry.hardware_entry_failure_reason;
      Exit exit = simple(Exit::Kind::FailEntry, static_cast<uint32_t>(reason));
      exit.extra = {reason, run.fail_entry.cpu};
      return exit;
    }
    case KVM_EXIT_SYSTEM_EVENT:
      return decode_system_event(run);
    case KVM_EXIT_INTR:
      return simple(Exit::Kind::Interrupted);
    default:
      return simple(Exit::Kind::Other, run.exit_reason);
  }
}

}  // namespace rrvm::hv::kvm
