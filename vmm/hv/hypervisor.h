// The hypervisor seam: every contact rrvm has with KVM goes through these three interfaces.
//
//   Hypervisor (/dev/kvm) -> Vm (a VM fd) -> Vcpu (a vCPU fd and its run area)
//
// Implementations:
//   hv/kvm/        the real thing, with ioctls (the only code that includes <linux/kvm.h>)
//   hv/recording/  wraps another implementation and writes every call and result to the trace
//   replay/        serves recorded results from a trace and checks the calls match
//
// The VMM's control logic (run states, notifiers, kvmclock, cpu_sync, devices, migration) only sees
// these interfaces, so it runs unchanged live and in replay.
//
// Threading: a Vcpu is used only from its own vCPU thread, except kick() (any thread). Vm calls
// may come from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::hv {

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  virtual int index() const = 0;

  // Enters the guest until the next exit. A kick() from another thread makes it return an
  // Interrupted exit promptly (immediate_exit + signal), also when it was not yet in the guest.
  virtual Result<Exit> run() = 0;
  virtual void kick() = 0;
  // Clears a pending kick; called by the vCPU thread before it runs again.
  virtual void clear_kick() = 0;

  virtual Result<Regs> get_regs() = 0;
  virtual Status set_regs(const Regs& regs) = 0;
  virtual Result<Sregs> get_sregs() = 0;
  virtual Status set_sregs(const Sregs& sregs) = 0;
  virtual Result<Fpu> get_fpu() = 0;
  virtual Status set_fpu(const Fpu& fpu) = 0;
  virtual Result<Blob> get_xsave() = 0;
  virtual Status set_xsave(const Blob& xsave) = 0;
  virtual Result<std::vector<Xcr>> get_xcrs() = 0;
  virtual Status set_xcrs(const std::vector<Xcr>& xcrs) = 0;
  virtual Result<Blob> get_lapic() = 0;
  virtual Status set_lapic(const Blob& lapic) = 0;
  virtual Result<Blob> get_vcpu_events() = 0;
  virtual Status set_vcpu_events(const Blob& events) = 0;
  virtual Result<MpState> get_mp_state() = 0;
  virtual Status set_mp_state(MpState state) = 0;
  virtual Result<Blob> get_debugregs() = 0;
  virtual Status set_debugregs(const Blob& debugregs) = 0;
  virtual Status set_cpuid(const std::vector<CpuidEntry>& entries) = 0;

  // MSR access. `level` says which cpu_sync level asked (recorded); the returned count is how many
  // entries KVM processed: fewer than entries.size() means entries[count] failed. Callers turn a
  // short count into an error naming the MSR (hv/msr_set.h: put_msrs_chunked, get_msrs_chunked).
  virtual Result<uint32_t> get_msrs(std::span<MsrEntry> entries, trace::SyncLevel level) = 0;
  virtual Result<uint32_t> set_msrs(std::span<const MsrEntry> entries, trace::SyncLevel level) = 0;

  // KVM_KVMCLOCK_CTRL: tells the guest it was stopped (PVCLOCK_GUEST_STOPPED). EINVAL when the
  // guest has not enabled kvmclock.
  virtual Status kvmclock_ctrl() = 0;
  virtual Result<uint32_t> get_tsc_khz() = 0;
  virtual Status set_tsc_khz(uint32_t khz) = 0;
};

class Vm {
 public:
  virtual ~Vm() = default;

  virtual Result<std::unique_ptr<Vcpu>> create_vcpu(int index) = 0;
  virtual Status set_memory_region(const MemoryRegion& region) = 0;
  // Dirty pages of a slot since the last call, one bit per 4 KiB page; clears KVM's log.
  virtual Result<std::vector<uint64_t>> get_dirty_log(uint32_t slot, uint64_t size) = 0;

  // In-kernel LAPIC/IOAPIC/PIC and PIT; call before creating vCPUs.
  virtual Status create_irqchip() = 0;
  virtual Status create_pit() = 0;
  virtual Status set_tss_addr(uint64_t addr) = 0;
  virtual Status set_identity_map_addr(uint64_t addr) = 0;
  virtual Status set_irq_line(uint32_t gsi, bool level) = 0;
  virtual Status irqfd(int fd, uint32_t gsi, bool assign) = 0;
  virtual Status ioeventfd(const IoEventFd& ev, bool assign) = 0;

  // chip: 0 PIC master, 1 PIC slave, 2 IOAPIC.
  virtual Result<Blob> get_irqchip(uint32_t chip) = 0;
  virtual Status set_irqchip(uint32_t chip, const Blob& state) = 0;
  virtual Result<Blob> get_pit() = 0;
  virtual Status set_pit(const Blob& state) = 0;

  virtual Result<ClockData> get_clock() = 0;
  virtual Status set_clock(const ClockData& clock) = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual Result<std::unique_ptr<Vm>> create_vm() = 0;
  virtual int api_version() const = 0;
  // KVM_CHECK_EXTENSION by KVM_CAP_* number.
  virtual int64_t check_extension(uint32_t cap) const = 0;
  virtual int max_vcpus() const = 0;
  virtual Result<std::vector<CpuidEntry>> supported_cpuid() const = 0;
  // KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a vCPU.
  virtual Result<std::vector<uint32_t>> msr_index_list() const = 0;
  // Host TSC frequency in kHz as KVM reports it.
  virtual uint32_t host_tsc_khz() const = 0;
};

}  // namespace rrvm::hv
