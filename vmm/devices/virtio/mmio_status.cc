// Device status: the guest's status writes, feature acceptance, activation, reset, the backend
// lifecycle and DEVICE_NEEDS_RESET. Every change of status_ is recorded as a DeviceStatusWrite.
#include <fmt/format.h>

#include "trace/names.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/devices/virtio/mmio_transport.h"
#include "vmm/devices/virtio/status_rules.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

std::string feature_list(uint64_t bits) {
  std::string out;
  for (uint32_t b = 0; b < 64; ++b) {
    if (!(bits & feature_bit(b))) continue;
    if (!out.empty()) out += ",";
    out += std::to_string(b);
  }
  return out;
}

}  // namespace

void VirtioMmioTransport::emit_status(uint32_t old_status, uint32_t new_status,
                                      trace::StatusSource source, bool accepted,
                                      std::string_view reason) const {
  trace::emit(trace::DeviceStatusWrite{device_->name(), transport_name_, old_status, new_status,
                                       source, accepted, reason});
}

void VirtioMmioTransport::set_status_by_guest(uint32_t written) {
  trace::Span span("virtio_set_status");
  const uint32_t old = status_;
  StatusCheck check = check_status_write(old, written);
  switch (check.verdict) {
    case StatusVerdict::Refused:
      // For a refused write the event's new_status is what the driver tried to write.
      emit_status(old, written, trace::StatusSource::Guest, false, check.reason);
      warnings_.warn(fmt::format("refused status write {} -> {}: {}",
                                 trace::virtio_status_bits(old), trace::virtio_status_bits(written),
                                 check.reason));
      return;
    case StatusVerdict::Reset:
      reset_locked(trace::StatusSource::Guest, "guest wrote 0 (device reset)");
      return;
    case StatusVerdict::Unchanged:
      emit_status(old, old, trace::StatusSource::Guest, true, "unchanged");
      return;
    case StatusVerdict::Accepted:
      break;
  }
  if (check.features_ok_added) {
    // Not a guest fault: a driver may propose features and learn from FEATURES_OK staying clear
    // that the device refused them (§3.1.1 step 6). Recorded, not warned about.
    std::string why = check_features();
    if (!why.empty()) {
      emit_status(old, written, trace::StatusSource::Guest, false, "FEATURES_OK refused: " + why);
      return;
    }
  }
  status_ = check.new_status;
  if (!check.driver_ok_added) {
    emit_status(old, status_, trace::StatusSource::Guest, true, "");
    return;
  }
  if (Status activated = activate_locked(); !activated.ok()) {
    // §2.1.2: the device sets DEVICE_NEEDS_RESET and, DRIVER_OK being set, notifies the driver
    // with a configuration change interrupt.
    status_ |= STATUS_DEVICE_NEEDS_RESET;
    std::string why = "activation failed: " + activated.error().describe();
    emit_status(old, status_, trace::StatusSource::Guest, true, why);
    warnings_.warn(why);
    raise_interrupt(INT_CONFIG_CHANGE);
    return;
  }
  emit_status(old, status_, trace::StatusSource::Guest, true, "activated");
  update_backend("guest set DRIVER_OK");
}

std::string VirtioMmioTransport::check_features() const {
  uint64_t offered = device_->device_features();
  uint64_t extra = driver_features_ & ~offered;
  if (extra != 0) {
    return fmt::format("the driver accepted feature bits {} that {} does not offer",
                       feature_list(extra), device_->name());
  }
  if (!(driver_features_ & feature_bit(F_VERSION_1))) {
    return "VIRTIO_F_VERSION_1 (bit 32) not accepted: rrvm's virtio-mmio devices are modern only";
  }
  return {};
}

Status VirtioMmioTransport::activate_locked() {
  bool indirect = (driver_features_ & feature_bit(F_INDIRECT_DESC)) != 0;
  for (size_t q = 0; q < queues_.size(); ++q) {
    if (!queues_[q].config().ready) {
      return make_error(fmt::format("queue {} is not ready (QueueReady was not set)", q));
    }
    if (Status s = queues_[q].activate(mem_, indirect); !s.ok()) {
      return s.error().context(fmt::format("queue {}", q));
    }
  }
  RRVM_TRY(device_->activate(driver_features_));
  activated_ = true;
  return ok_status();
}

void VirtioMmioTransport::reset_locked(trace::StatusSource source, std::string_view reason) {
  // Recorded in QEMU's order: the status write, the backend stopping because of it, then the
  // reset of the device's state.
  const uint32_t old = status_;
  status_ = 0;
  activated_ = false;
  emit_status(old, 0, source, true, reason);
  update_backend(reason);
  for (auto& q : queues_) q.reset();
  pending_.assign(pending_.size(), false);
  driver_features_ = 0;
  device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
  interrupt_status_ = 0;
  device_->reset();
  trace::emit(trace::DeviceReset{device_->name(), reason});
}

void VirtioMmioTransport::reset_by_vmm(std::string_view reason) {
  trace::Span span("virtio_reset");
  std::lock_guard lock(mu_);
  reset_locked(trace::StatusSource::Vmm, reason);
}

void VirtioMmioTransport::mark_needs_reset(std::string_view what) {
  trace::Span span("virtio_device_needs_reset");
  warnings_.warn(what);
  const uint32_t old = status_;
  if (old & STATUS_DEVICE_NEEDS_RESET) return;
  status_ |= STATUS_DEVICE_NEEDS_RESET;
  emit_status(old, status_, trace::StatusSource::Vmm, true, what);
  update_backend("device needs reset");
  raise_interrupt(INT_CONFIG_CHANGE);
}

void VirtioMmioTransport::update_backend(std::string_view reason) {
  bool want = vm_running_ && activated_ && !(status_ & STATUS_DEVICE_NEEDS_RESET);
  if (want == backend_running_) return;
  backend_running_ = want;
  trace::emit(trace::DeviceBackend{
      device_->name(), want ? trace::BackendOp::Start : trace::BackendOp::Stop, reason});
  if (!want) return;
  // Serve what the driver queued while the backend was stopped, including kicks sent before
  // DRIVER_OK (the device must not consume those earlier, §3.1.1).
  pending_.assign(pending_.size(), false);
  for (uint16_t q = 0; q < queues_.size() && backend_running_; ++q) process_queue(q);
}

void VirtioMmioTransport::vm_state_changed(bool running, trace::RunState state) {
  trace::Span span("virtio_vmstate_change");
  std::lock_guard lock(mu_);
  vm_running_ = running;
  bool backend_run = running && activated_ && !(status_ & STATUS_DEVICE_NEEDS_RESET);
  std::string reason =
      fmt::format("VM {} ({})", running ? "running" : "stopped", trace::run_state_name(state));
  // QEMU re-applies the current status here (virtio_set_status(vdev, vdev->status)) when the
  // backend is to run, and always when it is to stop; its backend starts and stops inside that
  // call. Mirrored so rrvm's and QEMU's traces line up, recorded as rrvm's own (Vmm) write.
  if (backend_run || !running) {
    emit_status(status_, status_, trace::StatusSource::Vmm, true,
                "re-applied on VM state change (" + reason + ")");
  }
  update_backend(reason);
}

}  // namespace rrvm::virtio
