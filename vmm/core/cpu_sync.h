// cpu_sync: moving a vCPU's state between KVM and rrvm's copy (CpuState), at QEMU's levels
// (accel/kvm/kvm-all.c, target/i386/kvm/kvm.c):
//
//   synchronize_state()      get everything unless the copy is already newer (dirty); mark dirty.
//                            Device emulation and migration call it before reading registers.
//   synchronize_post_init()  put at FULL (after vCPU creation, after an incoming migration).
//   synchronize_post_reset() put at RESET (after a system reset).
//   put_if_dirty()           put at RUNTIME before KVM_RUN when the copy was fetched (dirty): a
//                            device may have changed registers, and KVM must see that.
//   synchronize_pre_loadvm() mark dirty before loading a snapshot, so no get overwrites it.
//   synchronize_tsc()        QEMU's kvm_get_tsc: read IA32_TSC once per stop (kvmclock).
//
// A CpuSync belongs to one vCPU and runs only on that vCPU's thread (VcpuThread::run_on_cpu) or
// while the vCPU is stopped; VcpuSet offers the "all vCPUs" forms with their spans.
#pragma once

#include <atomic>
#include <cstdint>

#include "vmm/base/result.h"
#include "vmm/core/cpu_state.h"
#include "vmm/core/run_state.h"
#include "vmm/hv/hypervisor.h"
#include "vmm/hv/msr_set.h"

namespace rrvm::core {

using trace::SyncLevel;

struct CpuSyncConfig {
  hv::MsrIndexList msrs;  // KVM_GET_MSR_INDEX_LIST
  bool xsave = true;      // KVM_CAP_XSAVE: KVM_GET/SET_XSAVE, else KVM_GET/SET_FPU
  bool xcrs = true;       // KVM_CAP_XCRS
  bool debugregs = true;  // KVM_CAP_DEBUGREGS
  uint32_t tsc_khz = 0;   // written at FULL when non-zero (a mismatch is recorded, not fatal)
};

class CpuSync {
 public:
  CpuSync(hv::Vcpu& vcpu, const CpuSyncConfig& config, const RunStateMachine& run_state)
      : vcpu_(vcpu), config_(config), run_state_(run_state) {}

  int index() const { return vcpu_.index(); }
  // The vCPU itself, for per-vCPU ioctls queued through run_on_cpu (e.g. KVMCLOCK_CTRL).
  hv::Vcpu& vcpu() { return vcpu_; }

  // QEMU's kvm_arch_get_registers / kvm_arch_put_registers. Prefer the synchronize_* forms.
  Status get_registers();
  Status put_registers(SyncLevel level);

  Status synchronize_state();
  Status synchronize_post_init();
  Status synchronize_post_reset();
  void synchronize_pre_loadvm() { dirty_ = true; }
  Status put_if_dirty();
  Status synchronize_tsc();
  // QEMU's cpu_update_state VM state handler: when the VM runs, the TSC cache is stale.
  void on_vm_state_change(bool running);

  bool dirty() const { return dirty_; }
  CpuState& state() { return state_; }
  const CpuState& state() const { return state_; }

  // A snapshot's state for this vCPU: validated, then taken as the copy (dirty, so that
  // synchronize_post_init() writes it at FULL and no get overwrites it first).
  Status load(const CpuState& state);

 private:
  Status put_msrs(SyncLevel level);
  Status put_tsc_deadline(SyncLevel level);

  hv::Vcpu& vcpu_;
  const CpuSyncConfig& config_;
  const RunStateMachine& run_state_;
  CpuState state_;
  // QEMU's cpu->vcpu_dirty: state_ is newer than KVM's. Atomic because VcpuSet peeks at it from
  // other threads before queuing a get, as QEMU does.
  std::atomic<bool> dirty_{false};
  bool has_state_ = false;  // state_ was filled by a get or a load: a put before that is refused
};

}  // namespace rrvm::core
