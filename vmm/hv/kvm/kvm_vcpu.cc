#include "vmm/hv/kvm/kvm_vcpu.h"

#include "vmm/hv/kvm/linux_kvm.h"
#include <signal.h>
#include <sys/ioctl.h>

#include <cstring>
#include <string>

#include "vmm/hv/kvm/kvm_convert.h"
#include "vmm/hv/kvm/kvm_exit.h"

namespace rrvm::hv::kvm {
namespace {

constexpr size_t LEGACY_XSAVE_BYTES = sizeof(kvm_xsave);  // 4096: KVM_GET_XSAVE's fixed area

void ignore_signal(int) {}

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = ignore_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the interrupted KVM_RUN must return EINTR
    RRVM_CHECK(::sigaction(kick_signal(), &sa, nullptr) == 0);
  });
}

// A thread may have been created with the kick signal blocked (threads inherit the creator's
// mask); a blocked signal would not interrupt KVM_RUN. Unblock it once per thread that runs a vCPU.
void unblock_kick_signal_on_this_thread() {
  thread_local bool unblocked = false;
  if (unblocked) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  RRVM_CHECK(::pthread_sigmask(SIG_UNBLOCK, &set, nullptr) == 0);
  unblocked = true;
}

static_assert(static_cast<uint32_t>(MpState::Runnable) == KVM_MP_STATE_RUNNABLE);
static_assert(static_cast<uint32_t>(MpState::Uninitialized) == KVM_MP_STATE_UNINITIALIZED);
static_assert(static_cast<uint32_t>(MpState::InitReceived) == KVM_MP_STATE_INIT_RECEIVED);
static_assert(static_cast<uint32_t>(MpState::Halted) == KVM_MP_STATE_HALTED);
static_assert(static_cast<uint32_t>(MpState::SipiReceived) == KVM_MP_STATE_SIPI_RECEIVED);

kvm_run* run_struct(const Mapping& area) { return reinterpret_cast<kvm_run*>(area.data()); }

}  // namespace

int kick_signal() { return SIGUSR1; }

KvmVcpu::KvmVcpu(int index, Fd fd, Mapping run_area, size_t xsave2_size)
    : index_(index),
      fd_(std::move(fd)),
      run_area_(std::move(run_area)),
      xsave_size_(xsave2_size > 0 ? xsave2_size : LEGACY_XSAVE_BYTES),
      use_xsave2_(xsave2_size > 0) {
  RRVM_CHECK(xsave_size_ >= LEGACY_XSAVE_BYTES);
  install_kick_handler();
}

std::string KvmVcpu::op(const char* ioctl) const {
  return std::string(ioctl) + " (vcpu " + std::to_string(index_) + ")";
}

// --- running and kicking ----------------------------------------------------------------------

Result<Exit> KvmVcpu::run() {
  unblock_kick_signal_on_this_thread();
  {
    std::lock_guard lock(kick_mu_);
    run_thread_ = ::pthread_self();
    in_run_ = true;
  }
  const int r = ::ioctl(fd_.get(), KVM_RUN, 0);
  const int err = errno;
  {
    std::lock_guard lock(kick_mu_);
    in_run_ = false;
  }
  if (r < 0) {
    // EINTR: a kick (immediate_exit, or the signal while in the guest) or another signal.
    // EAGAIN: an AP that received INIT and now waits for its SIPI; KVM returns to user space
    // and expects KVM_RUN again (QEMU retries too). Reported as an interruption, so the vCPU
    // loop processes its queued work and runs the vCPU again.
    if (err == EINTR || err == EAGAIN) return Exit{.kind = Exit::Kind::Interrupted};
    return errno_error(op("KVM_RUN"), err);
  }
  return decode_exit(run_area_.span(), index_);
}

