// What a virtio device type (blk, rng) provides to the transport.
//
// The transport owns everything generic: registers, status, feature negotiation, queues, the
// backend lifecycle, interrupts and tracing. A device only describes itself (id, features,
// config space, queues) and serves one validated descriptor chain at a time. The transport calls
// it with its lock held, so a device needs no locking of its own.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/virtqueue.h"

namespace rrvm::virtio {

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  // "virtio-blk0": the name in trace events and log lines.
  virtual const std::string& name() const = 0;
  virtual uint32_t device_id() const = 0;
  // Every feature bit the device offers, VIRTIO_F_VERSION_1 included.
  virtual uint64_t device_features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size() const = 0;
  // The device-specific configuration space (§4.2.2 offset 0x100), read-only for the guest.
  virtual std::span<const uint8_t> config_space() const = 0;

  // DRIVER_OK: the driver accepted `features` and the queues passed their checks. An error makes
  // the transport set DEVICE_NEEDS_RESET.
  virtual Status activate(uint64_t features) = 0;
  // Status 0: forget everything negotiated since activate().
  virtual void reset() = 0;

  // Serves one request. Returns the number of bytes written into the chain's writable buffers
  // (the used element's len). An Error means the chain is malformed beyond what the device can
  // answer with a status code (e.g. a block request without a header): the transport then marks
  // the device DEVICE_NEEDS_RESET.
  virtual Result<uint32_t> process(uint16_t queue, const DescriptorChain& chain,
                                   const GuestMemory& mem) = 0;
};

}  // namespace rrvm::virtio
