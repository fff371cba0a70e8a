#include "vmm/devices/virtio/virtqueue.h"

#include <fmt/format.h>

#include <atomic>
#include <bit>
#include <cstring>
#include <limits>

#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {

// Ring fields are little-endian (§2.4); rrvm runs on x86-64 hosts only.
static_assert(std::endian::native == std::endian::little);

namespace {

// The 16-bit ring fields (avail->flags/idx, used->idx) are shared with the guest's vCPUs, so they
// are accessed atomically. Alignment is guaranteed: the ring bases are checked to be 2- and
// 4-byte aligned in guest-physical space and guest RAM is page-aligned on the host.
uint16_t load_u16(const uint8_t* p, std::memory_order order) {
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(p)))
      .load(order);
}

void store_u16(uint8_t* p, uint16_t v, std::memory_order order) {
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, order);
}

Status check_part(const GuestMemory& mem, const char* what, uint64_t gpa, uint64_t bytes,
                  uint64_t align) {
  if (gpa % align != 0) {
    return make_error(fmt::format("{} at 0x{:x} is not {}-byte aligned", what, gpa, align));
  }
  if (!mem.contains(gpa, bytes)) {
    return make_error(fmt::format("{} 0x{:x}+0x{:x} is outside guest RAM", what, gpa, bytes));
  }
  return ok_status();
}

}  // namespace

void DescriptorChain::clear() {
  head = 0;
  readable.clear();
  writable.clear();
  readable_bytes = 0;
  writable_bytes = 0;
}

Virtqueue::Virtqueue(uint16_t max_size) : max_size_(max_size) {
  RRVM_CHECK(max_size > 0 && std::has_single_bit(max_size) && max_size <= MAX_QUEUE_SIZE);
  reset();
}

void Virtqueue::reset() {
  config_ = QueueConfig{};
  config_.size = max_size_;
  mem_ = nullptr;
  active_ = false;
  indirect_desc_ = false;
  desc_ = avail_ = used_ = {};
  next_avail_ = used_idx_ = 0;
}

Status Virtqueue::check_placement(const GuestMemory& mem, const QueueConfig& c, uint16_t max_size) {
  if (c.size == 0 || !std::has_single_bit(c.size) || c.size > max_size) {
    return make_error(
        fmt::format("queue size {} is not a power of two between 1 and {}", c.size, max_size));
  }
  RRVM_TRY(check_part(mem, "descriptor table", c.desc_addr, desc_table_bytes(c.size), DESC_ALIGN));
  RRVM_TRY(check_part(mem, "avail ring", c.driver_addr, avail_ring_bytes(c.size), AVAIL_ALIGN));
  RRVM_TRY(check_part(mem, "used ring", c.device_addr, used_ring_bytes(c.size), USED_ALIGN));
  return ok_status();
}

Status Virtqueue::activate(const GuestMemory& mem, bool indirect_desc, uint16_t next_avail,
                           uint16_t used) {
  RRVM_TRY(check_placement(mem, config_, max_size_));
  // The checks above guarantee these slices succeed.
  desc_ = mem.slice(config_.desc_addr, desc_table_bytes(config_.size)).value();
  avail_ = mem.slice(config_.driver_addr, avail_ring_bytes(config_.size)).value();
  used_ = mem.slice(config_.device_addr, used_ring_bytes(config_.size)).value();
  mem_ = &mem;
  indirect_desc_ = indirect_desc;
  next_avail_ = next_avail;
  used_idx_ = used;
  active_ = true;
  return ok_status();
}

Virtqueue::Desc Virtqueue::read_desc(std::span<const uint8_t> table, uint32_t index) const {
  RRVM_CHECK(uint64_t{index} * DESC_SIZE + DESC_SIZE <= table.size());
  Desc d;
  std::memcpy(&d, table.data() + uint64_t{index} * DESC_SIZE, sizeof d);
  return d;
}

Result<bool> Virtqueue::pop(DescriptorChain& chain) {
  RRVM_CHECK(active_);
  // Acquire: the ring entries and descriptors published before avail->idx are visible after it.
  uint16_t avail_idx = load_u16(avail_.data() + 2, std::memory_order_acquire);
  uint16_t pending = static_cast<uint16_t>(avail_idx - next_avail_);
  if (pending == 0) return false;
  if (pending > config_.size) {
    return make_error(
        fmt::format("avail idx jumped from {} to {}: {} buffers pending in a queue of {}",
                    next_avail_, avail_idx, pending, config_.size));
  }
  uint16_t head;
  std::memcpy(&head, avail_.data() + 4 + 2u * (next_avail_ % config_.size), sizeof head);
  if (head >= config_.size) {
    return make_error(
        fmt::format("avail ring entry {} names head descriptor {}, beyond the queue "
                    "size {}",
                    next_avail_ % config_.size, head, config_.size));
  }
  chain.clear();
  chain.head = head;
  RRVM_TRY(walk(head, chain));
  ++next_avail_;
  return true;
}