void KvmVcpu::kick() {
  std::lock_guard lock(kick_mu_);
  // immediate_exit covers a thread that is about to enter KVM_RUN; the signal one already inside.
  __atomic_store_n(&run_struct(run_area_)->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (in_run_) ::pthread_kill(run_thread_, kick_signal());
}

void KvmVcpu::clear_kick() {
  // The vCPU thread clears the kick before it looks at why it was kicked (its pause/work flags),
  // so a kick arriving after this is never lost.
  __atomic_store_n(&run_struct(run_area_)->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

// --- register state ---------------------------------------------------------------------------

Result<Regs> KvmVcpu::get_regs() {
  kvm_regs regs{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return errno_error(op("KVM_GET_REGS"));
  return from_kvm(regs);
}

Status KvmVcpu::set_regs(const Regs& in) {
  kvm_regs regs = to_kvm(in);
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return errno_error(op("KVM_SET_REGS"));
  return ok_status();
}

Result<Sregs> KvmVcpu::get_sregs() {
  kvm_sregs sregs{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return errno_error(op("KVM_GET_SREGS"));
  return from_kvm(sregs);
}

Status KvmVcpu::set_sregs(const Sregs& in) {
  kvm_sregs sregs = to_kvm(in);
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return errno_error(op("KVM_SET_SREGS"));
  return ok_status();
}

Result<Fpu> KvmVcpu::get_fpu() {
  kvm_fpu fpu{};
  if (::ioctl(fd_.get(), KVM_GET_FPU, &fpu) < 0) return errno_error(op("KVM_GET_FPU"));
  return from_kvm(fpu);
}

Status KvmVcpu::set_fpu(const Fpu& in) {
  kvm_fpu fpu = to_kvm(in);
  if (::ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return errno_error(op("KVM_SET_FPU"));
  return ok_status();
}

Result<Blob> KvmVcpu::get_xsave() {
  // With KVM_CAP_XSAVE2 the area can exceed 4 KiB (AMX); KVM_GET_XSAVE2 fills all of it.
  Blob area(xsave_size_, 0);
  const unsigned long request = use_xsave2_ ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
  if (::ioctl(fd_.get(), request, area.data()) < 0) {
    return errno_error(op(use_xsave2_ ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE"));
  }
  return area;
}

Status KvmVcpu::set_xsave(const Blob& area) {
  if (area.size() != xsave_size_) {
    return make_error(op("KVM_SET_XSAVE") + ": XSAVE area is " + std::to_string(area.size()) +
                      " bytes, KVM uses " + std::to_string(xsave_size_));
  }
  if (::ioctl(fd_.get(), KVM_SET_XSAVE, area.data()) < 0) return errno_error(op("KVM_SET_XSAVE"));
  return ok_status();
}

Result<std::vector<Xcr>> KvmVcpu::get_xcrs() {
  kvm_xcrs xcrs{};
  if (::ioctl(fd_.get(), KVM_GET_XCRS, &xcrs) < 0) return errno_error(op("KVM_GET_XCRS"));
  std::vector<Xcr> out;
  for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; ++i) {
    out.push_back({xcrs.xcrs[i].xcr, xcrs.xcrs[i].value});
  }
  return out;
}

Status KvmVcpu::set_xcrs(const std::vector<Xcr>& in) {
  if (in.size() > KVM_MAX_XCRS) {
    return make_error(op("KVM_SET_XCRS") + ": " + std::to_string(in.size()) +
                      " XCRs, KVM takes at most " + std::to_string(KVM_MAX_XCRS));
  }
  kvm_xcrs xcrs{};
  xcrs.nr_xcrs = static_cast<uint32_t>(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    xcrs.xcrs[i].xcr = in[i].index;
    xcrs.xcrs[i].value = in[i].value;
  }
  if (::ioctl(fd_.get(), KVM_SET_XCRS, &xcrs) < 0) return errno_error(op("KVM_SET_XCRS"));
  return ok_status();
}

template <typename T>
Result<Blob> KvmVcpu::get_blob(unsigned long request, const char* name) {
  T state{};
  if (::ioctl(fd_.get(), request, &state) < 0) return errno_error(op(name));
  const auto* bytes = reinterpret_cast<const uint8_t*>(&state);
  return Blob(bytes, bytes + sizeof(T));
}

template <typename T>
Status KvmVcpu::set_blob(unsigned long request, const char* name, const Blob& blob) {
  if (blob.size() != sizeof(T)) {
    return make_error(op(name) + ": state is " + std::to_string(blob.size()) +
                      " bytes, KVM's structure has " + std::to_string(sizeof(T)));
  }
  T state{};
  std::memcpy(&state, blob.data(), sizeof(T));
  if (::ioctl(fd_.get(), request, &state) < 0) return errno_error(op(name));
  return ok_status();
}

Result<Blob> KvmVcpu::get_lapic() { return get_blob<kvm_lapic_state>(KVM_GET_LAPIC, "KVM_GET_LAPIC"); }
Status KvmVcpu::set_lapic(const Blob& s) {
  return set_blob<kvm_lapic_state>(KVM_SET_LAPIC, "KVM_SET_LAPIC", s);
}

// The events are restored as KVM reported them: the flags KVM sets in a get (NMI pending, shadow,
// SMM, ...) say which fields the set applies.
Result<Blob> KvmVcpu::get_vcpu_events() {
  return get_blob<kvm_vcpu_events>(KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
}
Status KvmVcpu::set_vcpu_events(const Blob& s) {
  return set_blob<kvm_vcpu_events>(KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", s);
}

Result<Blob> KvmVcpu::get_debugregs() {
  return get_blob<kvm_debugregs>(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
}
Status KvmVcpu::set_debugregs(const Blob& s) {
  return set_blob<kvm_debugregs>(KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", s);
}

Result<MpState> KvmVcpu::get_mp_state() {
  kvm_mp_state state{};
  if (::ioctl(fd_.get(), KVM_GET_MP_STATE, &state) < 0) return errno_error(op("KVM_GET_MP_STATE"));
  return static_cast<MpState>(state.mp_state);
}

Status KvmVcpu::set_mp_state(MpState in) {
  kvm_mp_state state{};
  state.mp_state = static_cast<uint32_t>(in);
  if (::ioctl(fd_.get(), KVM_SET_MP_STATE, &state) < 0) return errno_error(op("KVM_SET_MP_STATE"));
  return ok_status();
}

// --- CPUID, MSRs, clocks -----------------------------------------------------------------------

Status KvmVcpu::set_cpuid(const std::vector<CpuidEntry>& entries) {
  std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + entries.size() * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
  cpuid->nent = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) cpuid->entries[i] = to_kvm(entries[i]);
  if (::ioctl(fd_.get(), KVM_SET_CPUID2, cpuid) < 0) return errno_error(op("KVM_SET_CPUID2"));
  return ok_status();
}

Result<uint32_t> KvmVcpu::get_msrs(std::span<MsrEntry> entries, trace::SyncLevel) {
  std::vector<uint8_t> buf(sizeof(kvm_msrs) + entries.size() * sizeof(kvm_msr_entry));
  auto* msrs = reinterpret_cast<kvm_msrs*>(buf.data());
  msrs->nmsrs = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) msrs->entries[i].index = entries[i].index;
  const int n = ::ioctl(fd_.get(), KVM_GET_MSRS, msrs);
  if (n < 0) return errno_error(op("KVM_GET_MSRS"));
  // Entries past the returned count were not read: leave their values alone.
  for (int i = 0; i < n && static_cast<size_t>(i) < entries.size(); ++i) {
    entries[i].value = msrs->entries[i].data;
  }
  return static_cast<uint32_t>(n);
}

Result<uint32_t> KvmVcpu::set_msrs(std::span<const MsrEntry> entries, trace::SyncLevel) {
  std::vector<uint8_t> buf(sizeof(kvm_msrs) + entries.size() * sizeof(kvm_msr_entry));
  auto* msrs = reinterpret_cast<kvm_msrs*>(buf.data());
  msrs->nmsrs = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    msrs->entries[i].index = entries[i].index;
    msrs->entries[i].data = entries[i].value;
  }
  const int n = ::ioctl(fd_.get(), KVM_SET_MSRS, msrs);
  if (n < 0) return errno_error(op("KVM_SET_MSRS"));
  return static_cast<uint32_t>(n);
}

Status KvmVcpu::kvmclock_ctrl() {
  if (::ioctl(fd_.get(), KVM_KVMCLOCK_CTRL, 0) < 0) return errno_error(op("KVM_KVMCLOCK_CTRL"));
  return ok_status();
}

Result<uint32_t> KvmVcpu::get_tsc_khz() {
  const int khz = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (khz < 0) return errno_error(op("KVM_GET_TSC_KHZ"));
  return static_cast<uint32_t>(khz);
}

Status KvmVcpu::set_tsc_khz(uint32_t khz) {
  if (::ioctl(fd_.get(), KVM_SET_TSC_KHZ, static_cast<unsigned long>(khz)) < 0) {
    return errno_error(op("KVM_SET_TSC_KHZ"));
  }
  return ok_status();
}

}  // namespace rrvm::hv::kvm
