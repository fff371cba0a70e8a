// A per-thread single-producer/single-consumer byte ring: the emitting thread appends compact
// records, the recorder's writer thread consumes them. Nothing here is shared between emitting
// threads, so the append path takes no lock and touches no cache line another emitter writes.
//
// Records are contiguous and 8-byte aligned. When a record does not fit before the end of the
// ring, the producer skips to the start: it writes a PAD record over the remainder (or leaves a
// remainder shorter than a record header, which the consumer skips as well).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "trace/clock.h"
#include "trace/span.h"

namespace rrvm::trace::internal {

struct RecordHeader {
  uint64_t stamp;  // ticks (clock.h), stamped on the emitting thread
  SpanId span;     // the event's span field
  uint32_t size;   // bytes of the whole record, header included, a multiple of 8
  uint16_t type;   // EventType, or RECORD_PAD
  uint16_t reserved;
};
static_assert(sizeof(RecordHeader) == 24);
inline constexpr uint16_t RECORD_PAD = 0xffff;

inline constexpr size_t align8(size_t n) { return (n + 7) & ~size_t{7}; }

class ThreadBuffer {
 public:
  // capacity_bytes is rounded up to a power of two (at least 4 KiB).
  ThreadBuffer(size_t capacity_bytes, uint16_t index, void* owner, uint64_t recorder_id,
               TickSource ticks);
  ThreadBuffer(const ThreadBuffer&) = delete;
  ThreadBuffer& operator=(const ThreadBuffer&) = delete;

  uint16_t index() const { return index_; }
  // The recorder. Emitting code may only use it while busy with accepting == true (see emit.cc).
  void* owner() const { return owner_; }
  // Unique per recorder for the life of the process (an address can be reused, this cannot).
  uint64_t recorder_id() const { return recorder_id_; }
  TickSource ticks() const { return ticks_; }
  size_t capacity() const { return capacity_; }

  // --- producer (the owning thread) -----------------------------------------------------------
  // Space for `bytes` contiguous bytes (a multiple of 8), or nullptr when the ring is full. A
  // record larger than half the ring is always refused (it could wait forever for space).
  uint8_t* reserve(size_t bytes) {
    uint64_t head = reserved_head_;
    size_t pos = head & (capacity_ - 1);
    if (bytes <= capacity_ / 2 && bytes <= capacity_ - pos &&
        head + bytes - tail_cache_ <= capacity_) [[likely]] {
      reserved_head_ = head + bytes;
      return data_.get() + pos;
    }
    return reserve_slow(bytes);
  }
  // Publishes the records reserved since the last commit.
  void commit() { head_.store(reserved_head_, std::memory_order_release); }
  // More than half the ring is unconsumed (refreshes the cached tail when it looks so).
  bool over_half() {
    if (reserved_head_ - tail_cache_ <= capacity_ / 2) return false;
    tail_cache_ = tail_.load(std::memory_order_acquire);
    return reserved_head_ - tail_cache_ > capacity_ / 2;
  }
  uint64_t next_span_id() { return (static_cast<uint64_t>(index_) + 1) << 40 | ++span_counter_; }

  // --- consumer (the writer thread) -----------------------------------------------------------
  uint64_t head() const { return head_.load(std::memory_order_acquire); }
  uint64_t tail() const { return tail_.load(std::memory_order_relaxed); }
  // The record at byte position `pos` (tail <= pos < head); advances pos past it. Returns nullptr
  // (after moving pos) for padding and for the unused end of the ring before a wrap.
  const RecordHeader* record_at(uint64_t& pos) const;
  void release(uint64_t pos) { tail_.store(pos, std::memory_order_release); }

  void free_storage();  // after close, once no producer can touch the ring

 private:
  uint8_t* reserve_slow(size_t bytes);

  // Read-mostly line: the producer reads these on every append.
  alignas(64) const uint16_t index_;
  void* const owner_;
  const uint64_t recorder_id_;
  const TickSource ticks_;
  size_t capacity_;
  std::unique_ptr<uint8_t[]> data_;

 public:
  std::atomic<bool> accepting{true};  // false once the recorder closes
  std::atomic<bool> retired{false};   // the owning thread exited

  // Producer line (the writer reads it).
  // Set (plain store + light_fence) before stamping an event, cleared after publishing it: while
  // set, the writer commits nothing stamped after this thread's last published record.
  alignas(64) std::atomic<uint32_t> busy{0};
  // The stamp of the event being emitted or last emitted (stored right after stamping). A thread
  // caught busy cannot publish anything stamped below it.
  std::atomic<uint64_t> last_stamp{0};
  // Events this thread lost to a full buffer and has not yet recorded as a Dropped record.
  std::atomic<uint64_t> pending_drops{0};
  // Every event this thread lost (full buffer, or emitted after the recorder closed).
  std::atomic<uint64_t> dropped_total{0};

 private:
  std::atomic<uint64_t> head_{0};
  uint64_t reserved_head_ = 0;
  uint64_t tail_cache_ = 0;
  uint64_t span_counter_ = 0;
  // Consumer line.
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace rrvm::trace::internal
