// Reading a trace: header, chunk list, and a streaming iterator over events in sequence order.
//
//   RRVM_ASSIGN_OR_RETURN(auto reader, trace::Reader::open("run.rrtrace"));
//   while (true) {
//     RRVM_ASSIGN_OR_RETURN(const trace::EventRecord* e, reader->next());
//     if (e == nullptr) break;                 // the end (see truncation())
//     ...reader->thread(e->thread), reader->backtrace(e->span)...
//   }
//
// Memory stays bounded whatever the file holds: one decompressed chunk at a time (capped), Cap'n
// Proto traversal limits, a bounded table of ended spans. Every error names the file, and for
// chunk contents the chunk and its offset; Cap'n Proto exceptions never escape.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace/capnp_codec.h"
#include "trace/event_record.h"
#include "trace/trace_file.h"
#include "vmm/base/result.h"

namespace rrvm::trace {

struct ReaderOptions {
  size_t max_chunk_bytes = 64u << 20;  // a chunk decompressing to more is refused
  size_t max_ended_spans = 1u << 16;   // ended spans kept for the backtraces of later events
  size_t max_spans = 1u << 20;         // spans tracked at all (a hostile trace may never end any)
};

// One frame of a backtrace.
struct SpanFrame {
  SpanId id = 0;
  std::string name;  // empty when the span's begin is not in the part of the trace read
  uint16_t thread = 0;
  bool known = false;
};

class Reader {
 public:
  static Result<std::unique_ptr<Reader>> open(const std::string& path,
                                              const ReaderOptions& options = {});
  ~Reader();

  const std::string& path() const;
  const TraceHeader& header() const { return header_; }
  const std::vector<ChunkInfo>& chunks() const;
  // Present when the recorder closed the trace (footer and index valid).
  const std::optional<FooterInfo>& footer() const;
  bool complete() const { return footer().has_value(); }

  // The next event in sequence order; nullptr at the end. An Error (corrupt chunk) ends the
  // iteration: events before it were good.
  Result<const EventRecord*> next();
  // After next() returned nullptr for a trace without a footer: "PATH: truncated after event N
  // (why)". Empty for a complete trace.
  const std::string& truncation() const { return truncation_; }

  // Jumps through the index: next() continues with the first event of `chunk`...
  Status seek_chunk(size_t chunk);
  // ...or with the first event whose seq (or time, CLOCK_MONOTONIC ns) is >= the given value.
  Status seek_seq(uint64_t seq);
  Status seek_time(uint64_t time_ns);

  // The thread table as read so far (complete from a chunk's first batch on).
  const ThreadInfo* thread(uint16_t id) const;
  std::string thread_name(uint16_t id) const;  // "vcpu0", or "thread#5" when undeclared
  // The span chain above `span`, innermost first.
  std::vector<SpanFrame> backtrace(SpanId span) const;

  // The chunk holding the event next() returned last, and that event's Cap'n Proto size in bytes.
  size_t current_chunk() const { return chunk_; }
  uint64_t current_chunk_raw_bytes() const;
  Result<uint64_t> current_event_raw_bytes() const;
  // Events read so far and the seq of the last one.
  uint64_t events_read() const { return events_read_; }

 private:
  struct SpanInfo {
    SpanId parent;
    std::string name;
    uint16_t thread;
  };
  struct Batches;

  Reader(std::unique_ptr<internal::TraceFile> file, const ReaderOptions& options);
  Status load_chunk(size_t chunk);
  Status read_header();
  Result<bool> next_batch();  // false: the chunk has no more batches
  void apply_batch_tables(bool chunk_start);
  void track_span(const EventRecord& e);
  Result<const EventRecord*> next_unchecked();
  Status seek_where(bool (*pred)(const EventRecord&, uint64_t), uint64_t value, size_t chunk);

  std::unique_ptr<internal::TraceFile> file_;
  ReaderOptions options_;
  TraceHeader header_;
  std::unique_ptr<Batches> batches_;  // decompressed chunk and the current batch
  size_t chunk_ = 0;
  bool chunk_loaded_ = false;
  bool at_end_ = false;
  EventRecord record_;
  internal::DecodeScratch scratch_;
  std::optional<Error> failed_;  // a corrupt chunk ends the iteration for good
  uint64_t events_read_ = 0;
  std::optional<uint64_t> last_seq_;
  bool have_peeked_ = false;  // after a seek: record_ is the next event to return
  std::vector<ThreadInfo> threads_;
  std::unordered_map<SpanId, SpanInfo> spans_;
  std::deque<SpanId> ended_spans_;  // oldest first; trimmed to max_ended_spans
  std::string truncation_;
};

}  // namespace rrvm::trace
