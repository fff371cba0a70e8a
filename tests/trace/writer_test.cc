// TraceWriter.*: what the recorder writes, its global order, flushing, drops and lifecycle.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "tests/trace/sample_trace.h"
#include "tests/trace/test_util.h"
#include "trace/reader.h"
#include "trace/recorder.h"
#include "trace/span.h"

namespace rrvm::trace::testing {
namespace {

using namespace std::chrono_literals;

// Opens, installs, and on destruction uninstalls and closes a recorder.
struct Recording {
  explicit Recording(RecorderOptions options) {
    auto r = Recorder::open(options, sample_header());
    EXPECT_TRUE(r.ok()) << r.error().describe();
    if (r.ok()) rec = std::move(*r);
    install(rec.get());
  }
  ~Recording() { finish(); }
  void finish() {
    if (!rec) return;
    install(nullptr);
    Status s = rec->close();
    EXPECT_TRUE(s.ok()) << s.error().describe();
  }
  std::unique_ptr<Recorder> rec;
};

std::unique_ptr<Reader> open_reader(const std::string& path) {
  auto r = Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? std::move(*r) : nullptr;
}

// Every event of a trace (bodies with views are only valid until the next read: keep copies of
// what the tests look at).
struct Seen {
  uint64_t seq;
  uint64_t time_ns;
  uint16_t thread;
  EventType type;
  uint64_t value;  // TscRead.tsc, Dropped.count
  int32_t vcpu;
};
std::vector<Seen> read_seen(const std::string& path) {
  std::vector<Seen> out;
  auto reader = open_reader(path);
  if (!reader) return out;
  while (true) {
    auto e = reader->next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || *e == nullptr) break;
    Seen s{(*e)->seq, (*e)->time_ns, (*e)->thread, (*e)->type(), 0, -1};
    if (const auto* t = std::get_if<TscRead>(&(*e)->body)) s.value = t->tsc, s.vcpu = t->vcpu;
    if (const auto* d = std::get_if<Dropped>(&(*e)->body)) s.value = d->count;
    out.push_back(s);
  }
  return out;
}

TEST(TraceWriter, SampleRoundTripsEveryEventTypeAndTheHeader) {
  std::string path = temp_path("sample.rrtrace");
  ASSERT_TRUE(write_sample_trace({.path = path}).ok());
  EXPECT_EQ(read_all_lines(path), sample_expected_lines());
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->complete());
  const Header& h = reader->header().header;
  Header want = sample_header();
  EXPECT_EQ(reader->header().format_version, 1u);
  EXPECT_EQ(h.rrvm_version, want.rrvm_version);
  EXPECT_EQ(h.kvm_api_version, 12);
  EXPECT_EQ(h.kvm_caps, want.kvm_caps);
  EXPECT_EQ(h.tsc_khz, want.tsc_khz);
  EXPECT_EQ(h.config.memory_bytes, want.config.memory_bytes);
  EXPECT_EQ(h.config.devices, want.config.devices);
  EXPECT_EQ(h.config.cmdline, "console=ttyS0");
  EXPECT_EQ(h.wall_clock_start_ns, want.wall_clock_start_ns);
  EXPECT_NE(reader->header().monotonic_start_ns, 0u);
  EXPECT_TRUE(reader->header().clock_source == "tsc" ||
              reader->header().clock_source == "monotonic");
}

TEST(TraceWriter, SequenceIsDenseAndTimeNonDecreasingAcrossChunks) {
  std::string path = temp_path("many.rrtrace");
  ASSERT_TRUE(write_sample_trace({.path = path, .chunk_bytes = 4096}, 40).ok());
  auto seen = read_seen(path);
  ASSERT_EQ(seen.size(), 40u * 17 + 16);
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].seq, i);
    if (i > 0) {
      ASSERT_GE(seen[i].time_ns, seen[i - 1].time_ns) << "at seq " << i;
    }
  }
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  const auto& chunks = reader->chunks();
  ASSERT_GT(chunks.size(), 4u);
  uint64_t next = 0;
  for (const auto& c : chunks) {
    EXPECT_TRUE(c.has_counts);
    EXPECT_EQ(c.first_seq, next);
    next += c.events;
  }
  EXPECT_EQ(next, seen.size());
}

