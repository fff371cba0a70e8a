// Persist pattern for the virtio-mmio transport: save() and a validating restore().
#include <fmt/format.h>

#include <bit>

#include "trace/names.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/devices/virtio/mmio_transport.h"
#include "vmm/devices/virtio/status_rules.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

// Whether the saved status means the device was serving requests when it was saved.
bool was_activated(uint32_t status) {
  return (status & STATUS_DRIVER_OK) && !(status & STATUS_DEVICE_NEEDS_RESET);
}

Status check_queue(const GuestMemory& mem, const VirtqueueState& q, size_t index, uint16_t max_size,
                   bool activated) {
  auto fail = [index](const std::string& what) {
    return make_error(fmt::format("queue {}: {}", index, what));
  };
  if (q.size == 0 || !std::has_single_bit(q.size) || q.size > max_size) {
    return fail(fmt::format("size {} is not a power of two between 1 and {}", q.size, max_size));
  }
  if (!activated) {
    // Before DRIVER_OK the device has consumed nothing.
    if (q.next_avail != 0 || q.used_idx != 0) {
      return fail(fmt::format("ring positions {}/{} on a device that was not activated",
                              q.next_avail, q.used_idx));
    }
    return ok_status();
  }
  if (!q.ready) return fail("not ready on an activated device");
  QueueConfig c{q.size, q.ready, q.desc_addr, q.driver_addr, q.device_addr};
  if (Status s = Virtqueue::check_placement(mem, c, max_size); !s.ok()) {
    return fail(s.error().describe());
  }
  // rrvm completes every request before it returns to the ring, so nothing is in flight.
  if (q.next_avail != q.used_idx) {
    return fail(
        fmt::format("{} requests in flight (avail {} vs used {}), but rrvm completes "
                    "requests synchronously",
                    static_cast<uint16_t>(q.next_avail - q.used_idx), q.next_avail, q.used_idx));
  }
  return ok_status();
}

Status check_state(const GuestMemory& mem, const VirtioDevice& device,
                   const MmioTransportState& s) {
  if (s.device_id != device.device_id()) {
    return make_error(fmt::format("device id {} does not match {} (id {})", s.device_id,
                                  device.name(), device.device_id()));
  }
  if (s.queues.size() != device.num_queues()) {
    return make_error(fmt::format("{} queues saved, {} has {}", s.queues.size(), device.name(),
                                  device.num_queues()));
  }
  if (!is_reachable_status(s.status)) {
    return make_error(fmt::format("status 0x{:x} ({}) is not a status a driver can reach", s.status,
                                  trace::virtio_status_bits(s.status)));
  }
  if (s.interrupt_status & ~(INT_USED_BUFFER | INT_CONFIG_CHANGE)) {
    return make_error(
        fmt::format("interrupt status 0x{:x} has undefined bits", s.interrupt_status));
  }
  // Before FEATURES_OK the driver may have written anything; after it the set was accepted.
  if (s.status & STATUS_FEATURES_OK) {
    uint64_t extra = s.driver_features & ~device.device_features();
    if (extra != 0) {
      return make_error(fmt::format("driver features 0x{:x} include bits 0x{:x} {} does not offer",
                                    s.driver_features, extra, device.name()));
    }
    if (!(s.driver_features & feature_bit(F_VERSION_1))) {
      return make_error("FEATURES_OK without VIRTIO_F_VERSION_1 in the driver features");
    }
  }
  for (size_t i = 0; i < s.queues.size(); ++i) {
    RRVM_TRY(check_queue(mem, s.queues[i], i, device.max_queue_size(), was_activated(s.status)));
  }
  return ok_status();
}

}  // namespace

MmioTransportState VirtioMmioTransport::save() const {
  std::lock_guard lock(mu_);
  MmioTransportState s;
  s.device_id = device_->device_id();
  s.status = status_;
  s.device_features_sel = device_features_sel_;
  s.driver_features_sel = driver_features_sel_;
  s.driver_features = driver_features_;
  s.queue_sel = queue_sel_;
  s.interrupt_status = interrupt_status_;
  s.config_generation = config_generation_;
  for (const Virtqueue& q : queues_) {
    const QueueConfig& c = q.config();
    s.queues.push_back(VirtqueueState{c.size, c.ready, c.desc_addr, c.driver_addr, c.device_addr,
                                      q.next_avail(), q.used_idx()});
  }
  return s;
}

Result<std::unique_ptr<VirtioMmioTransport>> VirtioMmioTransport::restore(
    const MmioTransportArgs& args, std::unique_ptr<VirtioDevice> device,
    const MmioTransportState& s) {
  trace::Span span("virtio_restore");
  std::string where = fmt::format("restoring {} at 0x{:x}", device->name(), args.base);
  if (Status ok = check_state(*args.memory, *device, s); !ok.ok()) return ok.error().context(where);

  auto t = std::make_unique<VirtioMmioTransport>(args, std::move(device));
  std::lock_guard lock(t->mu_);
  t->status_ = s.status;
  t->device_features_sel_ = s.device_features_sel;
  t->driver_features_sel_ = s.driver_features_sel;
  t->driver_features_ = s.driver_features;
  t->queue_sel_ = s.queue_sel;
  t->interrupt_status_ = s.interrupt_status;
  t->config_generation_ = s.config_generation;
  bool indirect = (s.driver_features & feature_bit(F_INDIRECT_DESC)) != 0;
  for (size_t i = 0; i < s.queues.size(); ++i) {
    const VirtqueueState& q = s.queues[i];
    t->queues_[i].config() =
        QueueConfig{q.size, q.ready, q.desc_addr, q.driver_addr, q.device_addr};
    if (was_activated(s.status)) {
      // check_state() validated the placement, so this cannot fail.
      RRVM_CHECK(t->queues_[i].activate(*args.memory, indirect, q.next_avail, q.used_idx).ok());
    }
  }
  std::string reason = "restored from snapshot";
  if (was_activated(s.status)) {
    if (Status a = t->device_->activate(s.driver_features); !a.ok()) {
      return a.error().context(where + ": activating the device");
    }
    t->activated_ = true;
    reason += " (device activated; the backend starts when the VM runs)";
  }
  t->emit_status(0, s.status, trace::StatusSource::Restore, true, reason);
  return t;
}

}  // namespace rrvm::virtio
