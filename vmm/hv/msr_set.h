// Which MSRs a vCPU state sync reads and writes, at which cpu_sync level, in which order, and the
// chunked KVM_GET_MSRS / KVM_SET_MSRS calls that move them.
//
// The lists follow QEMU's kvm_put_msrs / kvm_get_msrs (target/i386/kvm/kvm.c, see
// docs/hv.md and the reference qemu-semantics.md "MSR synchronization levels"):
//   - every level (RUNTIME, RESET, FULL) writes the runtime set: SYSENTER_*, PAT, STAR, HSAVE_PA,
//     TSC_AUX, TSC_ADJUST, MISC_ENABLE, SMBASE, SMI_COUNT, PKRS, BNDCFGS, XSS, UMWAIT, SPEC_CTRL,
//     TSC_RATIO, TSX_CTRL, VIRT_SSBD, HWCR, CSTAR, KERNEL_GS_BASE, FMASK, LSTAR, MCG_*;
//   - RESET and FULL add, first, FEATURE_CONTROL (QEMU writes it before the others), then IA32_TSC,
//     the KVM paravirtual MSRs (kvmclock, async PF, PV EOI, steal time, poll control and any other
//     MSR of 0x4b564d00-0x4b564dff that KVM lists), the PMU (stopped, written, restarted), MTRRs,
//     XFD;
//   - IA32_TSC_DEADLINE is never in a put list: it must be written after KVM_SET_VCPU_EVENTS and
//     after IA32_TSC (a deadline restored before the TSC is compared against the wrong clock and
//     the timer interrupt is lost), so cpu_sync puts it on its own, last;
//   - a get reads everything of a FULL put plus TSC_DEADLINE; IA32_TSC only when asked (kvmclock
//     caches the TSC while the VM is stopped, QEMU's env->tsc_valid).
// Every list is intersected with KVM_GET_MSR_INDEX_LIST: an MSR KVM does not list is skipped (as
// Firecracker does), so the same code works on every host. The lists assume an in-kernel LAPIC
// (rrvm always creates one): without it KVM refuses MSR_KVM_ASYNC_PF_INT.
//
// Deliberate differences from QEMU: kvmclock is synchronized through the _NEW MSRs (0x4b564d00/01)
// that the rrvm guest and Linux use; KVM keeps one value behind both the legacy (0x11/0x12) and
// the _NEW index, so nothing is lost. Hyper-V MSRs and machine-check banks are not synchronized:
// rrvm exposes neither Hyper-V enlightenments nor MCE banks (no KVM_X86_SETUP_MCE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::hv {

// KVM_GET_MSR_INDEX_LIST as a set.
class MsrIndexList {
 public:
  MsrIndexList() = default;
  explicit MsrIndexList(std::vector<uint32_t> indices);  // any order, duplicates allowed

  bool contains(uint32_t index) const;
  const std::vector<uint32_t>& indices() const { return sorted_; }

 private:
  std::vector<uint32_t> sorted_;
};

// Firecracker uses chunks of this size; KVM itself accepts up to KVM_MAX_MSR_ENTRIES (256).
inline constexpr size_t DEFAULT_MSR_CHUNK = 64;

// The MSRs a put at `level` writes, each once, in put order, limited to what KVM lists.
// `level` None is treated as RUNTIME. Never contains IA32_TSC_DEADLINE (see above).
std::vector<uint32_t> msrs_for_put(trace::SyncLevel level, const MsrIndexList& kvm);

// The MSRs a get reads, limited to what KVM lists: all of a FULL put, then IA32_TSC_DEADLINE.
// IA32_TSC is included only when `include_tsc`.
std::vector<uint32_t> msrs_for_get(const MsrIndexList& kvm, bool include_tsc);

// True when KVM lists IA32_TSC_DEADLINE, i.e. cpu_sync must put it after the vCPU events.
bool has_tsc_deadline(const MsrIndexList& kvm);

// The architectural value of an MSR after a reset (INIT/power-on), as QEMU's x86_cpu_reset sets
// it: PAT 0x0007040600070406, MISC_ENABLE 1 (fast strings), everything else 0 (which also turns
// kvmclock, async PF and steal time off, as a reset must).
uint64_t msr_reset_value(uint32_t index);

// The entries for KVM_SET_MSRS at `level`: msrs_for_put() with their values from `values` (e.g.
// the last get; an MSR absent from `values` gets msr_reset_value()). At RESET and FULL the PMU's
// global controls are first written 0 (counters stopped), then counters and selectors, then the
// controls with their real values, as QEMU does, so no counter runs while half restored.
std::vector<MsrEntry> msr_put_entries(trace::SyncLevel level, const MsrIndexList& kvm,
                                      std::span<const MsrEntry> values);

// KVM_SET_MSRS in chunks of at most `chunk` entries. A chunk KVM processes only partly becomes
// "KVM_SET_MSRS (vcpu 1): processed 12 of 40, failed at MSR 0x6e0 (IA32_TSC_DEADLINE)", counting
// over all chunks; later chunks are not attempted.
Status put_msrs_chunked(Vcpu& vcpu, std::span<const MsrEntry> entries, trace::SyncLevel level,
                        size_t chunk = DEFAULT_MSR_CHUNK);

// KVM_GET_MSRS of `indices` in chunks; the values in the order asked. A short count is an error
// worded as for put_msrs_chunked.
Result<std::vector<MsrEntry>> get_msrs_chunked(Vcpu& vcpu, std::span<const uint32_t> indices,
                                               trace::SyncLevel level,
                                               size_t chunk = DEFAULT_MSR_CHUNK);

}  // namespace rrvm::hv
