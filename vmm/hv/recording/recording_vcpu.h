// A Vcpu that forwards every call to another implementation and records the call and its result in
// the trace (when a recorder is installed). It never changes what the caller gets back.
//
// Events: KVM_RUN -> VcpuExit (when run() returns; see below for read data); MSR get/set ->
// MsrAccess; KVMCLOCK_CTRL -> KvmclockCtrl; TSC kHz -> TscKhz; everything else -> HvCall named
// after the ioctl (seam calls that are no ioctl: "kick", "clear_kick"), with the state moved as
// payload (recording/payload.h).
//
// Exit data: for a write (port OUT, MMIO write) VcpuExit.data holds the guest's bytes. For a read
// the value is only known after the exit handler stored it, so VcpuExit.data is empty and the
// bytes given to the guest are recorded as HvCall "exit_read_data" when the vCPU next enters
// KVM_RUN (the moment KVM hands them to the guest). Internal-error and system-event data words
// go into HvCall "exit_extra" (a u64 list) right after the VcpuExit.
#pragma once

#include <memory>
#include <span>

#include "vmm/hv/hypervisor.h"

namespace rrvm::hv {

class RecordingVcpu final : public Vcpu {
 public:
  explicit RecordingVcpu(std::unique_ptr<Vcpu> inner);

  int index() const override { return index_; }
  Result<Exit> run() override;
  void kick() override;
  void clear_kick() override;

  Result<Regs> get_regs() override;
  Status set_regs(const Regs& regs) override;
  Result<Sregs> get_sregs() override;
  Status set_sregs(const Sregs& sregs) override;
  Result<Fpu> get_fpu() override;
  Status set_fpu(const Fpu& fpu) override;
  Result<Blob> get_xsave() override;
  Status set_xsave(const Blob& xsave) override;
  Result<std::vector<Xcr>> get_xcrs() override;
  Status set_xcrs(const std::vector<Xcr>& xcrs) override;
  Result<Blob> get_lapic() override;
  Status set_lapic(const Blob& lapic) override;
  Result<Blob> get_vcpu_events() override;
  Status set_vcpu_events(const Blob& events) override;
  Result<MpState> get_mp_state() override;
  Status set_mp_state(MpState state) override;
  Result<Blob> get_debugregs() override;
  Status set_debugregs(const Blob& debugregs) override;
  Status set_cpuid(const std::vector<CpuidEntry>& entries) override;
  Result<uint32_t> get_msrs(std::span<MsrEntry> entries, trace::SyncLevel level) override;
  Result<uint32_t> set_msrs(std::span<const MsrEntry> entries, trace::SyncLevel level) override;
  Status kvmclock_ctrl() override;
  Result<uint32_t> get_tsc_khz() override;
  Status set_tsc_khz(uint32_t khz) override;

 private:
  void record_exit(const Exit& exit);
  void record_pending_read();

  std::unique_ptr<Vcpu> inner_;
  int index_;
  // The data of the last exit when it was a read: the handler fills it before the next run().
  std::span<uint8_t> pending_read_;
  bool has_pending_read_ = false;
};

}  // namespace rrvm::hv
