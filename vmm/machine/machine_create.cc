// Machine::create: the construction steps, in the order machine.h documents.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "trace/span.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/hv/caps.h"
#include "vmm/hv/cpuid.h"
#include "vmm/hv/kvm/kvm.h"
#include "vmm/hv/recording/recording_hypervisor.h"
#include "vmm/machine/irqfd_line.h"
#include "vmm/machine/machine.h"
#include "vmm/monitor/vm_commands.h"

namespace rrvm::machine {
namespace {

// Below 4 GiB, above the MMIO windows, where QEMU's pc machine puts them too.
constexpr uint64_t TSS_ADDR = 0xfffbd000;
constexpr uint64_t IDENTITY_MAP_ADDR = 0xfffbc000;
constexpr uint64_t MIN_MEMORY = 16ull << 20;

// What needs no KVM to check: the memory size.
Status validate_memory(const MachineConfig& c) {
  if (c.memory_bytes < MIN_MEMORY) {
    return make_error("--mem " + std::to_string(c.memory_bytes >> 20) +
                      " MiB is too small: rrvm needs at least 16 MiB");
  }
  if (c.memory_bytes % GuestMemory::PAGE_SIZE != 0) {
    return make_error("--mem must be a multiple of 4 KiB");
  }
  return ok_status();
}

// The kernel to boot: the user's, else the rrvm guest.
std::string kernel_path(const MachineConfig& c) {
  return c.kernel.empty() ? rrvm_guest_path() : c.kernel;
}

// What KVM decides: how many vCPUs a VM may have.
Status validate_vcpus(const MachineConfig& c, const hv::Hypervisor& hv) {
  int max = hv.max_vcpus();
  if (c.vcpus == 0 || static_cast<int>(c.vcpus) > max) {
    return make_error("--cpus " + std::to_string(c.vcpus) + ": KVM allows 1 to " +
                      std::to_string(max) + " vCPUs on this host");
  }
  return ok_status();
}

// A file rrvm creates (the trace, the serial output, the QMP socket): its directory must exist and
// be writable, else the user named a wrong path.
Status check_creatable(const std::string& what, const std::string& path) {
  if (path.empty()) return ok_status();
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return errno_error(what + " " + path + ": directory " + dir);
  }
  return ok_status();
}

trace::VmConfig trace_vm_config(const MachineConfig& c) {
  trace::VmConfig v;
  v.memory_bytes = c.memory_bytes;
  v.vcpus = c.vcpus;
  v.kernel = c.kernel.empty() ? "rrvm-guest" : c.kernel;
  v.initrd = c.initrd;
  v.cmdline = c.cmdline;
  for (size_t i = 0; i < c.disks.size(); ++i) {
    v.devices.push_back("virtio-blk" + std::to_string(i) + " " + c.disks[i].path +
                        (c.disks[i].read_only ? " (read-only)" : ""));
  }
  if (c.rng) v.devices.push_back("virtio-rng0");
  v.role = c.incoming.empty() ? "run" : "incoming " + c.incoming;
  return v;
}

}  // namespace

Machine::Machine(const MachineConfig& config)
    : config_(config),
      start_time_(std::chrono::steady_clock::now()),
      // An incoming VM opens its images unlocked: the source holds them until its completion.
      disks_active_(config.incoming.empty()) {}

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config,
                                                 std::unique_ptr<hv::Hypervisor> hv) {
  std::unique_ptr<Machine> m(new Machine(config));
  RRVM_TRY(m->open_trace(std::move(hv)));
  trace::Span span("machine_init");
  RRVM_TRY(m->create_vm());
  RRVM_TRY(m->create_vcpus());
  RRVM_TRY(m->create_devices());
  RRVM_TRY(m->create_control());
  RRVM_TRY(m->boot_kernel());
  RRVM_TRY(m->create_monitor());
  return m;
}

// Reads only what create() would refuse later (with the same errors), without opening /dev/kvm:
// a wrong path or size is named as such on any host, and before a trace is written.
Status Machine::check_inputs(const MachineConfig& config) {
  RRVM_TRY(validate_memory(config));
  RRVM_TRY(boot::check_kernel_files(
      {.kernel_path = kernel_path(config), .initrd_path = config.initrd}, config.memory_bytes));
  // Each disk image opens as the device will open it (without taking its lock, which a migration
  // source may still hold); the device is dropped again.
  for (size_t i = 0; i < config.disks.size(); ++i) {
    RRVM_TRY(virtio::BlkDevice::create(disk_config(config, i, /*open_inactive=*/true)));
  }
  RRVM_TRY(check_creatable("trace", config.trace_path));
  RRVM_TRY(check_creatable("QMP socket", config.qmp_path));
  if (config.serial != "-") RRVM_TRY(check_creatable("serial output", config.serial));
  return ok_status();
}

Status Machine::open_trace(std::unique_ptr<hv::Hypervisor> kvm) {
  RRVM_TRY(validate_memory(config_));
  RRVM_TRY(validate_vcpus(config_, *kvm));
  config_.kernel = kernel_path(config_);
  if (config_.trace_path.empty()) {
    hv_ = std::move(kvm);
    return ok_status();
  }
  trace::Header header;
  trace::fill_host_info(header);
  hv::fill_kvm_info(*kvm, header);
  header.rrvm_version = RRVM_VERSION;
  header.config = trace_vm_config(config_);
  auto recorder = trace::Recorder::open({.path = config_.trace_path}, header);
  if (!recorder.ok()) return recorder.error().context("opening the trace");
  recorder_ = std::move(recorder).value();
  trace::install(recorder_.get());
  trace::set_thread_name("main");
  hv_ = hv::make_recording(std::move(kvm));
  return ok_status();
}

