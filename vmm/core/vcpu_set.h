// All vCPUs of a VM: their cpu_sync copies and threads, and the operations QEMU's cpus.c does
// "for every CPU" (pause_all_vcpus, resume_all_vcpus, cpu_synchronize_all_*), each on the
// vCPU's own thread through run_on_cpu, in vCPU order, with the spans QEMU's backtraces show.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/core/cpu_sync.h"
#include "vmm/core/exit_handler.h"
#include "vmm/core/run_state.h"
#include "vmm/core/vcpu_thread.h"
#include "vmm/core/vm_state_notifier.h"

namespace rrvm::core {

class VcpuSet {
 public:
  // `config` and everything referenced must outlive the set.
  VcpuSet(const RunStateMachine& run_state, VmStateNotifiers& notifiers,
          const CpuSyncConfig& config, const IoBus& pio, const IoBus& mmio, VmRequests& requests);
  ~VcpuSet();  // exits the threads, unregisters the notifiers

  // Adds a vCPU (before start()); registers its "cpu_update_state" notifier (QEMU registers one
  // per CPU in kvm_arch_init_vcpu: a start invalidates the cached TSC).
  void add(hv::Vcpu& vcpu);
  // Starts every thread; they begin stopped.
  void start();
  size_t size() const { return vcpus_.size(); }
  CpuSync& sync(size_t i) { return vcpus_.at(i)->sync; }
  VcpuThread& thread(size_t i) { return vcpus_.at(i)->thread; }

  // QEMU's pause_all_vcpus: ask every vCPU to stop, then wait for all. Not from a vCPU thread.
  void pause_all();
  // QEMU's resume_all_vcpus: nothing unless the VM is running.
  void resume_all();
  bool all_stopped() const;

  // Runs fn(sync) on each vCPU's thread in turn and waits (QEMU: CPU_FOREACH run_on_cpu). The
  // first error stops the walk and is returned.
  Status run_on_all(const std::string& work_name, const std::function<Status(CpuSync&)>& fn);

  // QEMU's cpu_synchronize_state for one vCPU: a get on its thread unless already dirty.
  Status synchronize_state(size_t i);
  Status synchronize_all_states();      // span "cpu_synchronize_all_states"
  Status synchronize_all_post_init();   // FULL put on every vCPU
  Status synchronize_all_post_reset();  // RESET put on every vCPU
  void synchronize_all_pre_loadvm();    // every copy dirty: a snapshot is about to be loaded
  // QEMU's kvm_synchronize_all_tsc (kvmclock's stop): IA32_TSC read on each vCPU thread.
  Status synchronize_all_tsc();

  // The state each vCPU returns to on a system reset (QEMU's x86_cpu_reset plus the machine's boot
  // setup). The machine captures it once the boot state is in each CpuState, before the first
  // FULL put; restore_reset_states() (every vCPU stopped) copies it back, without IA32_TSC, which a
  // reset puts at its reset value 0 as QEMU does.
  void capture_reset_states();
  bool has_reset_states() const;
  void restore_reset_states();

  // Exits and joins every thread (teardown). Idempotent.
  void exit_threads();

 private:
  struct Entry {
    Entry(hv::Vcpu& vcpu, const CpuSyncConfig& config, const RunStateMachine& run_state,
          ExitContext exits)
        : sync(vcpu, config, run_state), thread(vcpu, sync, exits) {}
    CpuSync sync;
    VcpuThread thread;
    VmStateNotifiers::Id notifier = 0;
    std::optional<CpuState> reset_state;
  };
  const RunStateMachine& run_state_;
  VmStateNotifiers& notifiers_;
  const CpuSyncConfig& config_;
  const IoBus& pio_;
  const IoBus& mmio_;
  VmRequests& requests_;
  std::vector<std::unique_ptr<Entry>> vcpus_;
  bool started_ = false;
};

}  // namespace rrvm::core
