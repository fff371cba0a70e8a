#include "trace/reader.h"

#include <capnp/serialize.h>
#include <kj/exception.h>

#include "trace/chunk_decompressor.h"
#include "trace/file_format.h"

namespace rrvm::trace {
namespace {

// Names kept in the thread and span tables are cut here (the tables outlive chunks).
constexpr size_t MAX_NAME = 256;
// Deeper span chains are cut (a hostile trace can make a cycle).
constexpr size_t MAX_BACKTRACE = 256;

std::string bounded(std::string_view s) { return std::string(s.substr(0, MAX_NAME)); }

}  // namespace

// The decompressed current chunk and the Batch being iterated.
struct Reader::Batches {
  internal::ChunkDecompressor decompressor;
  std::span<const capnp::word> words;
  size_t pos = 0;  // words consumed by the batches read so far
  bool first = true;
  std::optional<capnp::FlatArrayMessageReader> msg;
  schema::Event::Reader event;  // the event next() returned last (when has_event)
  bool has_event = false;
  schema::Batch::Reader batch;
  capnp::List<schema::Event>::Reader events;
  unsigned index = 0;
  uint64_t first_seq = 0;
  uint64_t time_ns = 0;  // of the event returned last (the batch's base time before the first)
  bool has_batch = false;
};

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path,
                                             const ReaderOptions& options) {
  RRVM_ASSIGN_OR_RETURN(auto file, internal::TraceFile::open(path));
  std::unique_ptr<Reader> reader(new Reader(std::move(file), options));
  RRVM_TRY(reader->read_header());
  return reader;
}

Reader::Reader(std::unique_ptr<internal::TraceFile> file, const ReaderOptions& options)
    : file_(std::move(file)), options_(options), batches_(std::make_unique<Batches>()) {}

Reader::~Reader() = default;

const std::string& Reader::path() const { return file_->path(); }
const std::vector<ChunkInfo>& Reader::chunks() const { return file_->chunks(); }
const std::optional<FooterInfo>& Reader::footer() const { return file_->footer(); }

Status Reader::read_header() {
  RRVM_TRY(load_chunk(0));
  try {
    RRVM_ASSIGN_OR_RETURN(bool have, next_batch());
    if (!have || !batches_->batch.hasHeader()) return file_->chunk_error(0, "no trace header");
    header_ = internal::decode_header(batches_->batch.getHeader());
  } catch (const kj::Exception& e) {
    return file_->chunk_error(0, "malformed header: " + std::string(e.getDescription().cStr()));
  }
  if (header_.format_version != file_->version()) {
    return file_->chunk_error(
        0, "header says format version " + std::to_string(header_.format_version) +
               " but the file's magic says " + std::to_string(file_->version()));
  }
  return ok_status();
}

Status Reader::load_chunk(size_t chunk) {
  const ChunkInfo& c = file_->chunks()[chunk];
  auto words =
      batches_->decompressor.decompress(file_->bytes(c.offset, c.size), options_.max_chunk_bytes);
  if (!words.ok()) return file_->chunk_error(chunk, words.error().message);
  if (c.has_counts && words->size() * sizeof(capnp::word) != c.raw_bytes) {
    return file_->chunk_error(chunk, "decompressed to " +
                                         std::to_string(words->size() * sizeof(capnp::word)) +
                                         " bytes, the index says " + std::to_string(c.raw_bytes));
  }
  Batches& b = *batches_;
  b.has_event = false;
  b.msg.reset();
  b.words = *words;
  b.pos = 0;
  b.first = true;
  b.has_batch = false;
  chunk_ = chunk;
  chunk_loaded_ = true;
  return ok_status();
}

Result<bool> Reader::next_batch() {
  Batches& b = *batches_;
  b.has_batch = false;
  if (b.pos >= b.words.size()) return false;
  auto rest = b.words.subspan(b.pos);
  capnp::ReaderOptions ro;
  // Bounds the work a hostile message can cause (pointers aliasing one big list).
  ro.traversalLimitInWords = rest.size() * 4 + 1024;
  ro.nestingLimit = 16;
  b.has_event = false;
  b.msg.emplace(kj::ArrayPtr<const capnp::word>(rest.data(), rest.size()), ro);
  b.batch = b.msg->getRoot<schema::Batch>();
  b.pos = static_cast<size_t>(b.msg->getEnd() - b.words.data());
  b.events = b.batch.getEvents();
  b.index = 0;
  b.first_seq = b.batch.getFirstSeq();
  b.time_ns = b.batch.getBaseTimeNs();
  b.has_batch = true;
  apply_batch_tables(b.first);
  b.first = false;
  return true;
}

void Reader::apply_batch_tables(bool chunk_start) {
  for (auto t : batches_->batch.getThreads()) {
    ThreadInfo info = internal::decode_thread(t);
    info.name = bounded(info.name);
    if (info.id >= threads_.size()) threads_.resize(info.id + 1);
    threads_[info.id] = std::move(info);
  }
  if (!chunk_start) return;
  for (auto s : batches_->batch.getOpenSpans()) {
    if (spans_.size() >= options_.max_spans) break;
    auto name = s.getName();
    spans_.try_emplace(s.getId(),
                       SpanInfo{s.getParent(), bounded({name.cStr(), name.size()}), s.getThread()});
  }
}

Result<const EventRecord*> Reader::next() {
  if (failed_) return *failed_;
  if (have_peeked_) {
    have_peeked_ = false;
    return &record_;
  }
  try {
    auto r = next_unchecked();
    if (!r.ok()) failed_ = r.error();
    return r;
  } catch (const kj::Exception& e) {
    failed_ = file_->chunk_error(
        chunk_, "malformed Cap'n Proto data: " + std::string(e.getDescription().cStr()));
    return *failed_;
  }
}

