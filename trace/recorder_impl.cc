// The recorder's lifecycle and thread registry. The writer thread's rounds (merge, encode) are in
// recorder_writer.cc.
#include "trace/recorder_impl.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>

#include <capnp/message.h>

#include "trace/emit_internal.h"
#include "vmm/base/log.h"

namespace rrvm::trace::internal {

namespace {

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, uint32_t timeout_ms) {
  timespec ts{static_cast<time_t>(timeout_ms / 1000),
              static_cast<long>(timeout_ms % 1000) * 1'000'000};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr,
          0);
}

void futex_wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

std::atomic<uint64_t> g_next_recorder_id{1};

}  // namespace

Result<std::unique_ptr<RecorderImpl>> RecorderImpl::create(const RecorderOptions& options,
                                                           const Header& header) {
  if (options.path.empty()) return make_error("opening trace: no path given");
  if (options.chunk_bytes == 0 || options.chunk_bytes > MAX_WRITER_CHUNK_BYTES) {
    return make_error("opening trace " + options.path + ": chunk_bytes must be 1.." +
                      std::to_string(MAX_WRITER_CHUNK_BYTES));
  }
  if (options.flush_interval_ms == 0) {
    return make_error("opening trace " + options.path + ": flush_interval_ms must be > 0");
  }
  init_fences();
  TickSource ticks = TickSource::Monotonic;
  if (options.clock == ClockChoice::Tsc ||
      (options.clock == ClockChoice::Auto && tsc_is_reliable())) {
    ticks = TickSource::Tsc;
  }
  RRVM_ASSIGN_OR_RETURN(auto writer, ChunkWriter::create(options.path, options.zstd_level));
  std::unique_ptr<RecorderImpl> rec(new RecorderImpl(options, std::move(writer), ticks));
  RRVM_TRY(rec->write_header_chunk(header));
  rec->thread_ = std::thread([r = rec.get()] { r->writer_main(); });
  return rec;
}

RecorderImpl::RecorderImpl(const RecorderOptions& options, std::unique_ptr<ChunkWriter> writer,
                           TickSource ticks)
    : id_(g_next_recorder_id.fetch_add(1, std::memory_order_relaxed)),
      options_(options),
      writer_(std::move(writer)),
      ticks_(ticks),
      converter_(ticks),
      // calloc, not new[](): the pages come zeroed from the kernel and are touched only as the
      // writer uses them (clearing 512 KiB up front cost a traced boot ~1.5 ms here).
      scratch_(static_cast<capnp::word*>(std::calloc(SCRATCH_WORDS, sizeof(capnp::word)))) {
  if (scratch_ == nullptr) throw std::bad_alloc();
}

RecorderImpl::~RecorderImpl() {
  uninstall_if_installed(this);
  Status s = close();
  if (!s.ok()) spdlog::error("trace {}: {}", options_.path, s.error().describe());
}

Status RecorderImpl::write_header_chunk(const Header& header) {
  TraceHeader th;
  th.format_version = FORMAT_VERSION;
  th.header = header;
  th.monotonic_start_ns = monotonic_ns();
  th.clock_source = std::string(tick_source_name(ticks_));
  capnp::MallocMessageBuilder msg;
  encode_header(th, msg.initRoot<schema::Batch>().initHeader());
  RRVM_TRY(writer_->add_batch(msg, 0, 0, 0, 0));
  RRVM_TRY(writer_->end_chunk());
  chunks_ = writer_->chunks();
  raw_bytes_ = writer_->raw_bytes();
  file_bytes_ = writer_->file_bytes();
  return ok_status();
}

std::shared_ptr<ThreadBuffer> RecorderImpl::register_thread(const ThreadIdentity& identity) {
  std::lock_guard lock(registry_mutex_);
  // Thread ids are 16 bits in the format; span ids keep the thread in bits 40..63.
  if (closing_ || threads_.size() >= 0xffff) return nullptr;
  auto index = static_cast<uint16_t>(threads_.size());
  auto buf = std::make_shared<ThreadBuffer>(options_.thread_buffer_bytes, index, this, id_, ticks_);
  // Whatever this thread stamps from now on is later than this: a bound for the writer until the
  // thread's first event is published.
  buf->last_stamp.store(read_ticks(ticks_), std::memory_order_relaxed);
  registry_.push_back(buf);
  threads_.push_back(ThreadInfo{index, identity.name, identity.vcpu, identity.tid});
  thread_dirty_.push_back(true);
  registry_version_.fetch_add(1, std::memory_order_release);
  return buf;
}

void RecorderImpl::set_identity(uint16_t index, const ThreadIdentity& identity) {
  std::lock_guard lock(registry_mutex_);
  if (index >= threads_.size()) return;
  threads_[index].name = identity.name;
  threads_[index].vcpu = identity.vcpu;
  threads_[index].tid = identity.tid;
  thread_dirty_[index] = true;
}

void RecorderImpl::wake_writer() {
  if (writer_sleeping_.exchange(false, std::memory_order_acq_rel)) {
    wake_word_.fetch_add(1, std::memory_order_release);
    futex_wake(&wake_word_);
  }
}

void RecorderImpl::sleep_until_woken_or(uint32_t ms) {
  uint32_t seen = wake_word_.load(std::memory_order_acquire);
  writer_sleeping_.store(true, std::memory_order_release);
  if (!stop_.load(std::memory_order_acquire)) futex_wait(&wake_word_, seen, ms);
  writer_sleeping_.store(false, std::memory_order_relaxed);
}

void RecorderImpl::quiesce_producers() {
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  {
    std::lock_guard lock(registry_mutex_);
    closing_ = true;
    buffers = registry_;
  }
  for (auto& b : buffers) b->accepting.store(false, std::memory_order_relaxed);
  // Pairs with the producers' light_fence(): a producer either sees accepting == false, or its
  // busy flag is visible below and we wait for it to finish the event it started.
  heavy_fence();
  for (auto& b : buffers) {
    while (b->busy.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }
}

Status RecorderImpl::close() {
  std::lock_guard lock(close_mutex_);
  if (closed_) return close_status_;
  closed_ = true;
  quiesce_producers();
  stop_.store(true, std::memory_order_release);
  wake_word_.fetch_add(1, std::memory_order_release);
  futex_wake(&wake_word_);
  if (thread_.joinable()) thread_.join();
  // No producer can reach a ring any more (accepting is false and none is busy).
  std::lock_guard reg(registry_mutex_);
  for (auto& b : registry_) b->free_storage();
  close_status_ = error_set_ ? Status(error_) : ok_status();
  return close_status_;
}

RecorderStats RecorderImpl::stats() const {
  RecorderStats s;
  s.events = events_.load(std::memory_order_relaxed);
  s.dropped =
      lost_.load(std::memory_order_relaxed) + unattached_drops_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(registry_mutex_);
    for (const auto& b : registry_) s.dropped += b->dropped_total.load(std::memory_order_relaxed);
  }
  s.chunks = chunks_.load(std::memory_order_relaxed);
  s.raw_bytes = raw_bytes_.load(std::memory_order_relaxed);
  s.compressed_bytes = file_bytes_.load(std::memory_order_relaxed);
  return s;
}

void RecorderImpl::set_error(const Error& e) {
  if (error_set_) return;
  error_set_ = true;
  error_ = e;
  spdlog::error("trace {}: {}; later events are lost", options_.path, e.describe());
}

}  // namespace rrvm::trace::internal
