// The machine: assembles the hypervisor, guest memory, vCPUs, devices, boot, the monitor and
// migration into one VM, and runs it.
//
// Construction order (Machine::create), each step needing the ones before it:
//   1. KVM, then the trace recorder, which wraps KVM so every later KVM call is recorded
//   2. VM: TSS/identity map, in-kernel irqchip + PIT (before any vCPU), guest RAM slots
//   3. vCPUs with their CPUID, the vCPU threads (stopped) and cpu_sync
//   4. devices: serial (COM1, GSI 4), debug-exit, reset port, virtio-mmio devices, kvmclock
//      (after the vCPUs: their TSC handlers must come first in the notifier list, as in QEMU)
//   5. boot (kernel into RAM, initial vCPU state) unless the VM is an incoming migration
//   6. VM control, QMP monitor, migration manager
// Machine::run() then starts the VM (or waits for the incoming migration) and runs the main loop
// on the calling thread until a shutdown request; teardown happens in reverse.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "trace/recorder.h"
#include "vmm/core/guest_memory.h"
#include "vmm/core/io_bus.h"
#include "vmm/core/main_loop.h"
#include "vmm/core/request_queue.h"
#include "vmm/core/run_state.h"
#include "vmm/core/vcpu_set.h"
#include "vmm/core/vm_control.h"
#include "vmm/core/vm_state_notifier.h"
#include "vmm/devices/debug_exit.h"
#include "vmm/devices/kvmclock.h"
#include "vmm/devices/reset_port.h"
#include "vmm/devices/serial.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/io_thread.h"
#include "vmm/devices/virtio/mmio_layout.h"
#include "vmm/devices/virtio/mmio_transport.h"
#include "vmm/hv/hypervisor.h"
#include "vmm/machine/machine_config.h"
#include "vmm/migration/manager.h"
#include "vmm/migration/migratable.h"
#include "vmm/monitor/command_table.h"
#include "vmm/monitor/qmp_server.h"

namespace rrvm::machine {

class Machine final : public migration::Migratable {
 public:
  // The user's inputs that need no KVM to check (memory size; the kernel and initrd can be read,
  // fit in memory and look like a kernel; the disk images open; the directories of the trace,
  // the QMP socket and the serial output file exist and are writable). A CLI calls it before it
  // opens /dev/kvm, to tell bad input from a host without KVM; create() does not repeat it (its
  // own steps refuse the same inputs with the same errors).
  static Status check_inputs(const MachineConfig& config);
  // Builds the machine on a hypervisor the caller opened: KVM (hv::open_kvm(config.kvm_device)),
  // or an in-memory one in tests (tests/machine). The trace's recording layer wraps it here.
  static Result<std::unique_ptr<Machine>> create(const MachineConfig& config,
                                                 std::unique_ptr<hv::Hypervisor> hv);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Starts the guest (or the incoming migration) and runs the main loop until the VM ends.
  // Returns rrvm's exit status: the guest's debug-exit value, 0 after `quit`, 1 on errors.
  int run();

  // Any thread: ends the VM as the main loop's next step (e.g. on SIGINT: HostSignal).
  void request_shutdown(core::ShutdownCause cause, int exit_status) {
    requests_->request_shutdown(cause, exit_status);
  }

  // Any thread: the numbers of the migration in progress, or of the last one (status None before
  // any), as query-migrate reports them. The CLI shows progress from them.
  migration::MigrationStats migration_stats() const { return migration_->query(); }

  const MachineConfig& config() const { return config_; }
  const std::string& trace_path() const { return config_.trace_path; }
  trace::RecorderStats trace_stats() const;

  // --- migration::Migratable (machine_migration.cc) ---
  migration::VmDescription describe() const override;
  const GuestMemory& memory() const override { return memory_; }
  bool ram_is_private_anonymous() const override { return true; }
  trace::RunState run_state() const override { return run_state_.get(); }
  bool autostart() const override { return control_->autostart(); }
  Status set_run_state(trace::RunState state, std::string_view reason) override;
  Status vm_start(std::string_view reason) override;
  Status start_dirty_log() override;
  Result<std::vector<uint64_t>> fetch_dirty_log(size_t region) override;
  Status stop_dirty_log() override;
  Status vm_stop_force_state(trace::RunState state, std::string_view reason) override;
  Status cpu_synchronize_all_states() override;
  Status inactivate_disks() override;
  Status activate_disks() override;
  Result<std::vector<uint8_t>> save_section(const migration::SectionInfo& section) override;
  Status load_section(const migration::SectionInfo& section, uint32_t version,
                      std::span<const uint8_t> data) override;
  Status cpu_synchronize_all_post_init() override;

