// The emitting side: install(), thread identity, emit() and spans.
//
// Hot path (write_record): a plain store of the buffer's busy flag + light_fence(), a check that
// the recorder still accepts events, a reservation in the thread's own ring, an ordered TSC read,
// a memcpy, a release store of the ring head, and clearing busy. No lock, no allocation, no cache
// line written by another emitting thread.
//
// Lifetime: a ThreadBuffer is shared by its thread (thread_local) and the recorder, so it outlives
// either. The recorder object itself may only be touched while the thread is busy and has seen
// accepting == true: close() clears accepting and waits for busy threads before it finishes.
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "trace/emit_internal.h"
#include "trace/record_codec.h"
#include "trace/recorder.h"
#include "trace/recorder_impl.h"
#include "trace/span.h"

namespace rrvm::trace {
namespace internal {
namespace {

// The installed recorder (written under g_install_mutex) and its id, which the hot path compares
// with its buffer's: ids are never reused, addresses are.
std::atomic<RecorderImpl*> g_recorder{nullptr};
std::atomic<uint64_t> g_recorder_id{0};
// Guards installing and attaching threads, so a recorder being attached to cannot be destroyed.
std::mutex g_install_mutex;

thread_local ThreadBuffer* t_buf = nullptr;
thread_local SpanId t_span = 0;

// The slow-path part of a thread's state (not touched on the hot path).
struct ThreadState {
  std::shared_ptr<ThreadBuffer> buf;
  ThreadIdentity identity;
  bool identity_set = false;
  ~ThreadState() {
    if (buf) buf->retired.store(true, std::memory_order_release);
    t_buf = nullptr;
  }
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  if (!state.identity_set) {
    auto tid = static_cast<int32_t>(syscall(SYS_gettid));
    state.identity.tid = tid;
    state.identity.name = tid == getpid() ? "main" : "thread-" + std::to_string(tid);
    state.identity_set = true;
  }
  return state;
}

// Gives the calling thread a buffer of the installed recorder (nullptr: tracing is off).
ThreadBuffer* attach_thread() {
  std::lock_guard lock(g_install_mutex);
  RecorderImpl* rec = g_recorder.load(std::memory_order_relaxed);
  if (rec == nullptr) return nullptr;
  ThreadState& st = thread_state();
  auto buf = rec->register_thread(st.identity);
  if (!buf) {
    rec->count_unattached_drop();
    return nullptr;
  }
  if (st.buf) st.buf->retired.store(true, std::memory_order_release);
  st.buf = std::move(buf);
  t_buf = st.buf.get();
  return t_buf;
}

// The calling thread's buffer in the installed recorder, attaching it if needed.
inline ThreadBuffer* current_buffer() {
  uint64_t id = g_recorder_id.load(std::memory_order_acquire);
  if (id == 0) return nullptr;
  ThreadBuffer* b = t_buf;
  if (b == nullptr || b->recorder_id() != id) [[unlikely]]
    b = attach_thread();
  return b;
}

void count_drop(ThreadBuffer* b, bool record_later) {
  // Only the owning thread writes these counters (the writer reads them).
  b->dropped_total.store(b->dropped_total.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
  if (record_later) {
    b->pending_drops.store(b->pending_drops.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  }
}

inline void fill_header(uint8_t* p, uint64_t stamp, SpanId span, size_t size, EventType type) {
  auto* h = reinterpret_cast<RecordHeader*>(p);
  h->stamp = stamp;
  h->span = span;
  h->size = static_cast<uint32_t>(size);
  h->type = static_cast<uint16_t>(type);
  h->reserved = 0;
}

template <typename T>
void write_record(ThreadBuffer* b, const T& e, SpanId span) {
  size_t size = record_size(e);
  b->busy.store(1, std::memory_order_relaxed);
  light_fence();  // busy must be visible before the stamp is taken (see clock.h)
  if (!b->accepting.load(std::memory_order_relaxed)) [[unlikely]] {
    count_drop(b, false);  // after close(): counted in stats(), not in the trace
    b->busy.store(0, std::memory_order_release);
    return;
  }
  uint64_t pending = b->pending_drops.load(std::memory_order_relaxed);
  size_t drop_size = pending == 0 ? 0 : record_size(Dropped{});
  uint8_t* p = b->reserve(drop_size + size);
  if (p == nullptr) [[unlikely]] {
    count_drop(b, true);
    b->busy.store(0, std::memory_order_release);
    return;
  }
  uint64_t stamp = read_ticks(b->ticks());
  b->last_stamp.store(stamp, std::memory_order_relaxed);
  if (pending != 0) [[unlikely]] {
    // The drops are recorded where they happened: just before this thread's next event.
    fill_header(p, stamp, 0, drop_size, EventType::Dropped);
    pack_payload(Dropped{pending}, p + sizeof(RecordHeader));
    b->pending_drops.store(0, std::memory_order_relaxed);
    p += drop_size;
  }
  fill_header(p, stamp, span, size, event_type_of<T>());
  pack_payload(e, p + sizeof(RecordHeader));
  b->commit();
  if (b->over_half()) [[unlikely]]
    static_cast<RecorderImpl*>(b->owner())->wake_writer();
  b->busy.store(0, std::memory_order_release);
}

template <typename T>
inline void emit_record(const T& e, SpanId span) {
  ThreadBuffer* b = current_buffer();
  if (b != nullptr) write_record(b, e, span);
}

void update_identity() {
  std::lock_guard lock(g_install_mutex);
  RecorderImpl* rec = g_recorder.load(std::memory_order_relaxed);
  if (rec != nullptr && t_buf != nullptr && t_buf->recorder_id() == rec->id()) {
    rec->set_identity(t_buf->index(), thread_state().identity);
  }
}

}  // namespace

void uninstall_if_installed(RecorderImpl* recorder) {
  std::lock_guard lock(g_install_mutex);
  if (g_recorder.load(std::memory_order_relaxed) == recorder) {
    g_recorder_id.store(0, std::memory_order_release);
    g_recorder.store(nullptr, std::memory_order_release);
  }
}

}  // namespace internal

using internal::t_span;

Result<std::unique_ptr<Recorder>> Recorder::open(const RecorderOptions& options,
                                                 const Header& header) {
  RRVM_ASSIGN_OR_RETURN(auto rec, internal::RecorderImpl::create(options, header));
  return std::unique_ptr<Recorder>(std::move(rec));
}

void install(Recorder* recorder) {
  internal::RecorderImpl* impl = nullptr;
  if (recorder != nullptr) {
    impl = dynamic_cast<internal::RecorderImpl*>(recorder);
    RRVM_CHECK_MSG(impl != nullptr, "install(): not a recorder made by Recorder::open()");
  }
  std::lock_guard lock(internal::g_install_mutex);
  internal::g_recorder.store(impl, std::memory_order_release);
  internal::g_recorder_id.store(impl != nullptr ? impl->id() : 0, std::memory_order_release);
}

bool enabled() { return internal::g_recorder_id.load(std::memory_order_relaxed) != 0; }

void set_thread_vcpu(int32_t vcpu_index) {
  auto& id = internal::thread_state().identity;
  id.vcpu = vcpu_index;
  id.name = "vcpu" + std::to_string(vcpu_index);
  internal::update_identity();
}

void set_thread_name(std::string_view name) {
  internal::thread_state().identity.name = std::string(name);
  internal::update_identity();
}

void emit(const RunStateChange& e) { internal::emit_record(e, t_span); }
void emit(const NotifierCall& e) { internal::emit_record(e, t_span); }
void emit(const MsrAccess& e) { internal::emit_record(e, t_span); }
void emit(const ClockAccess& e) { internal::emit_record(e, t_span); }
void emit(const KvmclockCtrl& e) { internal::emit_record(e, t_span); }
void emit(const TscRead& e) { internal::emit_record(e, t_span); }
void emit(const TscKhz& e) { internal::emit_record(e, t_span); }
void emit(const DeviceStatusWrite& e) { internal::emit_record(e, t_span); }
void emit(const DeviceReset& e) { internal::emit_record(e, t_span); }
void emit(const DeviceBackend& e) { internal::emit_record(e, t_span); }
void emit(const VcpuExit& e) { internal::emit_record(e, t_span); }
void emit(const MonitorCommand& e) { internal::emit_record(e, t_span); }
void emit(const MonitorReply& e) { internal::emit_record(e, t_span); }
void emit(const MigrationEvent& e) { internal::emit_record(e, t_span); }
void emit(const SnapshotSection& e) { internal::emit_record(e, t_span); }
void emit(const UserMark& e) { internal::emit_record(e, t_span); }
void emit(const Warning& e) { internal::emit_record(e, t_span); }
void emit(const HvCall& e) { internal::emit_record(e, t_span); }

// --- spans ------------------------------------------------------------------------------------

SpanId current_span() { return t_span; }

Span::Span(std::string_view name) : Span(name, t_span) {}

Span::Span(std::string_view name, SpanId parent) : id_(0), saved_current_(t_span) {
  internal::ThreadBuffer* b = internal::current_buffer();
  if (b == nullptr) return;  // tracing off: the span has no id and changes nothing
  id_ = b->next_span_id();
  t_span = id_;
  internal::write_record(b, SpanBegin{parent, name}, id_);
}

Span::~Span() {
  if (id_ == 0) return;
  internal::emit_record(SpanEnd{}, id_);
  t_span = saved_current_;
}

}  // namespace rrvm::trace