Result<const EventRecord*> Reader::next_unchecked() {
  const auto& chunks = file_->chunks();
  while (!at_end_) {
    if (!chunk_loaded_) {
      if (chunk_ + 1 >= chunks.size()) {
        at_end_ = true;
        break;
      }
      RRVM_TRY(load_chunk(chunk_ + 1));
    }
    Batches& b = *batches_;
    if (b.has_batch && b.index < b.events.size()) {
      if (b.index == 0 && b.first_seq > UINT64_MAX - b.events.size()) {
        return file_->chunk_error(chunk_,
                                  "batch first seq " + std::to_string(b.first_seq) + " overflows");
      }
      if (b.index == 0 && last_seq_ && b.first_seq <= *last_seq_) {
        return file_->chunk_error(chunk_, "events from seq " + std::to_string(b.first_seq) +
                                              " follow seq " + std::to_string(*last_seq_) +
                                              " (out of order)");
      }
      b.event = b.events[b.index];
      b.has_event = true;
      internal::decode_event(b.event, record_, &scratch_);
      record_.seq = b.first_seq + b.index++;
      b.time_ns += b.event.getTimeDeltaNs();
      record_.time_ns = b.time_ns;
      last_seq_ = record_.seq;
      ++events_read_;
      track_span(record_);
      return &record_;
    }
    RRVM_ASSIGN_OR_RETURN(bool more, next_batch());
    if (!more) chunk_loaded_ = false;
  }
  if (!complete() && truncation_.empty()) {
    truncation_ = path() + ": truncated " +
                  (last_seq_ ? "after event " + std::to_string(*last_seq_)
                             : std::string("before the first event")) +
                  " (" + file_->truncation_detail() + ")";
  }
  return nullptr;
}

uint64_t Reader::current_chunk_raw_bytes() const {
  return batches_->words.size() * sizeof(capnp::word);
}

Result<uint64_t> Reader::current_event_raw_bytes() const {
  if (!batches_->has_event) return uint64_t{0};
  try {
    return batches_->event.totalSize().wordCount * sizeof(capnp::word);
  } catch (const kj::Exception& e) {
    return file_->chunk_error(
        chunk_, "malformed Cap'n Proto data: " + std::string(e.getDescription().cStr()));
  }
}

void Reader::track_span(const EventRecord& e) {
  if (const auto* begin = std::get_if<SpanBegin>(&e.body)) {
    if (spans_.size() < options_.max_spans) {
      spans_.try_emplace(e.span, SpanInfo{begin->parent, bounded(begin->name), e.thread});
    }
  } else if (std::holds_alternative<SpanEnd>(e.body)) {
    // Kept for a while: work handed to another thread may name it as parent after it ended.
    if (spans_.count(e.span) == 0) return;
    ended_spans_.push_back(e.span);
    if (ended_spans_.size() > options_.max_ended_spans) {
      spans_.erase(ended_spans_.front());
      ended_spans_.pop_front();
    }
  }
}

Status Reader::seek_chunk(size_t chunk) {
  if (chunk >= file_->chunks().size()) {
    return file_->error("no chunk " + std::to_string(chunk) + " (the trace has " +
                        std::to_string(file_->chunks().size()) + ")");
  }
  spans_.clear();
  ended_spans_.clear();
  failed_.reset();
  at_end_ = false;
  have_peeked_ = false;
  last_seq_.reset();
  truncation_.clear();
  chunk_loaded_ = false;
  RRVM_TRY(load_chunk(chunk));
  return ok_status();
}

Status Reader::seek_where(bool (*pred)(const EventRecord&, uint64_t), uint64_t value,
                          size_t chunk) {
  RRVM_TRY(seek_chunk(chunk));
  while (true) {
    RRVM_ASSIGN_OR_RETURN(const EventRecord* e, next());
    if (e == nullptr) return ok_status();
    if (pred(*e, value)) {
      have_peeked_ = true;
      return ok_status();
    }
  }
}

Status Reader::seek_seq(uint64_t seq) {
  // The last chunk that starts at or before seq (chunk 0 when the index gives no counts).
  size_t start = 0;
  const auto& chunks = file_->chunks();
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].has_counts && chunks[i].events != 0 && chunks[i].first_seq <= seq) start = i;
  }
  return seek_where([](const EventRecord& e, uint64_t v) { return e.seq >= v; }, seq, start);
}

Status Reader::seek_time(uint64_t time_ns) {
  size_t start = 0;
  const auto& chunks = file_->chunks();
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].has_counts && chunks[i].events != 0 && chunks[i].first_time_ns <= time_ns) {
      start = i;
    }
  }
  return seek_where([](const EventRecord& e, uint64_t v) { return e.time_ns >= v; }, time_ns,
                    start);
}

const ThreadInfo* Reader::thread(uint16_t id) const {
  return id < threads_.size() && !threads_[id].name.empty() ? &threads_[id] : nullptr;
}

std::string Reader::thread_name(uint16_t id) const {
  const ThreadInfo* t = thread(id);
  return t != nullptr ? t->name : "thread#" + std::to_string(id);
}

std::vector<SpanFrame> Reader::backtrace(SpanId span) const {
  std::vector<SpanFrame> frames;
  while (span != 0 && frames.size() < MAX_BACKTRACE) {
    auto it = spans_.find(span);
    if (it == spans_.end()) {
      frames.push_back(SpanFrame{span, "", 0, false});
      break;
    }
    frames.push_back(SpanFrame{span, it->second.name, it->second.thread, true});
    span = it->second.parent;
  }
  return frames;
}

}  // namespace rrvm::trace