Status Machine::create_vm() {
  RRVM_ASSIGN_OR_RETURN(vm_, hv_->create_vm());
  RRVM_TRY(vm_->set_tss_addr(TSS_ADDR));
  RRVM_TRY(vm_->set_identity_map_addr(IDENTITY_MAP_ADDR));
  // The in-kernel irqchip and PIT must exist before the first vCPU (KVM creates each vCPU's LAPIC
  // with it).
  RRVM_TRY(vm_->create_irqchip());
  RRVM_TRY(vm_->create_pit());
  RRVM_ASSIGN_OR_RETURN(memory_, GuestMemory::allocate(config_.memory_bytes));
  for (const auto& r : memory_.regions()) {
    RRVM_TRY(vm_->set_memory_region({r.slot, r.gpa, r.size, r.host, false}));
  }
  return ok_status();
}

Status Machine::create_vcpus() {
  RRVM_ASSIGN_OR_RETURN(auto supported, hv_->supported_cpuid());
  RRVM_ASSIGN_OR_RETURN(auto msr_list, hv_->msr_index_list());
  sync_config_.msrs = hv::MsrIndexList(std::move(msr_list));
  sync_config_.xsave = hv_->check_extension(hv::cap::XSAVE) > 0;
  sync_config_.xcrs = hv_->check_extension(hv::cap::XCRS) > 0;
  sync_config_.debugregs = hv_->check_extension(hv::cap::DEBUGREGS) > 0;
  sync_config_.tsc_khz = hv_->host_tsc_khz();

  requests_ = std::make_unique<core::RequestQueue>(loop_, config_.no_reboot);
  vcpu_set_ = std::make_unique<core::VcpuSet>(run_state_, notifiers_, sync_config_, pio_, mmio_,
                                              *requests_);
  for (uint32_t i = 0; i < config_.vcpus; ++i) {
    RRVM_ASSIGN_OR_RETURN(auto vcpu, vm_->create_vcpu(static_cast<int>(i)));
    RRVM_ASSIGN_OR_RETURN(auto cpuid, hv::vcpu_cpuid(supported, i, config_.vcpus));
    RRVM_TRY(vcpu->set_cpuid(cpuid));
    vcpu_set_->add(*vcpu);
    vcpus_.push_back(std::move(vcpu));
  }
  return ok_status();
}

Status Machine::create_devices() {
  if (config_.serial == "-") {
    console_fd_ = STDOUT_FILENO;
  } else if (!config_.serial.empty()) {
    console_fd_ = ::open(config_.serial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (console_fd_ < 0) return errno_error("opening the serial output " + config_.serial);
    owns_console_fd_ = true;
  }
  RRVM_ASSIGN_OR_RETURN(auto com1_irq, IrqfdLine::create(*vm_, devices::COM1_IRQ));
  serial_ = std::make_shared<devices::Serial>(
      devices::Serial::Options{.name = "serial0",
                               .output_fd = console_fd_,
                               .on_line = [this](std::string_view line) { on_serial_line(line); },
                               .irq = std::move(com1_irq)});
  debug_exit_ = std::make_shared<devices::DebugExit>(*requests_);
  reset_port_ = std::make_shared<devices::ResetPort>(*requests_);
  RRVM_TRY(pio_.insert(devices::COM1_PORT, devices::SERIAL_PORT_COUNT, serial_));
  RRVM_TRY(pio_.insert(devices::DEBUG_EXIT_PORT, devices::DEBUG_EXIT_PORT_COUNT, debug_exit_));
  RRVM_TRY(
      pio_.insert(devices::RESET_CONTROL_PORT, devices::RESET_CONTROL_PORT_COUNT, reset_port_));
  RRVM_TRY(create_virtio_devices());
  // After the vCPUs were added: their TSC-cache handlers come first on start, as in QEMU.
  kvmclock_ = std::make_unique<devices::Kvmclock>(
      *vm_, *vcpu_set_, memory_, *requests_,
      devices::KvmclockConfig::from_hypervisor(*hv_, config_.clock_advance));
  kvmclock_->attach(notifiers_);
  return ok_status();
}

Status Machine::create_control() {
  core::VmControlCallbacks callbacks;
  callbacks.event = [this](std::string_view event, std::optional<core::ShutdownCause> cause) {
    if (qmp_) monitor::emit_vm_event(*qmp_, event, cause);
  };
  callbacks.reset_devices = [this](core::ShutdownCause cause) { return reset_devices(cause); };
  callbacks.activate_disks = [this] { return activate_disks(); };
  control_ = std::make_unique<core::VmControl>(run_state_, notifiers_, *vcpu_set_, *requests_,
                                               loop_, std::move(callbacks));
  control_->set_autostart(config_.autostart);
  migration_ = std::make_unique<migration::MigrationManager>(
      *this, [this](const migration::MigrationStats& stats) {
        if (qmp_) qmp_->emit_event("MIGRATION", {{"status", migration::status_name(stats.status)}});
        // QEMU exits with EXIT_FAILURE when an incoming migration fails to load: the VM has no
        // usable state, and no vCPU has run (the target refuses before starting them).
        if (stats.incoming && stats.status == migration::MigrationStatus::Failed) {
          request_shutdown(core::ShutdownCause::HostError, 1);
        }
      });
  vcpu_set_->start();
  return ok_status();
}

}  // namespace rrvm::machine