// Three threads pass a token around; each emits its step before handing the token on, while
// another thread emits as fast as it can. The merged order must follow the token. (Waiters yield:
// this machine may have fewer cores than threads.)
void causal_chain(ClockChoice clock) {
  std::string path = temp_path("chain.rrtrace");
  constexpr int THREADS = 3;
  constexpr uint64_t STEPS = 6000;
  {
    Recording r({.path = path, .thread_buffer_bytes = 4 << 20, .clock = clock});
    std::atomic<uint64_t> token{0};
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    for (int k = 0; k < THREADS; ++k) {
      threads.emplace_back([&, k] {
        for (uint64_t step = k; step < STEPS; step += THREADS) {
          while (token.load(std::memory_order_acquire) != step) std::this_thread::yield();
          emit(TscRead{k, step});
          token.store(step + 1, std::memory_order_release);
        }
      });
    }
    threads.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 100; ++i) emit(TscRead{100, 0});
        std::this_thread::yield();
      }
    });
    for (int k = 0; k < THREADS; ++k) threads[k].join();
    done = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  uint64_t expect = 0;
  for (const Seen& s : read_seen(path)) {
    if (s.type != EventType::TscRead || s.vcpu >= THREADS) continue;
    ASSERT_EQ(s.value, expect) << "step " << s.value << " came out at seq " << s.seq;
    ++expect;
  }
  EXPECT_EQ(expect, STEPS);
}

TEST(TraceWriter, CausalChainAcrossThreadsKeepsItsOrderWithTscStamps) {
  causal_chain(ClockChoice::Tsc);
}

TEST(TraceWriter, CausalChainAcrossThreadsKeepsItsOrderWithMonotonicStamps) {
  causal_chain(ClockChoice::Monotonic);
}

TEST(TraceWriter, ThreadsEmittingAtOnceLoseNothingSilently) {
  std::string path = temp_path("flood.rrtrace");
  constexpr uint64_t PER_THREAD = 300000;
  RecorderStats stats;
  {
    Recording r({.path = path, .thread_buffer_bytes = 64 << 10});
    std::vector<std::thread> threads;
    for (int k = 0; k < 2; ++k) {
      threads.emplace_back([k] {
        for (uint64_t i = 0; i < PER_THREAD; ++i) emit(TscRead{k, i});
      });
    }
    for (auto& t : threads) t.join();
    r.finish();
    stats = r.rec->stats();
  }
  auto seen = read_seen(path);
  uint64_t tsc_events = 0, dropped_recorded = 0;
  std::vector<uint64_t> last(2, 0);
  std::vector<bool> any(2, false);
  for (const Seen& s : seen) {
    if (s.type == EventType::Dropped) dropped_recorded += s.value;
    if (s.type != EventType::TscRead) continue;
    ++tsc_events;
    // Per thread, surviving events keep program order.
    if (any[s.vcpu]) {
      ASSERT_GT(s.value, last[s.vcpu]);
    }
    any[s.vcpu] = true;
    last[s.vcpu] = s.value;
  }
  EXPECT_EQ(tsc_events + dropped_recorded, 2 * PER_THREAD);
  EXPECT_EQ(stats.dropped, dropped_recorded);
  EXPECT_EQ(stats.events, seen.size());
}

TEST(TraceWriter, AnEventTooBigForTheBufferIsDroppedAndRecordedBeforeTheNextOne) {
  std::string path = temp_path("drop.rrtrace");
  std::string big(3000, 'x');  // more than half of a 4 KiB buffer: can never fit
  {
    Recording r({.path = path, .thread_buffer_bytes = 4096});
    emit(UserMark{"first"});
    emit(UserMark{big});
    emit(UserMark{big});
    emit(UserMark{"after"});
    r.finish();
    EXPECT_EQ(r.rec->stats().dropped, 2u);
  }
  auto lines = read_all_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "main mark \"first\"");
  EXPECT_EQ(lines[1], "main dropped 2 events lost (the thread's trace buffer was full)");
  EXPECT_EQ(lines[2], "main mark \"after\"");
}

TEST(TraceWriter, DropsWithNoLaterEventAreRecordedAtClose) {
  std::string path = temp_path("drop-end.rrtrace");
  {
    Recording r({.path = path, .thread_buffer_bytes = 4096});
    emit(UserMark{std::string(3000, 'y')});
  }
  auto lines = read_all_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "main dropped 1 events lost (the thread's trace buffer was full)");
}

