// Spans.*: ids, nesting, hand-over between threads, and backtraces as the reader rebuilds them.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <thread>

#include "tests/trace/sample_trace.h"
#include "tests/trace/test_util.h"
#include "trace/reader.h"
#include "trace/recorder.h"
#include "trace/span.h"

namespace rrvm::trace::testing {
namespace {

class Spans : public ::testing::Test {
 protected:
  void record(RecorderOptions options = {}) {
    path_ = temp_path("spans.rrtrace");
    options.path = path_;
    auto r = Recorder::open(options, sample_header());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    rec_ = std::move(*r);
    install(rec_.get());
  }
  void stop() {
    install(nullptr);
    ASSERT_TRUE(rec_->close().ok());
  }
  // For every user mark: its text and its backtrace as "name@thread" frames.
  // With seek_seq, reading starts there (through the index), with the span table reset.
  std::vector<std::pair<std::string, std::vector<std::string>>> marks(
      std::optional<uint64_t> seek_seq = std::nullopt) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    auto reader = Reader::open(path_);
    EXPECT_TRUE(reader.ok()) << reader.error().describe();
    if (!reader.ok()) return out;
    if (seek_seq) {
      EXPECT_TRUE((*reader)->seek_seq(*seek_seq).ok());
    }
    while (true) {
      auto e = (*reader)->next();
      EXPECT_TRUE(e.ok());
      if (!e.ok() || *e == nullptr) break;
      const auto* mark = std::get_if<UserMark>(&(*e)->body);
      if (mark == nullptr) continue;
      std::vector<std::string> frames;
      for (const SpanFrame& f : (*reader)->backtrace((*e)->span)) {
        frames.push_back(f.known ? f.name + "@" + (*reader)->thread_name(f.thread) : "?");
      }
      out.emplace_back(std::string(mark->text), frames);
    }
    return out;
  }
  std::string path_;
  std::unique_ptr<Recorder> rec_;
};

using Frames = std::vector<std::string>;

TEST_F(Spans, NestedSpansGiveABacktraceInnermostFirst) {
  record();
  {
    Span outer("vm_stop");
    emit(UserMark{"in outer"});
    {
      Span inner("vm_state_notify");
      EXPECT_EQ(current_span(), inner.id());
      emit(UserMark{"in inner"});
    }
    EXPECT_EQ(current_span(), outer.id());
    emit(UserMark{"outer again"});
  }
  EXPECT_EQ(current_span(), 0u);
  emit(UserMark{"outside"});
  stop();
  auto m = marks();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].second, (Frames{"vm_stop@main"}));
  EXPECT_EQ(m[1].second, (Frames{"vm_state_notify@main", "vm_stop@main"}));
  EXPECT_EQ(m[2].second, (Frames{"vm_stop@main"}));
  EXPECT_EQ(m[3].second, Frames{});
}

TEST_F(Spans, ASpanHandedToAnotherThreadKeepsItsParent) {
  record();
  {
    Span qmp("qmp:cont");
    SpanId parent = current_span();
    std::thread vcpu([parent] {
      set_thread_vcpu(1);
      EXPECT_EQ(current_span(), 0u);  // the current span is per thread
      Span work("do_kvmclock_ctrl", parent);
      emit(UserMark{"on vcpu1"});
    });
    vcpu.join();
  }
  stop();
  auto m = marks();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].second, (Frames{"do_kvmclock_ctrl@vcpu1", "qmp:cont@main"}));
}

TEST_F(Spans, AParentThatEndedBeforeTheChildBeganIsStillNamed) {
  record();
  SpanId parent;
  {
    Span queued("async_run_on_cpu");
    parent = queued.id();
  }
  std::thread([parent] {
    Span work("deferred work", parent);
    emit(UserMark{"late"});
  }).join();
  stop();
  auto m = marks();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].second[1], "async_run_on_cpu@main");
}

TEST_F(Spans, IdsAreUniqueAndNeverZeroAcrossThreads) {
  record();
  std::vector<std::vector<SpanId>> ids(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < 2000; ++i) {
        Span s("work");
        ids[t].push_back(s.id());
      }
    });
  }
  for (auto& t : threads) t.join();
  stop();
  std::set<SpanId> all;
  for (const auto& v : ids) {
    for (SpanId id : v) {
      EXPECT_NE(id, 0u);
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), 8000u);
}

TEST_F(Spans, BacktracesWorkAfterJumpingToALaterChunk) {
  record({.chunk_bytes = 2048});
  {
    Span boot("machine boot");
    Span load("load kernel");
    for (int i = 0; i < 2000; ++i) emit(TscRead{0, static_cast<uint64_t>(i)});
    emit(UserMark{"deep in the trace"});
  }
  stop();
  auto reader = Reader::open(path_);
  ASSERT_TRUE(reader.ok());
  // The mark is seq 2002 (after two span begins and 2000 reads), far past the first chunks.
  const auto& chunks = (*reader)->chunks();
  size_t mark_chunk = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].events != 0 && chunks[i].first_seq <= 2002) mark_chunk = i;
  }
  ASSERT_GT(mark_chunk, 3u);
  // That chunk was written long after both spans began: its open-span list names them.
  auto m = marks(2002);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].second, (Frames{"load kernel@main", "machine boot@main"}));
}

}  // namespace
}  // namespace rrvm::trace::testing
