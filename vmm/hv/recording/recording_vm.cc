#include "vmm/hv/recording/recording_vm.h"

#include "vmm/hv/recording/payload.h"
#include "vmm/hv/recording/record.h"
#include "vmm/hv/recording/recording_vcpu.h"

namespace rrvm::hv {

using recording::err_of;
using recording::record_result;
using recording::record_status;

namespace {

constexpr int32_t VM_WIDE = -1;  // HvCall.vcpu for calls on the VM

std::vector<uint8_t> u64_payload(uint64_t v) {
  payload::Writer w;
  w.u64(v);
  return std::move(w.data());
}

}  // namespace

Result<std::unique_ptr<Vcpu>> RecordingVm::create_vcpu(int index) {
  auto r = inner_->create_vcpu(index);
  if (trace::enabled()) {
    payload::Writer w;
    w.u32(static_cast<uint32_t>(index));
    record_result(VM_WIDE, "KVM_CREATE_VCPU", r, index, w.data());
  }
  if (!r.ok()) return r;
  return std::unique_ptr<Vcpu>(new RecordingVcpu(std::move(r).value()));
}

Status RecordingVm::set_memory_region(const MemoryRegion& region) {
  Status s = inner_->set_memory_region(region);
  if (trace::enabled()) {
    // slot u32, log_dirty u8, guest_phys_addr u64, size u64, host address u64 (for debugging
    // only: it differs from run to run).
    payload::Writer w;
    w.u32(region.slot);
    w.u8(region.log_dirty ? 1 : 0);
    w.u64(region.guest_phys_addr);
    w.u64(region.size);
    w.u64(reinterpret_cast<uint64_t>(region.host_addr));
    record_status(VM_WIDE, "KVM_SET_USER_MEMORY_REGION", s, w.data());
  }
  return s;
}

Result<std::vector<uint64_t>> RecordingVm::get_dirty_log(uint32_t slot, uint64_t size) {
  auto r = inner_->get_dirty_log(slot, size);
  if (trace::enabled()) {
    // slot u32, size u64, then the bitmap as a u64 list (empty on failure).
    payload::Writer w;
    w.u32(slot);
    w.u64(size);
    w.bytes(payload::encode_u64_list(r.ok() ? std::span<const uint64_t>(*r)
                                            : std::span<const uint64_t>()));
    record_result(VM_WIDE, "KVM_GET_DIRTY_LOG", r, 0, w.data());
  }
  return r;
}

Status RecordingVm::create_irqchip() {
  Status s = inner_->create_irqchip();
  record_status(VM_WIDE, "KVM_CREATE_IRQCHIP", s);
  return s;
}

Status RecordingVm::create_pit() {
  Status s = inner_->create_pit();
  record_status(VM_WIDE, "KVM_CREATE_PIT2", s);
  return s;
}

Status RecordingVm::set_tss_addr(uint64_t addr) {
  Status s = inner_->set_tss_addr(addr);
  if (trace::enabled()) record_status(VM_WIDE, "KVM_SET_TSS_ADDR", s, u64_payload(addr));
  return s;
}

Status RecordingVm::set_identity_map_addr(uint64_t addr) {
  Status s = inner_->set_identity_map_addr(addr);
  if (trace::enabled()) record_status(VM_WIDE, "KVM_SET_IDENTITY_MAP_ADDR", s, u64_payload(addr));
  return s;
}

Status RecordingVm::set_irq_line(uint32_t gsi, bool level) {
  Status s = inner_->set_irq_line(gsi, level);
  if (trace::enabled()) {
    payload::Writer w;  // gsi u32, level u8
    w.u32(gsi);
    w.u8(level ? 1 : 0);
    record_status(VM_WIDE, "KVM_IRQ_LINE", s, w.data());
  }
  return s;
}

Status RecordingVm::irqfd(int fd, uint32_t gsi, bool assign) {
  Status s = inner_->irqfd(fd, gsi, assign);
  if (trace::enabled()) {
    payload::Writer w;  // fd u32, gsi u32, assign u8
    w.u32(static_cast<uint32_t>(fd));
    w.u32(gsi);
    w.u8(assign ? 1 : 0);
    record_status(VM_WIDE, "KVM_IRQFD", s, w.data());
  }
  return s;
}

Status RecordingVm::ioeventfd(const IoEventFd& ev, bool assign) {
  Status s = inner_->ioeventfd(ev, assign);
  if (trace::enabled()) {
    // fd u32, address u64, length u32, pio u8, has_datamatch u8, datamatch u64, assign u8
    payload::Writer w;
    w.u32(static_cast<uint32_t>(ev.fd));
    w.u64(ev.address);
    w.u32(ev.length);
    w.u8(ev.pio ? 1 : 0);
    w.u8(ev.has_datamatch ? 1 : 0);
    w.u64(ev.datamatch);
    w.u8(assign ? 1 : 0);
    record_status(VM_WIDE, "KVM_IOEVENTFD", s, w.data());
  }
  return s;
}

Result<Blob> RecordingVm::get_irqchip(uint32_t chip) {
  auto r = inner_->get_irqchip(chip);
  if (trace::enabled()) {
    payload::Writer w;  // chip u32, then the state
    w.u32(chip);
    if (r.ok()) w.bytes(*r);
    record_result(VM_WIDE, "KVM_GET_IRQCHIP", r, r.ok() ? int64_t(r->size()) : 0, w.data());
  }
  return r;
}

Status RecordingVm::set_irqchip(uint32_t chip, const Blob& state) {
  Status s = inner_->set_irqchip(chip, state);
  if (trace::enabled()) {
    payload::Writer w;
    w.u32(chip);
    w.bytes(state);
    record_status(VM_WIDE, "KVM_SET_IRQCHIP", s, w.data());
  }
  return s;
}

Result<Blob> RecordingVm::get_pit() {
  auto r = inner_->get_pit();
  if (trace::enabled()) {
    record_result(VM_WIDE, "KVM_GET_PIT2", r, r.ok() ? int64_t(r->size()) : 0,
                  r.ok() ? std::span<const uint8_t>(*r) : std::span<const uint8_t>());
  }
  return r;
}

Status RecordingVm::set_pit(const Blob& state) {
  Status s = inner_->set_pit(state);
  if (trace::enabled()) record_status(VM_WIDE, "KVM_SET_PIT2", s, state);
  return s;
}

Result<ClockData> RecordingVm::get_clock() {
  auto r = inner_->get_clock();
  const ClockData c = r.ok() ? *r : ClockData{};
  trace::emit(trace::ClockAccess{.op = trace::ClockOp::Get,
                                 .clock_ns = c.clock_ns,
                                 .flags = c.flags,
                                 .host_tsc = c.host_tsc,
                                 .realtime_ns = c.realtime_ns,
                                 .err = r.ok() ? 0 : err_of(r.error())});
  return r;
}

Status RecordingVm::set_clock(const ClockData& c) {
  Status s = inner_->set_clock(c);
  trace::emit(trace::ClockAccess{.op = trace::ClockOp::Set,
                                 .clock_ns = c.clock_ns,
                                 .flags = c.flags,
                                 .host_tsc = c.host_tsc,
                                 .realtime_ns = c.realtime_ns,
                                 .err = s.ok() ? 0 : err_of(s.error())});
  return s;
}

}  // namespace rrvm::hv
