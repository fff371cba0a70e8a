// Machine: boot, the monitor, running the main loop, reset and teardown.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "trace/span.h"
#include "vmm/boot/boot_plan.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/machine/machine.h"
#include "vmm/machine/migration_commands.h"
#include "vmm/monitor/vm_commands.h"

namespace rrvm::machine {
namespace {

constexpr std::string_view READY_MARKER = "rrvm-guest: ready";

boot::KernelSpec kernel_spec(const MachineConfig& c, const std::vector<virtio::MmioSlot>& slots) {
  boot::KernelSpec spec;
  spec.kernel_path = c.kernel;
  spec.initrd_path = c.initrd;
  spec.vcpus = c.vcpus;
  spec.protocol = c.pvh ? boot::BootProtocol::Pvh : boot::BootProtocol::Auto;
  spec.cmdline = c.cmdline;
  // The loader tells the guest about them: ACPI tables for Linux, virtio_mmio.device= words on
  // the command line for the rrvm guest and PVH kernels.
  spec.virtio_mmio = slots;
  return spec;
}

}  // namespace

Status Machine::boot_kernel() {
  trace::Span span("load_kernel");
  // An incoming VM's RAM must stay zero until the stream fills it (the first pass skips zero
  // pages), so its kernel is loaded into scratch RAM of the same layout: only the initial vCPU
  // state is kept, for a later system reset. Anonymous memory costs nothing until touched.
  GuestMemory scratch;
  const GuestMemory* target = &memory_;
  if (!config_.incoming.empty()) {
    RRVM_ASSIGN_OR_RETURN(scratch, GuestMemory::allocate(config_.memory_bytes));
    target = &scratch;
  }
  auto plan = boot::load_kernel(*target, kernel_spec(config_, virtio_slots()));
  if (!plan.ok()) return plan.error().context("loading kernel " + config_.kernel);
  spdlog::debug("kernel {} entry 0x{:x} mode {} cmdline '{}'", config_.kernel, plan->entry,
                boot::entry_mode_name(plan->mode), plan->cmdline);
  for (size_t i = 0; i < vcpu_set_->size(); ++i) {
    auto& thread = vcpu_set_->thread(i);
    Status st;
    thread.run_on_cpu("apply_boot_state",
                      [&] { st = boot::apply_boot_state(vcpu_set_->sync(i).vcpu(), *plan); });
    RRVM_TRY(st);
  }
  // QEMU: the state after machine init is the reset state; cpu_synchronize_all_post_init then
  // writes all of it at FULL level.
  RRVM_TRY(vcpu_set_->synchronize_all_states());
  vcpu_set_->capture_reset_states();
  return vcpu_set_->synchronize_all_post_init();
}

Status Machine::create_monitor() {
  RRVM_TRY(monitor::register_vm_commands(commands_, *control_));
  RRVM_TRY(register_migration_commands(commands_, *migration_));
  if (config_.qmp_path.empty()) return ok_status();
  monitor::QmpServerOptions options;
  options.path = config_.qmp_path;
  options.version = {0, 1, 0, std::string("rrvm ") + RRVM_VERSION};
  auto server = monitor::QmpServer::start(options, commands_, monitor::main_loop_dispatcher(loop_));
  if (!server.ok()) return server.error().context("starting the QMP monitor");
  qmp_ = std::move(server).value();
  spdlog::info("QMP monitor on {}", config_.qmp_path);
  return ok_status();
}

void Machine::on_serial_line(std::string_view line) {
  // Runs on a vCPU thread under the serial device's lock: only note and log here.
  if (line.substr(0, READY_MARKER.size()) == READY_MARKER && !guest_ready_.exchange(true)) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                        start_time_).count();
    spdlog::info("guest ready {:.1f} ms after start", ms);
  }
}

Status Machine::start_guest() {
  if (!config_.incoming.empty()) {
    RRVM_TRY(run_state_.set(trace::RunState::InMigrate, "incoming migration"));
    RRVM_TRY(migration_->start_incoming(config_.incoming));
    spdlog::info("waiting for an incoming migration on {}", migration_->incoming_uri());
    return ok_status();
  }
  // QEMU: qmp_cont from qmp_x_exit_preconfig, which is vm_start (kvmclock's first start).
  return control_->vm_start("boot");
}

int Machine::run() {
  if (Status st = start_guest(); !st.ok()) {
    spdlog::error("{}", st.error().describe());
    teardown();
    return 1;
  }
  int status = control_->run_main_loop();
  teardown();
  return status;
}

void Machine::teardown() {
  if (migration_) migration_->cancel();
  if (control_) {
    if (Status st = control_->vm_shutdown(); !st.ok()) {
      spdlog::warn("shutting the VM down: {}", st.error().describe());
    }
  }
  if (qmp_) qmp_->close();
  if (vcpu_set_) vcpu_set_->exit_threads();
  for (auto& v : virtio_) {
    if (v.transport) v.transport->detach_ioeventfds();
  }
}

Machine::~Machine() {
  teardown();
  virtio_.clear();
  io_thread_.reset();
  if (owns_console_fd_) ::close(console_fd_);
  if (recorder_) {
    trace::install(nullptr);
    if (Status st = recorder_->close(); !st.ok()) {
      spdlog::error("closing the trace: {}", st.error().describe());
    } else {
      auto s = recorder_->stats();
      spdlog::info("trace {}: {} events, {} dropped, {} bytes", recorder_->path(), s.events,
                   s.dropped, s.compressed_bytes);
    }
  }
}

trace::RecorderStats Machine::trace_stats() const {
  return recorder_ ? recorder_->stats() : trace::RecorderStats{};
}

Status Machine::reset_devices(core::ShutdownCause cause) {
  trace::Span span("qemu_devices_reset");
  serial_->reset();
  for (auto& v : virtio_) v.transport->reset_by_vmm(core::shutdown_cause_name(cause));
  // Like QEMU's ROM reset: the kernel image and its boot data are written into RAM again, so the
  // vCPUs' reset state (the boot entry) finds an intact kernel.
  auto plan = boot::load_kernel(memory_, kernel_spec(config_, virtio_slots()));
  if (!plan.ok()) return plan.error().context("reloading kernel on reset");
  return ok_status();
}

Status Machine::on_main_loop(const char* span, const std::function<Status()>& fn) {
  Status result = make_error(std::string(span) + ": the VM is shutting down");
  if (loop_.in_loop_thread()) return fn();
  loop_.call(span, [&] { result = fn(); });
  return result;
}

}  // namespace rrvm::machine
