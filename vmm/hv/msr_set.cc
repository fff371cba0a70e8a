#include "vmm/hv/msr_set.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "trace/names.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::hv {
namespace {

// Written at every level, in QEMU's kvm_put_msrs order.
constexpr uint32_t RUNTIME_MSRS[] = {
    msr::IA32_SYSENTER_CS, msr::IA32_SYSENTER_ESP, msr::IA32_SYSENTER_EIP, msr::IA32_PAT,
    msr::STAR,             msr::VM_HSAVE_PA,       msr::TSC_AUX,           msr::IA32_TSC_ADJUST,
    msr::IA32_MISC_ENABLE, msr::IA32_SMBASE,       msr::IA32_SMI_COUNT,    msr::IA32_PKRS,
    msr::IA32_BNDCFGS,     msr::IA32_XSS,          msr::IA32_UMWAIT_CONTROL, msr::IA32_SPEC_CTRL,
    msr::AMD64_TSC_RATIO,  msr::IA32_TSX_CTRL,     msr::VIRT_SSBD,         msr::K7_HWCR,
    msr::CSTAR,            msr::KERNEL_GS_BASE,    msr::FMASK,             msr::LSTAR,
};

// QEMU writes these after the RESET/FULL block, at every level (when machine checks exist).
constexpr uint32_t MCG_MSRS[] = {msr::IA32_MCG_STATUS, msr::IA32_MCG_CTL, msr::IA32_MCG_EXT_CTL};

// The paravirtual MSRs QEMU names, in its order; other listed MSRs of the KVM range follow.
constexpr uint32_t KVM_PV_MSRS[] = {
    msr::KVM_SYSTEM_TIME_NEW, msr::KVM_WALL_CLOCK_NEW, msr::KVM_ASYNC_PF_INT, msr::KVM_ASYNC_PF_EN,
    msr::KVM_PV_EOI_EN,       msr::KVM_STEAL_TIME,     msr::KVM_POLL_CONTROL,
};

// PMU global controls: written 0 before the counters (stop) and with their value after (restart).
constexpr uint32_t PMU_CONTROLS[] = {msr::IA32_FIXED_CTR_CTRL, msr::IA32_PERF_GLOBAL_CTRL,
                                     msr::AMD64_PERF_CNTR_GLOBAL_CTL};

bool in_kvm_pv_range(uint32_t index) { return index >= msr::KVM_PV_FIRST && index <= msr::KVM_PV_LAST; }

// Appends `index` when KVM lists it and it is not in `out` yet.
void add(std::vector<uint32_t>& out, const MsrIndexList& kvm, uint32_t index) {
  if (!kvm.contains(index)) return;
  if (std::find(out.begin(), out.end(), index) != out.end()) return;
  out.push_back(index);
}

void add_kvm_pv(std::vector<uint32_t>& out, const MsrIndexList& kvm) {
  for (uint32_t index : KVM_PV_MSRS) add(out, kvm, index);
  for (uint32_t index : kvm.indices()) {
    if (in_kvm_pv_range(index)) add(out, kvm, index);
  }
}

// Counters and selectors first, global status, then the controls that start counting.
void add_pmu(std::vector<uint32_t>& out, const MsrIndexList& kvm) {
  for (uint32_t i = 0; i < 4; ++i) add(out, kvm, msr::IA32_FIXED_CTR0 + i);
  for (uint32_t i = 0; i < 8; ++i) {
    add(out, kvm, msr::IA32_PERFCTR0 + i);
    add(out, kvm, msr::IA32_EVNTSEL0 + i);
  }
  add(out, kvm, msr::IA32_PERF_GLOBAL_STATUS);
  add(out, kvm, msr::IA32_PERF_GLOBAL_OVF_CTRL);
  for (uint32_t i = 0; i < 4; ++i) {
    add(out, kvm, msr::K7_PERFCTR0 + i);
    add(out, kvm, msr::K7_EVNTSEL0 + i);
  }
  for (uint32_t i = 0; i < 6; ++i) {
    add(out, kvm, msr::F15H_PERF_CTL0 + 2 * i + 1);  // counter
    add(out, kvm, msr::F15H_PERF_CTL0 + 2 * i);      // its selector
  }
  add(out, kvm, msr::AMD64_PERF_CNTR_GLOBAL_STATUS);
  add(out, kvm, msr::AMD64_PERF_CNTR_GLOBAL_STATUS_CLR);
  for (uint32_t index : PMU_CONTROLS) add(out, kvm, index);
}

void add_mtrrs(std::vector<uint32_t>& out, const MsrIndexList& kvm) {
  add(out, kvm, msr::IA32_MTRR_DEF_TYPE);
  add(out, kvm, msr::IA32_MTRR_FIX64K_00000);
  add(out, kvm, msr::IA32_MTRR_FIX16K_80000);
  add(out, kvm, msr::IA32_MTRR_FIX16K_A0000);
  for (uint32_t i = 0; i < 8; ++i) add(out, kvm, msr::IA32_MTRR_FIX4K_C0000 + i);
  for (uint32_t i = 0; i < 16; ++i) add(out, kvm, msr::IA32_MTRR_PHYSBASE0 + i);  // base, mask
}

// MSRs with side effects on the guest, or too heavy for every sync: RESET and FULL only.
void add_reset_block(std::vector<uint32_t>& out, const MsrIndexList& kvm) {
  add(out, kvm, msr::IA32_TSC);
  add_kvm_pv(out, kvm);
  add_pmu(out, kvm);
  add_mtrrs(out, kvm);
  add(out, kvm, msr::IA32_XFD);
  add(out, kvm, msr::IA32_XFD_ERR);
}

std::string short_count_error(const char* ioctl, int vcpu, size_t processed, size_t total,
                              uint32_t failed_index) {
  return std::string(ioctl) + " (vcpu " + std::to_string(vcpu) + "): processed " +
         std::to_string(processed) + " of " + std::to_string(total) + ", failed at MSR " +
         trace::msr_describe(failed_index);
}

}  // namespace

