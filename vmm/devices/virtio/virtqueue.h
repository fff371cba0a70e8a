// A split virtqueue (virtio 1.x §2.7), device side.
//
// The guest owns the descriptor table and the avail ring; anything read from them is hostile
// until checked. Rules enforced here (each violation is an Error naming what was wrong, which the
// transport turns into DEVICE_NEEDS_RESET plus a recorded warning):
//   - ring placement: size a power of two <= the maximum, parts aligned and fully inside RAM
//     (checked once, at activation; the host views of the rings are cached until reset);
//   - avail idx never runs more than the queue size ahead of what the device consumed;
//   - head and next indices below the queue size; a chain of more than `size` descriptors
//     (which in a table of `size` entries must revisit one) is a loop;
//   - every buffer fully inside one RAM region; a chain carries at most 4 GiB (used.len is 32-bit);
//   - device-writable buffers come after all device-readable ones;
//   - indirect tables only when VIRTIO_F_INDIRECT_DESC was negotiated, never together with NEXT,
//     never nested, a non-empty multiple of 16 bytes of at most `size` descriptors inside RAM.
//
// Memory ordering (§2.7.13): avail->idx is loaded with acquire before the ring entries and
// descriptors it publishes are read; a used element is written before used->idx is stored with
// release; a full fence separates the used->idx store from reading the driver's
// interrupt-suppression flag, so that a driver that clears the flag and then re-checks the used
// ring cannot miss both the interrupt and the buffer.
//
// Not thread-safe: the transport serializes all access under its lock.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::virtio {

// What the driver programs through the transport's queue registers.
struct QueueConfig {
  uint16_t size = 0;  // QueueNum
  bool ready = false;
  uint64_t desc_addr = 0;
  uint64_t driver_addr = 0;  // the avail ring
  uint64_t device_addr = 0;  // the used ring
};

// One guest buffer, already checked to lie inside guest RAM.
struct Segment {
  uint64_t gpa;
  uint32_t len;
};

// A validated descriptor chain. Reused across pop() calls so the hot path does not allocate.
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<Segment> readable;  // device-readable buffers, in chain order
  std::vector<Segment> writable;  // device-writable buffers, in chain order
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;

  void clear();
};

class Virtqueue {
 public:
  explicit Virtqueue(uint16_t max_size);

  uint16_t max_size() const { return max_size_; }
  QueueConfig& config() { return config_; }
  const QueueConfig& config() const { return config_; }

  // Checks the programmed ring placement against guest RAM and caches host views of the rings.
  // `next_avail`/`used` are where the device continues (0 after a reset; saved values on restore).
  Status activate(const GuestMemory& mem, bool indirect_desc, uint16_t next_avail = 0,
                  uint16_t used = 0);
  bool active() const { return active_; }
  // Back to the power-on state: not ready, not active, size = max, addresses 0.
  void reset();

  // Pops the next available chain into `chain`. False when the driver has published nothing new.
  Result<bool> pop(DescriptorChain& chain);
  // Publishes a used element (head, bytes written into the writable buffers).
  void push_used(uint16_t head, uint32_t len);
  // After push_used(): whether the driver wants an interrupt (it may suppress them, §2.7.7).
  bool driver_wants_interrupt() const;

  uint16_t next_avail() const { return next_avail_; }
  uint16_t used_idx() const { return used_idx_; }

  // The placement checks activate() applies, without activating (restore uses them).
  static Status check_placement(const GuestMemory& mem, const QueueConfig& config,
                                uint16_t max_size);

 private:
  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };
  static_assert(sizeof(Desc) == 16);

  Desc read_desc(std::span<const uint8_t> table, uint32_t index) const;
  Status walk(uint16_t head, DescriptorChain& chain) const;
  Status walk_indirect(const Desc& indirect, uint32_t where, DescriptorChain& chain) const;
  Status add_segment(const Desc& d, uint32_t where, bool in_indirect, DescriptorChain& chain) const;

  const uint16_t max_size_;
  QueueConfig config_;
  const GuestMemory* mem_ = nullptr;
  bool active_ = false;
  bool indirect_desc_ = false;
  std::span<uint8_t> desc_;
  std::span<uint8_t> avail_;
  std::span<uint8_t> used_;
  uint16_t next_avail_ = 0;  // the device's shadow of how far it consumed the avail ring
  uint16_t used_idx_ = 0;    // the device's shadow of used->idx
};

}  // namespace rrvm::virtio
