// A KVM vCPU: its fd, its mmap()ed kvm_run area, and the kick protocol. Private to the backend.
#pragma once

#include <pthread.h>

#include <mutex>

#include "vmm/base/fd.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::hv::kvm {

// The signal kick() sends to the thread inside run(). Its handler does nothing and is installed
// without SA_RESTART, so KVM_RUN returns EINTR.
int kick_signal();

class KvmVcpu final : public Vcpu {
 public:
  // xsave_size: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) when > 0 (then KVM_GET_XSAVE2 is used), else 0.
  KvmVcpu(int index, Fd fd, Mapping run_area, size_t xsave2_size);

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
  std::string op(const char* ioctl) const;  // "KVM_SET_REGS (vcpu 1)"
  // A fixed-size KVM structure as a Blob, and back (with a size check naming the ioctl).
  template <typename T>
  Result<Blob> get_blob(unsigned long request, const char* name);
  template <typename T>
  Status set_blob(unsigned long request, const char* name, const Blob& blob);

  int index_;
  Fd fd_;
  Mapping run_area_;
  size_t xsave_size_;  // bytes of the XSAVE area KVM exchanges
  bool use_xsave2_;

  // kick() signals the thread only while it is inside run(), so a signal never reaches a thread
  // that left run() (it might have exited) and never interrupts its other system calls.
  std::mutex kick_mu_;
  bool in_run_ = false;
  pthread_t run_thread_{};
};

}  // namespace rrvm::hv::kvm