Status Virtqueue::walk(uint16_t head, DescriptorChain& chain) const {
  uint32_t index = head;
  for (uint32_t count = 1;; ++count) {
    Desc d = read_desc(desc_, index);
    if (d.flags & DESC_F_INDIRECT) {
      if (!indirect_desc_) {
        return make_error(
            fmt::format("descriptor {} is INDIRECT but VIRTIO_F_INDIRECT_DESC was "
                        "not negotiated",
                        index));
      }
      if (d.flags & DESC_F_NEXT) {
        return make_error(fmt::format("descriptor {} has both INDIRECT and NEXT", index));
      }
      return walk_indirect(d, index, chain);
    }
    RRVM_TRY(add_segment(d, index, false, chain));
    if (!(d.flags & DESC_F_NEXT)) return ok_status();
    if (d.next >= config_.size) {
      return make_error(
          fmt::format("descriptor {} links to descriptor {}, beyond the queue size {}", index,
                      d.next, config_.size));
    }
    if (count >= config_.size) {
      // `size` descriptors followed and there is still a next: one of them was visited twice.
      return make_error(
          fmt::format("descriptor chain from head {} loops (more than {} "
                      "descriptors, seen again at descriptor {})",
                      head, config_.size, d.next));
    }
    index = d.next;
  }
}

Status Virtqueue::walk_indirect(const Desc& indirect, uint32_t where,
                                DescriptorChain& chain) const {
  if (indirect.len == 0 || indirect.len % DESC_SIZE != 0) {
    return make_error(
        fmt::format("descriptor {}: indirect table of {} bytes is not a non-empty "
                    "multiple of 16",
                    where, indirect.len));
  }
  uint32_t entries = indirect.len / DESC_SIZE;
  if (entries > config_.size) {
    return make_error(
        fmt::format("descriptor {}: indirect table has {} descriptors, more than the "
                    "queue size {}",
                    where, entries, config_.size));
  }
  auto table = mem_->slice(indirect.addr, indirect.len);
  if (!table.ok()) {
    return make_error(
        fmt::format("descriptor {}: indirect table 0x{:x}+0x{:x} is outside guest "
                    "RAM",
                    where, indirect.addr, indirect.len));
  }
  uint32_t index = 0;
  for (uint32_t count = 1;; ++count) {
    Desc d = read_desc(*table, index);
    if (d.flags & DESC_F_INDIRECT) {
      return make_error(
          fmt::format("descriptor {}: indirect table entry {} is itself INDIRECT "
                      "(nested tables are not allowed)",
                      where, index));
    }
    RRVM_TRY(add_segment(d, index, true, chain));
    if (!(d.flags & DESC_F_NEXT)) return ok_status();
    if (d.next >= entries) {
      return make_error(
          fmt::format("descriptor {}: indirect entry {} links to entry {}, beyond "
                      "the table's {} entries",
                      where, index, d.next, entries));
    }
    if (count >= entries) {
      return make_error(
          fmt::format("descriptor {}: indirect chain loops (more than {} entries, "
                      "seen again at entry {})",
                      where, entries, d.next));
    }
    index = d.next;
  }
}

Status Virtqueue::add_segment(const Desc& d, uint32_t where, bool in_indirect,
                              DescriptorChain& chain) const {
  const char* kind = in_indirect ? "indirect entry" : "descriptor";
  if (!mem_->contains(d.addr, d.len)) {
    return make_error(fmt::format("{} {}: buffer 0x{:x}+0x{:x} is outside guest RAM", kind, where,
                                  d.addr, d.len));
  }
  uint64_t total = chain.readable_bytes + chain.writable_bytes + d.len;
  if (total > std::numeric_limits<uint32_t>::max()) {
    return make_error(
        fmt::format("{} {}: the chain carries {} bytes, more than 4 GiB", kind, where, total));
  }
  if (d.flags & DESC_F_WRITE) {
    chain.writable.push_back(Segment{d.addr, d.len});
    chain.writable_bytes += d.len;
  } else {
    if (!chain.writable.empty()) {
      return make_error(
          fmt::format("{} {}: device-readable buffer after a device-writable one", kind, where));
    }
    chain.readable.push_back(Segment{d.addr, d.len});
    chain.readable_bytes += d.len;
  }
  return ok_status();
}

void Virtqueue::push_used(uint16_t head, uint32_t len) {
  RRVM_CHECK(active_);
  const uint64_t elem_offset = 4 + USED_ELEM_SIZE * (used_idx_ % config_.size);
  uint8_t* elem = used_.data() + elem_offset;
  uint32_t id = head;
  std::memcpy(elem, &id, 4);
  std::memcpy(elem + 4, &len, 4);
  ++used_idx_;
  // Release: the element is visible to the driver before the index that publishes it.
  store_u16(used_.data() + 2, used_idx_, std::memory_order_release);
  // For migration, after the stores (the ring is written through the view cached at activation,
  // which KVM's dirty log does not see). The two may lie on different pages.
  mem_->mark_dirty(config_.device_addr + elem_offset, USED_ELEM_SIZE);
  mem_->mark_dirty(config_.device_addr + 2, 2);
}

bool Virtqueue::driver_wants_interrupt() const {
  RRVM_CHECK(active_);
  // Order the used->idx store before the flags load (a store-load pair needs a full fence).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t flags = load_u16(avail_.data(), std::memory_order_relaxed);
  return (flags & AVAIL_F_NO_INTERRUPT) == 0;
}

}  // namespace rrvm::virtio
