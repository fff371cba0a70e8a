// The recorder: per-thread buffers in, one trace file out.
//
// Emitting threads append compact records to their own ThreadBuffer (emit.cc). The writer thread
// runs rounds: it takes a clock sample W, issues the heavy fence, and merges every buffer's records
// stamped before min(W, last stamp of each thread caught mid-emit) in stamp order, assigning
// sequence numbers as it goes. Nothing stamped below that watermark can still appear later, so
// the sequence is a total order consistent with each thread's program order and with every
// happens-before edge between threads (docs/trace-format.md, "Ordering"). Merged events are
// encoded as Batch messages into zstd chunks by the ChunkWriter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <capnp/common.h>

#include "trace/capnp_codec.h"
#include "trace/chunk_writer.h"
#include "trace/clock.h"
#include "trace/event_record.h"
#include "trace/recorder.h"
#include "trace/thread_buffer.h"

namespace rrvm::trace::internal {

struct ThreadIdentity {
  std::string name;
  int32_t vcpu = -1;
  int32_t tid = 0;
};

class RecorderImpl final : public Recorder {
 public:
  static Result<std::unique_ptr<RecorderImpl>> create(const RecorderOptions& options,
                                                      const Header& header);
  ~RecorderImpl() override;

  Status close() override;
  RecorderStats stats() const override;
  const std::string& path() const override { return options_.path; }
  uint64_t id() const { return id_; }

  // --- called by emitting threads (slow path) ---------------------------------------------------
  // A new buffer for the calling thread, or nullptr once the recorder is closing.
  std::shared_ptr<ThreadBuffer> register_thread(const ThreadIdentity& identity);
  void set_identity(uint16_t index, const ThreadIdentity& identity);
  // A buffer is more than half full: run a round now instead of at the next tick.
  void wake_writer();
  // Counts an event lost because the recorder refused a new thread (closing, or too many threads).
  void count_unattached_drop() { unattached_drops_.fetch_add(1, std::memory_order_relaxed); }

 private:
  // The writer's view of one thread buffer.
  struct Slot {
    std::shared_ptr<ThreadBuffer> buf;
    uint64_t pos = 0;         // first record not yet merged
    uint64_t head = 0;        // end of the records published when this round started
    uint64_t last_stamp = 0;  // of the last merged record: the thread's stamps never go back
  };
  struct OpenSpanInfo {
    SpanId parent;
    std::string name;
    uint16_t thread;
  };

  RecorderImpl(const RecorderOptions& options, std::unique_ptr<ChunkWriter> writer,
               TickSource ticks);
  Status write_header_chunk(const Header& header);
  void writer_main();
  void sleep_until_woken_or(uint32_t ms);
  void sync_slots();
  void run_round(bool final);
  bool any_pending() const;
  uint64_t watermark(uint64_t now_ticks);
  void merge(uint64_t watermark);
  void flush_batch();
  void encode_batch();
  void track_spans(const EventRecord& e);
  void record_final_drops();
  void quiesce_producers();
  void set_error(const Error& e);

  const uint64_t id_;  // never 0, never reused
  RecorderOptions options_;
  std::unique_ptr<ChunkWriter> writer_;
  TickSource ticks_;
  TickConverter converter_;  // writer thread only (after the constructor)

  // Registry of buffers and thread identities; shared with emitting threads' slow paths.
  mutable std::mutex registry_mutex_;
  std::vector<std::shared_ptr<ThreadBuffer>> registry_;
  std::vector<ThreadInfo> threads_;
  std::vector<bool> thread_dirty_;  // identity changed since the last batch
  std::atomic<uint64_t> registry_version_{0};
  bool closing_ = false;  // under registry_mutex_

  // Writer-thread state.
  std::vector<Slot> slots_;
  uint64_t slots_version_ = ~uint64_t{0};
  std::vector<EventRecord> batch_;
  size_t batch_record_bytes_ = 0;
  // The zeroed first segment of each Batch message, zeroed again after use (capnp::word is not
  // copyable: no vector).
  static constexpr size_t SCRATCH_WORDS = 64 * 1024;
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<capnp::word[], FreeDeleter> scratch_;
  std::unordered_map<SpanId, OpenSpanInfo> open_spans_;
  uint64_t next_seq_ = 0;
  uint64_t chunk_started_ns_ = 0;
  bool error_set_ = false;
  Error error_;  // the first write error; later events are counted as lost

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> wake_word_{0};
  std::atomic<bool> writer_sleeping_{false};
  std::mutex close_mutex_;
  bool closed_ = false;
  Status close_status_;

  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> lost_{0};  // merged but not written (after a write error)
  std::atomic<uint64_t> unattached_drops_{0};
  std::atomic<uint64_t> chunks_{0};
  std::atomic<uint64_t> raw_bytes_{0};
  std::atomic<uint64_t> file_bytes_{0};
};

}  // namespace rrvm::trace::internal
