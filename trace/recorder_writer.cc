// The recorder's writer thread: rounds that merge the per-thread buffers in stamp order, assign
// sequence numbers, and encode Batch messages into chunks.
#include <capnp/message.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "trace/record_codec.h"
#include "trace/recorder_impl.h"

namespace rrvm::trace::internal {

namespace {

// A batch ends at this many events or record bytes (bounds the ring space a round holds).
constexpr size_t MAX_BATCH_EVENTS = 4096;
constexpr size_t MAX_BATCH_RECORD_BYTES = 256 * 1024;

}  // namespace

void RecorderImpl::writer_main() {
  uint32_t tick_ms = std::clamp<uint32_t>(options_.flush_interval_ms / 4, 1, 5);
  uint64_t flush_ns = uint64_t{options_.flush_interval_ms} * 1'000'000;
  while (!stop_.load(std::memory_order_acquire)) {
    sleep_until_woken_or(tick_ms);
    run_round(false);
    if (writer_->chunk_open() && monotonic_ns() - chunk_started_ns_ >= flush_ns && !error_set_) {
      Status s = writer_->end_chunk();
      if (!s.ok()) set_error(s.error());
    }
  }
  // close() has quiesced every producer: everything published is final.
  run_round(true);
  record_final_drops();
  flush_batch();
  if (!error_set_) {
    RecorderStats st = stats();
    Status s = writer_->finish(events_.load(), st.dropped);
    if (!s.ok()) set_error(s.error());
  }
  chunks_ = writer_->chunks();
  file_bytes_ = writer_->file_bytes();
}

void RecorderImpl::sync_slots() {
  uint64_t version = registry_version_.load(std::memory_order_acquire);
  if (version == slots_version_) return;
  std::lock_guard lock(registry_mutex_);
  for (size_t i = slots_.size(); i < registry_.size(); ++i) {
    Slot slot;
    slot.buf = registry_[i];
    slot.pos = slot.buf->tail();
    slots_.push_back(std::move(slot));
  }
  slots_version_ = registry_version_.load(std::memory_order_relaxed);
}

bool RecorderImpl::any_pending() const {
  for (const auto& s : slots_) {
    if (s.buf->head() != s.pos) return true;
  }
  return false;
}

void RecorderImpl::run_round(bool final) {
  sync_slots();
  if (!final && !any_pending()) return;
  uint64_t limit = std::numeric_limits<uint64_t>::max();
  if (!final) {
    // Order matters: the sample (W) first, then the fence, then the registry and the busy flags.
    // A thread registered after the fence stamps after W.
    uint64_t now = converter_.sample();
    heavy_fence();
    sync_slots();
    limit = watermark(now);
  } else {
    sync_slots();
    for (auto& s : slots_) s.head = s.buf->head();
  }
  merge(limit);
  flush_batch();
}

uint64_t RecorderImpl::watermark(uint64_t now_ticks) {
  uint64_t w = now_ticks;
  for (auto& s : slots_) {
    // busy before head: a thread seen idle has published everything it stamped below now_ticks.
    if (s.buf->busy.load(std::memory_order_acquire) != 0) {
      w = std::min(w, s.buf->last_stamp.load(std::memory_order_relaxed));
    }
    s.head = s.buf->head();
  }
  return w;
}

void RecorderImpl::merge(uint64_t limit) {
  // The front record of each slot below its head (nullptr: none), past any padding.
  std::vector<const RecordHeader*> fronts(slots_.size(), nullptr);
  std::vector<uint64_t> front_end(slots_.size(), 0);
  auto load_front = [&](size_t i) {
    Slot& s = slots_[i];
    uint64_t p = s.pos;
    fronts[i] = nullptr;
    while (p < s.head) {
      const RecordHeader* h = s.buf->record_at(p);
      if (h != nullptr) {
        fronts[i] = h;
        front_end[i] = p;
        return;
      }
      s.pos = p;  // padding is consumed with the records around it
    }
  };
  for (size_t i = 0; i < slots_.size(); ++i) load_front(i);
  while (true) {
    // Smallest stamp first; a thread's stamps never go back (clamped), ties go to the lower index.
    size_t best = slots_.size();
    uint64_t best_stamp = limit;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (fronts[i] == nullptr) continue;
      uint64_t stamp = std::max(fronts[i]->stamp, slots_[i].last_stamp);
      if (stamp < best_stamp) best = i, best_stamp = stamp;
    }
    if (best == slots_.size()) break;
    uint64_t time = converter_.to_ns(best_stamp);
    if (!batch_.empty() && time - batch_.back().time_ns > UINT32_MAX) {
      // Event times are 32-bit deltas within a batch (trace.capnp): start a new one.
      flush_batch();
      for (size_t i = 0; i < slots_.size(); ++i) load_front(i);
    }
    Slot& s = slots_[best];
    const RecordHeader* h = fronts[best];
    batch_.push_back(EventRecord{next_seq_++, time, s.buf->index(), h->span, unpack_record(*h)});
    batch_record_bytes_ += h->size;
    s.last_stamp = best_stamp;
    s.pos = front_end[best];
    // A batch also ends where it would fill the open chunk (record bytes approximate the
    // encoded size), so chunks come out near chunk_bytes rather than one round each.
    if (batch_.size() >= MAX_BATCH_EVENTS || batch_record_bytes_ >= MAX_BATCH_RECORD_BYTES ||
        batch_record_bytes_ + writer_->chunk_raw_bytes() >= options_.chunk_bytes) {
      flush_batch();  // releases ring space: fronts below are re-read
      for (size_t i = 0; i < slots_.size(); ++i) load_front(i);
    } else {
      load_front(best);
    }
  }
}

