// Everything rrvm keeps of one vCPU's architectural state: QEMU's CPUX86State as far as KVM
// exchanges it. cpu_sync fills it from KVM (get) and writes it back (put); snapshots save and
// restore it (Persist pattern: validate_cpu_state() checks a loaded one before it is used).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::core {

// Sizes of the structures KVM exchanges as blobs (linux/kvm.h, x86).
inline constexpr size_t LAPIC_STATE_SIZE = 1024;   // struct kvm_lapic_state
inline constexpr size_t VCPU_EVENTS_SIZE = 64;     // struct kvm_vcpu_events
inline constexpr size_t DEBUGREGS_SIZE = 128;      // struct kvm_debugregs
inline constexpr size_t XSAVE_MIN_SIZE = 4096;     // struct kvm_xsave; KVM_GET_XSAVE2 may be larger
inline constexpr size_t XSAVE_MAX_SIZE = 1 << 20;  // far above any real XSAVE area
inline constexpr size_t MAX_XCRS = 16;             // KVM_MAX_XCRS
inline constexpr size_t MAX_MSRS = 1024;           // far above the ~100 MSRs KVM lists

struct CpuState {
  hv::Regs regs{};
  hv::Sregs sregs{};
  // Exactly one of these is used, chosen by CpuSyncConfig::xsave.
  hv::Blob xsave;
  hv::Fpu fpu{};
  std::vector<hv::Xcr> xcrs;
  hv::Blob lapic;
  hv::Blob events;
  hv::MpState mp_state = hv::MpState::Runnable;
  hv::Blob debugregs;
  // MSR values from the last get (or a restore), in the order KVM returned them. A put takes its
  // values from here; an MSR missing here is written with its reset value (hv::msr_reset_value).
  std::vector<hv::MsrEntry> msrs;
  // QEMU's env->tsc_valid: IA32_TSC in `msrs` was read while the VM was stopped and stays the
  // vCPU's TSC until the VM runs again, so later gets skip it (kvmclock relies on that value).
  bool tsc_valid = false;

  std::optional<uint64_t> msr(uint32_t index) const;
  // Replaces the value of `index`, or appends it.
  void set_msr(uint32_t index, uint64_t value);
  // Replaces or appends each entry of `values`.
  void merge_msrs(const std::vector<hv::MsrEntry>& values);
};

// Checks a CpuState that came from outside (a snapshot): blob sizes, XCR and MSR counts, MSR
// indices rrvm knows (trace::msr_name or KVM's paravirtual range), no duplicate MSR, a legal
// mp_state. `xsave` says which FPU form must be present, `debugregs` whether debug registers
// must be. The error names the first bad field.
Status validate_cpu_state(const CpuState& state, bool xsave, bool debugregs);

}  // namespace rrvm::core
