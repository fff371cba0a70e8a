#include "trace/thread_buffer.h"

#include <bit>

#include "vmm/base/check.h"

namespace rrvm::trace::internal {

ThreadBuffer::ThreadBuffer(size_t capacity_bytes, uint16_t index, void* owner, uint64_t recorder_id,
                           TickSource ticks)
    : index_(index),
      owner_(owner),
      recorder_id_(recorder_id),
      ticks_(ticks),
      capacity_(std::bit_ceil(capacity_bytes < 4096 ? size_t{4096} : capacity_bytes)),
      // Not zeroed: the pages are mapped as the ring first fills. Touching all of them here cost
      // ~1200 page faults (~20 ms on this nested host) per VM start for rings a boot barely uses.
      data_(new uint8_t[capacity_]) {}

// The rest of reserve(): a stale cached tail, a wrap, or no space.
uint8_t* ThreadBuffer::reserve_slow(size_t bytes) {
  RRVM_CHECK(bytes % 8 == 0 && bytes >= sizeof(RecordHeader));
  // A record larger than half the ring could wait forever for contiguous space.
  if (bytes > capacity_ / 2) return nullptr;
  uint64_t head = reserved_head_;
  size_t pos = head & (capacity_ - 1);
  size_t to_end = capacity_ - pos;
  size_t need = bytes <= to_end ? bytes : to_end + bytes;
  if (head + need - tail_cache_ > capacity_) {
    // Acquire: the writer has finished reading the space it released.
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (head + need - tail_cache_ > capacity_) return nullptr;
  }
  if (bytes > to_end) {
    // Skip to the start of the ring; the consumer skips the same remainder (record_at()).
    if (to_end >= sizeof(RecordHeader)) {
      auto* pad = reinterpret_cast<RecordHeader*>(data_.get() + pos);
      pad->size = static_cast<uint32_t>(to_end);
      pad->type = RECORD_PAD;
    }
    head += to_end;
    pos = 0;
  }
  reserved_head_ = head + bytes;
  return data_.get() + pos;
}

const RecordHeader* ThreadBuffer::record_at(uint64_t& pos) const {
  size_t off = pos & (capacity_ - 1);
  size_t to_end = capacity_ - off;
  if (to_end < sizeof(RecordHeader)) {
    pos += to_end;
    return nullptr;
  }
  const auto* h = reinterpret_cast<const RecordHeader*>(data_.get() + off);
  RRVM_CHECK(h->size >= (h->type == RECORD_PAD ? 8u : sizeof(RecordHeader)) && h->size % 8 == 0 &&
             h->size <= to_end);
  pos += h->size;
  return h->type == RECORD_PAD ? nullptr : h;
}

void ThreadBuffer::free_storage() {
  data_.reset();
  capacity_ = 0;
}

}  // namespace rrvm::trace::internal