 private:
  explicit Machine(const MachineConfig& config);

  // The BlkDevice configuration of disk `index` (machine_virtio.cc).
  static virtio::BlkConfig disk_config(const MachineConfig& config, size_t index,
                                       bool open_inactive);
  // machine_create.cc: the construction steps above.
  Status open_trace(std::unique_ptr<hv::Hypervisor> hv);
  Status create_vm();
  Status create_vcpus();
  Status create_devices();
  Status create_virtio_devices();
  std::vector<virtio::MmioSlot> virtio_slots() const;
  // Creates device `index` of the configuration, fresh or from its saved disk state.
  Result<std::unique_ptr<virtio::VirtioDevice>> make_virtio_device(size_t index,
                                                                   const virtio::BlkState* saved);
  // Puts `device` behind a transport (restored from `state` when given) at the entry's slot:
  // MMIO window, ioeventfds, VM state notifier.
  Status install_virtio(size_t index, std::unique_ptr<virtio::VirtioDevice> device,
                        const virtio::MmioTransportState* state);
  void uninstall_virtio(size_t index);
  Status restore_virtio(size_t index, std::span<const uint8_t> data);
  Status boot_kernel();
  Status create_control();
  Status create_monitor();
  void on_serial_line(std::string_view line);

  // machine_run.cc
  Status start_guest();
  void teardown();
  Status reset_devices(core::ShutdownCause cause);
  // Runs `fn` on the main loop (directly when called on it): Migratable calls come from the
  // migration thread, but run-state changes belong to the main loop.
  Status on_main_loop(const char* span, const std::function<Status()>& fn);

  MachineConfig config_;
  std::chrono::steady_clock::time_point start_time_;
  std::unique_ptr<trace::Recorder> recorder_;
  std::unique_ptr<hv::Hypervisor> hv_;
  std::unique_ptr<hv::Vm> vm_;
  GuestMemory memory_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpus_;

  core::MainLoop loop_;
  std::unique_ptr<core::RequestQueue> requests_;
  core::RunStateMachine run_state_;
  core::VmStateNotifiers notifiers_;
  IoBus pio_{"pio"};
  IoBus mmio_{"mmio"};
  core::CpuSyncConfig sync_config_;
  std::unique_ptr<core::VcpuSet> vcpu_set_;

  int console_fd_ = -1;  // not owned when it is stdout
  bool owns_console_fd_ = false;
  std::shared_ptr<devices::Serial> serial_;
  std::shared_ptr<devices::DebugExit> debug_exit_;
  std::shared_ptr<devices::ResetPort> reset_port_;
  std::unique_ptr<devices::Kvmclock> kvmclock_;
  // One virtio-mmio device: disks first (index = --disk order), then the rng.
  struct VirtioEntry {
    virtio::MmioSlot slot;
    std::shared_ptr<virtio::VirtioMmioTransport> transport;  // shared with the MMIO bus
    virtio::BlkDevice* blk = nullptr;  // owned by transport; null for virtio-rng
    core::VmStateNotifiers::Id notifier = 0;
  };
  std::unique_ptr<virtio::IoThread> io_thread_;
  std::vector<VirtioEntry> virtio_;
  std::atomic<bool> guest_ready_{false};
  // Whether the disk images' locks are held (main loop). False from the start of an incoming
  // migration until its load completes, and on a source from its completion until a failure or
  // `cont` takes them back. Devices recreated by a load open their image in this state.
  bool disks_active_ = true;

  std::unique_ptr<core::VmControl> control_;
  monitor::CommandTable commands_;
  std::unique_ptr<monitor::QmpServer> qmp_;
  std::unique_ptr<migration::MigrationManager> migration_;
  bool dirty_logging_ = false;
};

}  // namespace rrvm::machine