void RecorderImpl::flush_batch() {
  if (!batch_.empty()) {
    if (error_set_) {
      lost_.fetch_add(batch_.size(), std::memory_order_relaxed);
    } else {
      encode_batch();
    }
    batch_.clear();
    batch_record_bytes_ = 0;
  }
  for (auto& s : slots_) {
    if (s.buf->tail() != s.pos) s.buf->release(s.pos);
  }
}

void RecorderImpl::encode_batch() {
  bool new_chunk = !writer_->chunk_open();
  capnp::MallocMessageBuilder msg(kj::arrayPtr(scratch_.get(), SCRATCH_WORDS));
  auto root = msg.initRoot<schema::Batch>();
  {
    std::lock_guard lock(registry_mutex_);
    unsigned n = 0;
    for (size_t i = 0; i < threads_.size(); ++i) n += new_chunk || thread_dirty_[i];
    auto list = root.initThreads(n);
    unsigned k = 0;
    for (size_t i = 0; i < threads_.size(); ++i) {
      if (new_chunk || thread_dirty_[i]) encode_thread(threads_[i], list[k++]);
      thread_dirty_[i] = false;
    }
  }
  if (new_chunk) {
    chunk_started_ns_ = monotonic_ns();
    auto list = root.initOpenSpans(static_cast<unsigned>(open_spans_.size()));
    unsigned k = 0;
    for (const auto& [id, span] : open_spans_) {
      auto b = list[k++];
      b.setId(id);
      b.setParent(span.parent);
      b.setName(span.name);
      b.setThread(span.thread);
    }
  }
  root.setFirstSeq(batch_.front().seq);
  root.setBaseTimeNs(batch_.front().time_ns);
  auto events = root.initEvents(static_cast<unsigned>(batch_.size()));
  uint64_t previous = batch_.front().time_ns;
  for (size_t i = 0; i < batch_.size(); ++i) {
    // merge() keeps deltas within 32 bits; times never decrease.
    encode_event(batch_[i], static_cast<uint32_t>(batch_[i].time_ns - previous), events[i]);
    previous = batch_[i].time_ns;
    track_spans(batch_[i]);
  }
  Status s = writer_->add_batch(msg, batch_.front().seq, batch_.size(), batch_.front().time_ns,
                                batch_.back().time_ns);
  // The scratch segment must be all zeros for the next message.
  auto segments = msg.getSegmentsForOutput();
  std::memset(scratch_.get(), 0, segments[0].size() * sizeof(capnp::word));
  if (s.ok()) {
    events_.fetch_add(batch_.size(), std::memory_order_relaxed);
    if (writer_->chunk_raw_bytes() >= options_.chunk_bytes) s = writer_->end_chunk();
  } else {
    lost_.fetch_add(batch_.size(), std::memory_order_relaxed);
  }
  if (!s.ok()) set_error(s.error());
  chunks_.store(writer_->chunks(), std::memory_order_relaxed);
  raw_bytes_.store(writer_->raw_bytes(), std::memory_order_relaxed);
  file_bytes_.store(writer_->file_bytes(), std::memory_order_relaxed);
}

void RecorderImpl::track_spans(const EventRecord& e) {
  if (const auto* begin = std::get_if<SpanBegin>(&e.body)) {
    open_spans_[e.span] = OpenSpanInfo{begin->parent, std::string(begin->name), e.thread};
  } else if (std::holds_alternative<SpanEnd>(e.body)) {
    open_spans_.erase(e.span);
  }
}

void RecorderImpl::record_final_drops() {
  // Drops a thread had no later event to record with (its buffer was full until the end).
  uint64_t time = batch_.empty() ? converter_.to_ns(converter_.sample()) : batch_.back().time_ns;
  for (auto& s : slots_) {
    uint64_t n = s.buf->pending_drops.exchange(0, std::memory_order_relaxed);
    if (n != 0) batch_.push_back(EventRecord{next_seq_++, time, s.buf->index(), 0, Dropped{n}});
  }
}

}  // namespace rrvm::trace::internal