TEST(TraceWriter, EventsAfterCloseAreCountedButNotWritten) {
  std::string path = temp_path("closed.rrtrace");
  auto rec = Recorder::open({.path = path}, sample_header());
  ASSERT_TRUE(rec.ok());
  install(rec->get());
  emit(UserMark{"kept"});
  ASSERT_TRUE((*rec)->close().ok());
  emit(UserMark{"too late"});
  { Span s("too late as well"); }
  install(nullptr);
  EXPECT_EQ((*rec)->stats().events, 1u);
  EXPECT_EQ((*rec)->stats().dropped, 3u);  // the mark, the span's begin and end
  EXPECT_TRUE((*rec)->close().ok());       // idempotent
  EXPECT_EQ(read_all_lines(path), std::vector<std::string>{"main mark \"kept\""});
}

TEST(TraceWriter, WithoutARecorderEmitDoesNothing) {
  ASSERT_FALSE(enabled());
  emit(UserMark{"nobody listens"});
  Span s("inert");
  EXPECT_EQ(s.id(), 0u);
  EXPECT_EQ(current_span(), 0u);
}

TEST(TraceWriter, ThreadsAreDeclaredWithTheirNamesAndVcpus) {
  std::string path = temp_path("threads.rrtrace");
  {
    Recording r({.path = path});
    std::thread vcpu([] {
      set_thread_vcpu(3);
      emit(TscRead{3, 1});
    });
    vcpu.join();
    std::thread named([] {
      emit(UserMark{"before the name"});
      set_thread_name("migration");  // a rename after the first event is declared again
      emit(UserMark{"after"});
    });
    named.join();
  }
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  std::set<std::string> names;
  while (true) {
    auto e = reader->next();
    ASSERT_TRUE(e.ok());
    if (*e == nullptr) break;
    const ThreadInfo* t = reader->thread((*e)->thread);
    ASSERT_NE(t, nullptr);
    names.insert(t->name);
    EXPECT_GT(t->tid, 0);
    if (t->name == "vcpu3") {
      EXPECT_EQ(t->vcpu, 3);
    }
    if (t->name == "migration") {
      EXPECT_EQ(t->vcpu, -1);
    }
  }
  EXPECT_TRUE(names.count("vcpu3"));
  EXPECT_TRUE(names.count("migration"));
}

TEST(TraceWriter, EventsReachTheFileWithinTheFlushIntervalWhileRecording) {
  std::string path = temp_path("flush.rrtrace");
  Recording r({.path = path, .flush_interval_ms = 50});
  emit(UserMark{"early"});
  std::vector<std::string> lines;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (lines.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    auto reader = Reader::open(path);
    ASSERT_TRUE(reader.ok()) << reader.error().describe();
    EXPECT_FALSE((*reader)->complete());
    while (true) {
      auto e = (*reader)->next();
      ASSERT_TRUE(e.ok()) << e.error().describe();
      if (*e == nullptr) break;
      lines.push_back(describe(**reader, **e));
    }
    EXPECT_NE((*reader)->truncation().find("no footer"), std::string::npos);
  }
  // 2 s is generous: the recorder promises 50 ms plus a writer round.
  EXPECT_EQ(lines, std::vector<std::string>{"main mark \"early\""});
}

TEST(TraceWriter, EventsOfAnExitedThreadAreKept) {
  std::string path = temp_path("exited.rrtrace");
  {
    Recording r({.path = path});
    for (int i = 0; i < 8; ++i) {
      std::thread([i] { emit(TscRead{i, static_cast<uint64_t>(i)}); }).join();
    }
  }
  auto seen = read_seen(path);
  ASSERT_EQ(seen.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(seen[i].value, static_cast<uint64_t>(i));
}

TEST(TraceWriter, ASecondRecorderGetsOnlyItsOwnEvents) {
  std::string a = temp_path("a.rrtrace"), b = temp_path("b.rrtrace");
  {
    Recording r({.path = a});
    emit(UserMark{"for a"});
  }
  {
    Recording r({.path = b});
    emit(UserMark{"for b"});
  }
  EXPECT_EQ(read_all_lines(a), std::vector<std::string>{"main mark \"for a\""});
  EXPECT_EQ(read_all_lines(b), std::vector<std::string>{"main mark \"for b\""});
}

TEST(TraceWriter, OpenRejectsBadOptionsAndUnwritablePaths) {
  auto r = Recorder::open({.path = "/nonexistent-dir/x.rrtrace"}, sample_header());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().describe().find("/nonexistent-dir/x.rrtrace"), std::string::npos);
  EXPECT_NE(r.error().describe().find("No such file"), std::string::npos);
  r = Recorder::open({.path = temp_path("x.rrtrace"), .chunk_bytes = 0}, sample_header());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().describe().find("chunk_bytes"), std::string::npos);
  r = Recorder::open({.path = ""}, sample_header());
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace rrvm::trace::testing
