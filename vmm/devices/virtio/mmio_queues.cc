// Queue service: notifications, serving descriptor chains, used-buffer interrupts.
#include <fmt/format.h>

#include "vmm/devices/virtio/mmio_transport.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {

void VirtioMmioTransport::notify(uint32_t queue) {
  std::lock_guard lock(mu_);
  notify_locked(queue);
}

void VirtioMmioTransport::notify_locked(uint32_t queue) {
  if (queue >= queues_.size()) {
    warnings_.warn(fmt::format("ignored QueueNotify for queue {}: {} has {} queue(s)", queue,
                               device_->name(), queues_.size()));
    return;
  }
  if (!backend_running_) {
    // Served when the backend starts (VM resumed, or DRIVER_OK written).
    pending_[queue] = true;
    return;
  }
  process_queue(static_cast<uint16_t>(queue));
}

void VirtioMmioTransport::process_queue(uint16_t queue) {
  Virtqueue& vq = queues_[queue];
  if (!vq.active()) return;  // disabled by QueueReady = 0 after activation
  bool used_any = false;
  for (;;) {
    Result<bool> popped = vq.pop(chain_);
    if (!popped.ok()) {
      mark_needs_reset(fmt::format("queue {}: {}", queue, popped.error().describe()));
      break;
    }
    if (!*popped) break;
    Result<uint32_t> written = device_->process(queue, chain_, mem_);
    if (!written.ok()) {
      mark_needs_reset(fmt::format("queue {}: request at head {}: {}", queue, chain_.head,
                                   written.error().describe()));
      break;
    }
    vq.push_used(chain_.head, *written);
    ++requests_served_;
    used_any = true;
  }
  // One interrupt per batch. Buffers completed before a broken chain are still reported.
  if (used_any && vq.driver_wants_interrupt()) raise_interrupt(INT_USED_BUFFER);
}

void VirtioMmioTransport::raise_interrupt(uint32_t bits) {
  interrupt_status_ |= bits;
  if (Status s = interrupt_->trigger(); !s.ok()) {
    warnings_.warn("raising the interrupt failed: " + s.error().describe());
  }
}

}  // namespace rrvm::virtio
