#include "vmm/core/cpu_state.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "trace/names.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::core {

std::optional<uint64_t> CpuState::msr(uint32_t index) const {
  for (const auto& e : msrs) {
    if (e.index == index) return e.value;
  }
  return std::nullopt;
}

void CpuState::set_msr(uint32_t index, uint64_t value) {
  for (auto& e : msrs) {
    if (e.index == index) {
      e.value = value;
      return;
    }
  }
  msrs.push_back(hv::MsrEntry{index, value});
}

void CpuState::merge_msrs(const std::vector<hv::MsrEntry>& values) {
  for (const auto& e : values) set_msr(e.index, e.value);
}

namespace {

Status check_blob(const char* what, const hv::Blob& blob, size_t size) {
  if (blob.size() == size) return ok_status();
  return make_error(std::string(what) + " is " + std::to_string(blob.size()) + " bytes, expected " +
                    std::to_string(size));
}

Status check_msrs(const std::vector<hv::MsrEntry>& msrs) {
  if (msrs.size() > MAX_MSRS) {
    return make_error(std::to_string(msrs.size()) + " MSRs (max " + std::to_string(MAX_MSRS) + ")");
  }
  std::unordered_set<uint32_t> seen;
  for (const auto& e : msrs) {
    bool known = !trace::msr_name(e.index).empty() ||
                 (e.index >= hv::msr::KVM_PV_FIRST && e.index <= hv::msr::KVM_PV_LAST);
    if (!known) return make_error("unknown MSR " + trace::msr_describe(e.index));
    if (!seen.insert(e.index).second) {
      return make_error("MSR " + trace::msr_describe(e.index) + " appears twice");
    }
  }
  return ok_status();
}

}  // namespace

Status validate_cpu_state(const CpuState& s, bool xsave, bool debugregs) {
  auto fail = [](const Error& e) { return e.context("invalid vCPU state"); };
  if (xsave) {
    if (s.xsave.size() < XSAVE_MIN_SIZE || s.xsave.size() > XSAVE_MAX_SIZE || s.xsave.size() % 64) {
      return fail(make_error("XSAVE area is " + std::to_string(s.xsave.size()) +
                             " bytes (expected a multiple of 64 from " +
                             std::to_string(XSAVE_MIN_SIZE) + ")"));
    }
  } else if (!s.xsave.empty()) {
    return fail(make_error("XSAVE area present but this VM uses KVM_SET_FPU"));
  }
  if (s.xcrs.size() > MAX_XCRS) {
    return fail(make_error(std::to_string(s.xcrs.size()) + " XCRs (max 16)"));
  }
  if (auto st = check_blob("LAPIC state", s.lapic, LAPIC_STATE_SIZE); !st.ok())
    return fail(st.error());
  if (auto st = check_blob("vCPU events", s.events, VCPU_EVENTS_SIZE); !st.ok())
    return fail(st.error());
  if (auto st = check_blob("debug registers", s.debugregs, debugregs ? DEBUGREGS_SIZE : 0);
      !st.ok()) {
    return fail(st.error());
  }
  if (static_cast<uint32_t>(s.mp_state) > static_cast<uint32_t>(hv::MpState::SipiReceived)) {
    return fail(make_error("mp_state " + std::to_string(static_cast<uint32_t>(s.mp_state)) +
                           " is not a KVM_MP_STATE_* an x86 vCPU can be in"));
  }
  if (auto st = check_msrs(s.msrs); !st.ok()) return fail(st.error());
  return ok_status();
}

}  // namespace rrvm::core
