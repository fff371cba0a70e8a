#include "vmm/hv/recording/recording_vcpu.h"

#include "vmm/hv/recording/payload.h"
#include "vmm/hv/recording/record.h"

namespace rrvm::hv {

using recording::err_of;
using recording::record_result;
using recording::record_status;

RecordingVcpu::RecordingVcpu(std::unique_ptr<Vcpu> inner)
    : inner_(std::move(inner)), index_(inner_->index()) {}

// --- running ----------------------------------------------------------------------------------

Result<Exit> RecordingVcpu::run() {
  record_pending_read();
  Result<Exit> r = inner_->run();
  if (!trace::enabled()) return r;
  if (!r.ok()) {
    record_status(index_, "KVM_RUN", r.error());
    return r;
  }
  record_exit(*r);
  return r;
}

void RecordingVcpu::record_exit(const Exit& e) {
  const bool data_exit = e.kind == Exit::Kind::Io || e.kind == Exit::Kind::Mmio;
  trace::emit(trace::VcpuExit{.vcpu = index_,
                              .kind = to_trace_kind(e.kind),
                              .address = e.address,
                              .size = e.size,
                              .is_write = e.is_write,
                              .data = data_exit && e.is_write ? std::span<const uint8_t>(e.data)
                                                              : std::span<const uint8_t>(),
                              .detail = e.detail});
  if (!e.extra.empty()) {
    const auto words = payload::encode_u64_list(e.extra);
    trace::emit(trace::HvCall{.vcpu = index_, .name = "exit_extra", .result = 0, .err = 0,
                              .payload = words});
  }
  if (data_exit && !e.is_write) {
    pending_read_ = e.data;
    has_pending_read_ = true;
  }
}

void RecordingVcpu::record_pending_read() {
  if (!has_pending_read_) return;
  has_pending_read_ = false;
  // The handler has stored the value the guest reads; KVM hands it over in this KVM_RUN.
  trace::emit(trace::HvCall{.vcpu = index_, .name = "exit_read_data", .result = 0, .err = 0,
                            .payload = pending_read_});
}

void RecordingVcpu::kick() {
  inner_->kick();
  record_status(index_, "kick", ok_status());
}

void RecordingVcpu::clear_kick() {
  inner_->clear_kick();
  record_status(index_, "clear_kick", ok_status());
}

// --- register state ---------------------------------------------------------------------------

namespace {

// What a get/set of one kind of state records: its payload (field by field, or the raw blob)
// and, as the call's result, its entry count where it has one.
std::vector<uint8_t> payload_of(const Regs& x) { return payload::encode(x); }
std::vector<uint8_t> payload_of(const Sregs& x) { return payload::encode(x); }
std::vector<uint8_t> payload_of(const Fpu& x) { return payload::encode(x); }
std::vector<uint8_t> payload_of(const std::vector<Xcr>& x) { return payload::encode(x); }
std::vector<uint8_t> payload_of(const std::vector<CpuidEntry>& x) { return payload::encode(x); }
std::span<const uint8_t> payload_of(const Blob& x) { return x; }

template <typename T>
int64_t count_of(const T&) {
  return 0;
}
int64_t count_of(const std::vector<Xcr>& x) { return static_cast<int64_t>(x.size()); }
int64_t count_of(const Blob& x) { return static_cast<int64_t>(x.size()); }

template <typename T>
Result<T> recorded_get(int32_t vcpu, const char* name, Result<T> r) {
  if (trace::enabled()) {
    if (r.ok()) {
      record_result(vcpu, name, r, count_of(*r), payload_of(*r));
    } else {
      record_result(vcpu, name, r, 0);
    }
  }
  return r;
}

template <typename T>
Status recorded_set(int32_t vcpu, const char* name, const T& value, Status s) {
  if (trace::enabled()) record_status(vcpu, name, s, payload_of(value));
  return s;
}

}  // namespace

Result<Regs> RecordingVcpu::get_regs() { return recorded_get(index_, "KVM_GET_REGS", inner_->get_regs()); }
Status RecordingVcpu::set_regs(const Regs& x) {
  return recorded_set(index_, "KVM_SET_REGS", x, inner_->set_regs(x));
}
Result<Sregs> RecordingVcpu::get_sregs() {
  return recorded_get(index_, "KVM_GET_SREGS", inner_->get_sregs());
}
Status RecordingVcpu::set_sregs(const Sregs& x) {
  return recorded_set(index_, "KVM_SET_SREGS", x, inner_->set_sregs(x));
}
Result<Fpu> RecordingVcpu::get_fpu() { return recorded_get(index_, "KVM_GET_FPU", inner_->get_fpu()); }
Status RecordingVcpu::set_fpu(const Fpu& x) {
  return recorded_set(index_, "KVM_SET_FPU", x, inner_->set_fpu(x));
}
Result<std::vector<Xcr>> RecordingVcpu::get_xcrs() {
  return recorded_get(index_, "KVM_GET_XCRS", inner_->get_xcrs());
}
Status RecordingVcpu::set_xcrs(const std::vector<Xcr>& x) {
  return recorded_set(index_, "KVM_SET_XCRS", x, inner_->set_xcrs(x));
}
Result<Blob> RecordingVcpu::get_xsave() {
  return recorded_get(index_, "KVM_GET_XSAVE", inner_->get_xsave());
}
Status RecordingVcpu::set_xsave(const Blob& b) {
  return recorded_set(index_, "KVM_SET_XSAVE", b, inner_->set_xsave(b));
}
Result<Blob> RecordingVcpu::get_lapic() {
  return recorded_get(index_, "KVM_GET_LAPIC", inner_->get_lapic());
}
Status RecordingVcpu::set_lapic(const Blob& b) {
  return recorded_set(index_, "KVM_SET_LAPIC", b, inner_->set_lapic(b));
}
Result<Blob> RecordingVcpu::get_vcpu_events() {
  return recorded_get(index_, "KVM_GET_VCPU_EVENTS", inner_->get_vcpu_events());
}
Status RecordingVcpu::set_vcpu_events(const Blob& b) {
  return recorded_set(index_, "KVM_SET_VCPU_EVENTS", b, inner_->set_vcpu_events(b));
}
Result<Blob> RecordingVcpu::get_debugregs() {
  return recorded_get(index_, "KVM_GET_DEBUGREGS", inner_->get_debugregs());
}
Status RecordingVcpu::set_debugregs(const Blob& b) {
  return recorded_set(index_, "KVM_SET_DEBUGREGS", b, inner_->set_debugregs(b));
}

Result<MpState> RecordingVcpu::get_mp_state() {
  auto r = inner_->get_mp_state();
  record_result(index_, "KVM_GET_MP_STATE", r, r.ok() ? int64_t(*r) : 0);
  return r;
}

Status RecordingVcpu::set_mp_state(MpState state) {
  Status s = inner_->set_mp_state(state);
  if (trace::enabled()) {
    payload::Writer w;
    w.u32(static_cast<uint32_t>(state));
    record_status(index_, "KVM_SET_MP_STATE", s, w.data());
  }
  return s;
}

Status RecordingVcpu::set_cpuid(const std::vector<CpuidEntry>& entries) {
  return recorded_set(index_, "KVM_SET_CPUID2", entries, inner_->set_cpuid(entries));
}

// --- MSRs and clocks --------------------------------------------------------------------------

Result<uint32_t> RecordingVcpu::get_msrs(std::span<MsrEntry> entries, trace::SyncLevel level) {
  auto r = inner_->get_msrs(entries, level);
  // Values are meaningful for the first `processed` entries only.
  trace::emit(trace::MsrAccess{.vcpu = index_,
                               .op = trace::MsrOp::Get,
                               .level = level,
                               .entries = entries,
                               .requested = static_cast<uint32_t>(entries.size()),
                               .processed = r.ok() ? *r : 0,
                               .err = r.ok() ? 0 : err_of(r.error())});
  return r;
}

Result<uint32_t> RecordingVcpu::set_msrs(std::span<const MsrEntry> entries, trace::SyncLevel level) {
  auto r = inner_->set_msrs(entries, level);
  trace::emit(trace::MsrAccess{.vcpu = index_,
                               .op = trace::MsrOp::Put,
                               .level = level,
                               .entries = entries,
                               .requested = static_cast<uint32_t>(entries.size()),
                               .processed = r.ok() ? *r : 0,
                               .err = r.ok() ? 0 : err_of(r.error())});
  return r;
}

Status RecordingVcpu::kvmclock_ctrl() {
  Status s = inner_->kvmclock_ctrl();
  trace::emit(trace::KvmclockCtrl{.vcpu = index_, .err = s.ok() ? 0 : err_of(s.error())});
  return s;
}

Result<uint32_t> RecordingVcpu::get_tsc_khz() {
  auto r = inner_->get_tsc_khz();
  trace::emit(trace::TscKhz{.vcpu = index_,
                            .set = false,
                            .khz = r.ok() ? *r : 0,
                            .err = r.ok() ? 0 : err_of(r.error())});
  return r;
}

Status RecordingVcpu::set_tsc_khz(uint32_t khz) {
  Status s = inner_->set_tsc_khz(khz);
  trace::emit(
      trace::TscKhz{.vcpu = index_, .set = true, .khz = khz, .err = s.ok() ? 0 : err_of(s.error())});
  return s;
}

}  // namespace rrvm::hv