MsrIndexList::MsrIndexList(std::vector<uint32_t> indices) : sorted_(std::move(indices)) {
  std::sort(sorted_.begin(), sorted_.end());
  sorted_.erase(std::unique(sorted_.begin(), sorted_.end()), sorted_.end());
}

bool MsrIndexList::contains(uint32_t index) const {
  return std::binary_search(sorted_.begin(), sorted_.end(), index);
}

std::vector<uint32_t> msrs_for_put(trace::SyncLevel level, const MsrIndexList& kvm) {
  const bool reset_or_full = level == trace::SyncLevel::Reset || level == trace::SyncLevel::Full;
  std::vector<uint32_t> out;
  // QEMU puts FEATURE_CONTROL before everything else at RESET/FULL (kvm_put_msr_feature_control):
  // it gates what the other MSRs (e.g. VMX ones) accept.
  if (reset_or_full) add(out, kvm, msr::IA32_FEATURE_CONTROL);
  for (uint32_t index : RUNTIME_MSRS) add(out, kvm, index);
  if (reset_or_full) add_reset_block(out, kvm);
  for (uint32_t index : MCG_MSRS) add(out, kvm, index);
  return out;
}

std::vector<uint32_t> msrs_for_get(const MsrIndexList& kvm, bool include_tsc) {
  std::vector<uint32_t> out = msrs_for_put(trace::SyncLevel::Full, kvm);
  if (!include_tsc) out.erase(std::remove(out.begin(), out.end(), msr::IA32_TSC), out.end());
  add(out, kvm, msr::IA32_TSC_DEADLINE);
  return out;
}

bool has_tsc_deadline(const MsrIndexList& kvm) { return kvm.contains(msr::IA32_TSC_DEADLINE); }

uint64_t msr_reset_value(uint32_t index) {
  switch (index) {
    case msr::IA32_PAT:
      return 0x0007040600070406ull;  // WB, WT, UC-, UC repeated: the power-on PAT
    case msr::IA32_MISC_ENABLE:
      return 1;  // fast-string enable, QEMU's MSR_IA32_MISC_ENABLE_DEFAULT
    default:
      return 0;
  }
}

std::vector<MsrEntry> msr_put_entries(trace::SyncLevel level, const MsrIndexList& kvm,
                                      std::span<const MsrEntry> values) {
  std::unordered_map<uint32_t, uint64_t> known;
  for (const MsrEntry& e : values) known[e.index] = e.value;
  auto value_of = [&](uint32_t index) {
    auto it = known.find(index);
    return it != known.end() ? it->second : msr_reset_value(index);
  };

  std::vector<MsrEntry> out;
  if (level == trace::SyncLevel::Reset || level == trace::SyncLevel::Full) {
    for (uint32_t index : PMU_CONTROLS) {
      if (kvm.contains(index)) out.push_back({index, 0});  // stop the counters
    }
  }
  for (uint32_t index : msrs_for_put(level, kvm)) out.push_back({index, value_of(index)});
  return out;
}

Status put_msrs_chunked(Vcpu& vcpu, std::span<const MsrEntry> entries, trace::SyncLevel level,
                        size_t chunk) {
  RRVM_CHECK(chunk > 0);
  for (size_t off = 0; off < entries.size(); off += chunk) {
    const size_t n = std::min(chunk, entries.size() - off);
    RRVM_ASSIGN_OR_RETURN(uint32_t done, vcpu.set_msrs(entries.subspan(off, n), level));
    if (done > n) {
      return make_error("KVM_SET_MSRS (vcpu " + std::to_string(vcpu.index()) + "): processed " +
                        std::to_string(done) + " entries of a chunk of " + std::to_string(n));
    }
    if (done < n) {
      return make_error(short_count_error("KVM_SET_MSRS", vcpu.index(), off + done,
                                          entries.size(), entries[off + done].index));
    }
  }
  return ok_status();
}

Result<std::vector<MsrEntry>> get_msrs_chunked(Vcpu& vcpu, std::span<const uint32_t> indices,
                                               trace::SyncLevel level, size_t chunk) {
  RRVM_CHECK(chunk > 0);
  std::vector<MsrEntry> out(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) out[i] = {indices[i], 0};
  for (size_t off = 0; off < out.size(); off += chunk) {
    const size_t n = std::min(chunk, out.size() - off);
    RRVM_ASSIGN_OR_RETURN(uint32_t done, vcpu.get_msrs(std::span(out).subspan(off, n), level));
    if (done > n) {
      return make_error("KVM_GET_MSRS (vcpu " + std::to_string(vcpu.index()) + "): processed " +
                        std::to_string(done) + " entries of a chunk of " + std::to_string(n));
    }
    if (done < n) {
      return make_error(short_count_error("KVM_GET_MSRS", vcpu.index(), off + done, out.size(),
                                          indices[off + done]));
    }
  }
  return out;
}

}  // namespace rrvm::hv
