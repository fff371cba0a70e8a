// TraceReader.*: seeking through the index, truncated traces, and the checked-in format sample.
#include <gtest/gtest.h>

#include "tests/trace/sample_trace.h"
#include "tests/trace/test_util.h"
#include "trace/file_format.h"
#include "trace/reader.h"

namespace rrvm::trace::testing {
namespace {

std::unique_ptr<Reader> open_ok(const std::string& path) {
  auto r = Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? std::move(*r) : nullptr;
}

// A sample big enough for many chunks.
std::string many_chunks() {
  std::string path = temp_path("chunks.rrtrace");
  EXPECT_TRUE(write_sample_trace({.path = path, .chunk_bytes = 2048}, 60).ok());
  return path;
}

// seqs of all events next() returns from here on.
std::vector<uint64_t> rest_seqs(Reader& r) {
  std::vector<uint64_t> seqs;
  while (true) {
    auto e = r.next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || *e == nullptr) break;
    seqs.push_back((*e)->seq);
  }
  return seqs;
}

TEST(TraceReader, SeekBySeqTimeAndChunkUsesTheIndex) {
  std::string path = many_chunks();
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->complete());
  uint64_t total = r->footer()->events;
  ASSERT_EQ(total, 60u * 17 + 16);

  ASSERT_TRUE(r->seek_seq(500).ok());
  auto seqs = rest_seqs(*r);
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs.front(), 500u);
  EXPECT_EQ(seqs.back(), total - 1);
  EXPECT_EQ(seqs.size(), total - 500);

  const auto& chunks = r->chunks();
  size_t k = chunks.size() / 2;
  ASSERT_TRUE(r->seek_chunk(k).ok());
  seqs = rest_seqs(*r);
  ASSERT_FALSE(seqs.empty());
  EXPECT_EQ(seqs.front(), chunks[k].first_seq);

  ASSERT_TRUE(r->seek_time(chunks[k].first_time_ns).ok());
  auto e = r->next();
  ASSERT_TRUE(e.ok() && *e != nullptr);
  EXPECT_LE((*e)->seq, chunks[k].first_seq);
  EXPECT_GE((*e)->time_ns, chunks[k].first_time_ns);

  EXPECT_TRUE(r->seek_seq(total + 10).ok());  // past the end: nothing more
  EXPECT_TRUE(rest_seqs(*r).empty());
  Status bad = r->seek_chunk(chunks.size());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no chunk"), std::string::npos);
}

TEST(TraceReader, ATraceCutMidChunkYieldsEveryCompleteChunkThenSaysWhereItStops) {
  std::string path = many_chunks();
  auto full = open_ok(path);
  ASSERT_TRUE(full);
  const auto chunks = full->chunks();
  size_t k = chunks.size() / 2;
  std::string cut = temp_path("cut.rrtrace");
  write_bytes(cut, read_bytes(path).substr(0, chunks[k].offset + chunks[k].size / 2));

  auto r = open_ok(cut);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->complete());
  EXPECT_EQ(r->chunks().size(), k);
  auto seqs = rest_seqs(*r);
  ASSERT_EQ(seqs.size(), chunks[k].first_seq);
  uint64_t last = chunks[k].first_seq - 1;
  EXPECT_EQ(seqs.back(), last);
  EXPECT_EQ(r->truncation(), cut + ": truncated after event " + std::to_string(last) + " (chunk " +
                                 std::to_string(k) + " at offset " +
                                 std::to_string(chunks[k].offset) +
                                 " is incomplete or corrupt (Src size is incorrect))");
}

TEST(TraceReader, ATraceWithoutFooterButWholeChunksIsReadFully) {
  std::string path = many_chunks();
  auto full = open_ok(path);
  ASSERT_TRUE(full);
  const auto& last = full->chunks().back();
  uint64_t total = full->footer()->events;
  std::string cut = temp_path("nofooter.rrtrace");
  write_bytes(cut, read_bytes(path).substr(0, last.offset + last.size));  // as if killed in close()

  auto r = open_ok(cut);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->complete());
  EXPECT_EQ(rest_seqs(*r).size(), total);
  EXPECT_EQ(r->truncation(), cut + ": truncated after event " + std::to_string(total - 1) +
                                 " (no footer: the recorder did not close the trace)");
}

TEST(TraceReader, ACompleteTraceHasNoTruncationAndReportsRawEventSizes) {
  std::string path = temp_path("sizes.rrtrace");
  ASSERT_TRUE(write_sample_trace({.path = path}).ok());
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  while (true) {
    auto e = r->next();
    ASSERT_TRUE(e.ok());
    if (*e == nullptr) break;
    auto bytes = r->current_event_raw_bytes();
    ASSERT_TRUE(bytes.ok());
    // An Event is at least its 4 data words and 1 pointer.
    EXPECT_GE(*bytes, 40u);
    if ((*e)->type() == EventType::MsrAccess) {
      EXPECT_GE(*bytes, 40u + 3 * 16);
    }
  }
  EXPECT_EQ(r->truncation(), "");
}

// data/v1-sample.rrtrace was written by write_sample_trace() when format version 1 was current
// (tests/trace/write_sample_main.cc). It must stay readable, with the same content, for as long as
// this rrvm claims to read version 1.
TEST(TraceReader, ReadsTheCheckedInVersion1Sample) {
  std::string path = std::string(RRVM_TRACE_TEST_DATA) + "/v1-sample.rrtrace";
  auto r = open_ok(path);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->complete());
  EXPECT_EQ(r->header().format_version, 1u);
  EXPECT_EQ(r->header().header.rrvm_version, "0.1.0-sample");
  EXPECT_EQ(r->header().header.config.vcpus, 2u);
  EXPECT_EQ(read_all_lines(path), sample_expected_lines());
}

}  // namespace
}  // namespace rrvm::trace::testing
