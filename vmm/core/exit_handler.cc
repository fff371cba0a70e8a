#include "vmm/core/exit_handler.h"

#include <fmt/format.h>

#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/base/log.h"

namespace rrvm::core {
namespace {

// linux/kvm.h KVM_INTERNAL_ERROR_* and KVM_SYSTEM_EVENT_*.
constexpr uint32_t SYSTEM_EVENT_SHUTDOWN = 1, SYSTEM_EVENT_RESET = 2, SYSTEM_EVENT_CRASH = 3;

std::string_view suberror_name(uint32_t suberror) {
  switch (suberror) {
    case 1:
      return "emulation failure";
    case 2:
      return "simultaneous exception";
    case 3:
      return "delivery event";
    case 4:
      return "unexpected exit reason";
  }
  return "unknown internal error";
}

// A guest or KVM error: the VM goes to internal-error (QEMU: vm_stop(RUN_STATE_INTERNAL_ERROR)
// from kvm_cpu_exec), with the reason logged and recorded.
ExitAction internal_error(const ExitContext& ctx, const std::string& reason) {
  std::string text = fmt::format("vcpu {}: {}", ctx.vcpu, reason);
  spdlog::error("{}", text);
  trace::emit(trace::Warning{"vcpu", text});
  ctx.requests.request_vmstop(trace::RunState::InternalError, text);
  return ExitAction::Stop;
}

ExitAction handle_io(const hv::Exit& exit, const ExitContext& ctx, const IoBus& bus) {
  uint64_t expected = static_cast<uint64_t>(exit.size) * exit.count;
  if (exit.size == 0 || exit.size > 8 || exit.count == 0 || exit.data.size() != expected) {
    return internal_error(ctx, fmt::format("malformed {} exit at 0x{:x}: size {} count {} data {}",
                                           exit.kind == hv::Exit::Kind::Io ? "I/O" : "MMIO",
                                           exit.address, exit.size, exit.count, exit.data.size()));
  }
  // String I/O (rep ins/outs) repeats the access `count` times on the same port.
  for (uint32_t i = 0; i < exit.count; ++i) {
    auto chunk = exit.data.subspan(static_cast<size_t>(i) * exit.size, exit.size);
    if (exit.is_write) {
      bus.write(exit.address, chunk);
    } else {
      bus.read(exit.address, chunk);  // no device: all ones, like an open bus
    }
  }
  // A device that made a request (debug-exit, reset port) stops this vCPU after the access.
  return take_stop_current_vcpu() ? ExitAction::Stop : ExitAction::Continue;
}

ExitAction handle_system_event(const hv::Exit& exit, const ExitContext& ctx) {
  switch (exit.detail) {
    case SYSTEM_EVENT_SHUTDOWN:
      ctx.requests.request_shutdown(ShutdownCause::GuestShutdown, 0);
      return ExitAction::Stop;
    case SYSTEM_EVENT_RESET:
      ctx.requests.request_reset(ShutdownCause::GuestReset);
      return ExitAction::Stop;
    case SYSTEM_EVENT_CRASH:
      ctx.requests.request_vmstop(trace::RunState::GuestPanicked, "guest crash (KVM system event)");
      return ExitAction::Stop;
  }
  return internal_error(ctx, fmt::format("unhandled KVM system event {}", exit.detail));
}

}  // namespace

std::string describe_exit_error(const hv::Exit& exit) {
  if (exit.kind == hv::Exit::Kind::FailEntry) {
    return fmt::format("VM entry failed, hardware reason 0x{:x}", exit.detail);
  }
  std::string text =
      fmt::format("KVM internal error: {} (suberror {})", suberror_name(exit.detail), exit.detail);
  if (!exit.extra.empty()) {
    text += "; data";
    for (size_t i = 0; i < exit.extra.size(); ++i) {
      text += fmt::format("{} 0x{:x}", i == 0 ? "" : ",", exit.extra[i]);
    }
  }
  return text;
}

// The vCPU loop's switch on the exit reason (kvmtool's kvm_cpu__start, QEMU's kvm_cpu_exec).
ExitAction handle_exit(const hv::Exit& exit, const ExitContext& ctx) {
  using Kind = hv::Exit::Kind;
  take_stop_current_vcpu();  // only requests made while handling this exit count
  switch (exit.kind) {
    case Kind::Io:
      return handle_io(exit, ctx, ctx.pio);
    case Kind::Mmio: {
      // QEMU's kvm_cpu_exec → address_space_rw: the MMIO exit is the cause of what the device
      // does (a virtio status write, a backend start). Port I/O gets no span: the serial console
      // makes one exit per character and the VcpuExit event already says what was accessed.
      trace::Span span("address_space_rw");
      return handle_io(exit, ctx, ctx.mmio);
    }
    case Kind::Interrupted:
      // A kick (pause, queued work) or a stray signal: the loop looks at its flags.
      return ExitAction::Continue;
    case Kind::Hlt:
      return ExitAction::Halt;
    case Kind::Shutdown:
      // Triple fault: QEMU resets the machine (or shuts down with -no-reboot).
      ctx.requests.request_reset(ShutdownCause::GuestReset);
      return ExitAction::Stop;
    case Kind::SystemEvent:
      return handle_system_event(exit, ctx);
    case Kind::InternalError:
    case Kind::FailEntry:
      return internal_error(ctx, describe_exit_error(exit));
    case Kind::Other:
      return internal_error(ctx, fmt::format("unhandled KVM exit reason {}", exit.detail));
  }
  return internal_error(ctx, fmt::format("unknown exit kind {}", static_cast<int>(exit.kind)));
}

}  // namespace rrvm::core
