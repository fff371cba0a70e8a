// The saved state of a virtio-mmio transport and its queues (Persist pattern).
//
// Plain structs: the migration code maps them to its Cap'n Proto schema. Field meanings follow
// the registers of virtio 1.x §4.2.2; VirtioMmioTransport::restore() documents the checks.
#pragma once

#include <cstdint>
#include <vector>

namespace rrvm::virtio {

struct VirtqueueState {
  uint16_t size = 0;  // QueueNum
  bool ready = false;
  uint64_t desc_addr = 0;
  uint64_t driver_addr = 0;
  uint64_t device_addr = 0;
  uint16_t next_avail = 0;  // how far the device consumed the avail ring
  uint16_t used_idx = 0;    // the device's copy of used->idx

  bool operator==(const VirtqueueState&) const = default;
};

struct MmioTransportState {
  uint32_t device_id = 0;  // checked against the device given to restore()
  uint32_t status = 0;
  uint32_t device_features_sel = 0;
  uint32_t driver_features_sel = 0;
  uint64_t driver_features = 0;
  uint32_t queue_sel = 0;
  uint32_t interrupt_status = 0;
  uint32_t config_generation = 0;
  std::vector<VirtqueueState> queues;

  bool operator==(const MmioTransportState&) const = default;
};

}  // namespace rrvm::virtio
