// virtio-rng (virtio 1.x §5.4): fills the driver's device-writable buffers with entropy from the
// host's getrandom().
//
// A request may be answered with fewer bytes than asked (the used len says how many, §5.4.6);
// rrvm caps one request at MAX_BYTES_PER_REQUEST so a guest cannot make the device spend
// seconds in one request. Device-readable buffers in a request are a driver bug (§5.4.6.1): an
// Error, so the transport marks the device DEVICE_NEEDS_RESET.
//
// No State of its own: virtio-rng has no configuration and no state beyond its transport's.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/devices/virtio/virtio_device.h"
#include "vmm/devices/virtio/virtio_spec.h"
#include "vmm/devices/virtio/warning_log.h"

namespace rrvm::virtio {

class RngDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t QUEUE_SIZE = 64;
  static constexpr uint32_t MAX_BYTES_PER_REQUEST = 64 * 1024;

  explicit RngDevice(std::string name = "virtio-rng0");

  const std::string& name() const override { return name_; }
  uint32_t device_id() const override { return DEVICE_ID_ENTROPY; }
  uint64_t device_features() const override {
    return feature_bit(F_VERSION_1) | feature_bit(F_INDIRECT_DESC);
  }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return QUEUE_SIZE; }
  std::span<const uint8_t> config_space() const override { return {}; }
  Status activate(uint64_t) override { return ok_status(); }
  void reset() override {}
  Result<uint32_t> process(uint16_t queue, const DescriptorChain& chain,
                           const GuestMemory& mem) override;

 private:
  // Fills the buffers from getrandom(); returns the bytes filled, fewer only when the host fails.
  uint64_t fill(std::span<const iovec> iov);

  std::string name_;
  std::vector<iovec> iov_;  // reused scatter-gather list of the current request
  WarningLog warnings_;
};

}  // namespace rrvm::virtio
