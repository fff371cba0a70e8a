// TraceBadInput.*: corrupt, hostile and foreign files give one clear error naming the file (and
// the chunk and offset when the damage is inside a chunk), never a crash or unbounded memory.
#include <gtest/gtest.h>
#include <zstd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <random>

#include "tests/trace/sample_trace.h"
#include "tests/trace/test_util.h"
#include "trace/file_format.h"
#include "trace/reader.h"
#include "trace/schema/trace.capnp.h"

namespace rrvm::trace::testing {
namespace {

using internal::FooterPayload;
using internal::IndexEntry;

// --- building files by hand --------------------------------------------------------------------

std::string skippable(uint32_t id, const std::string& payload) {
  uint32_t head[2] = {id, static_cast<uint32_t>(payload.size())};
  return std::string(reinterpret_cast<const char*>(head), sizeof head) + payload;
}

std::string magic_frame(uint32_t version = 1, uint32_t flags = 0) {
  internal::MagicPayload m{};
  std::memcpy(m.magic, internal::FILE_MAGIC, 8);
  m.version = version;
  m.flags = flags;
  return skippable(internal::MAGIC_FRAME_ID,
                   std::string(reinterpret_cast<const char*>(&m), sizeof m));
}

std::string zstd_frame(const std::string& content) {
  std::string out(ZSTD_compressBound(content.size()), '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(c, out.data(), out.size(), content.data(), content.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string message_bytes(capnp::MessageBuilder& msg) {
  auto words = capnp::messageToFlatArray(msg);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string header_chunk() {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Batch>().initHeader().setFormatVersion(1);
  return zstd_frame(message_bytes(msg));
}

// A trace made of the magic frame, a valid header chunk and `rest` (no footer).
std::string crafted(const std::string& rest) { return magic_frame() + header_chunk() + rest; }

// --- checking outcomes -------------------------------------------------------------------------

// Opens and reads everything; returns the first error's text ("" when all went fine).
std::string read_error(const std::string& path) {
  auto r = Reader::open(path);
  if (!r.ok()) return r.error().describe();
  while (true) {
    auto e = (*r)->next();
    if (!e.ok()) return e.error().describe();
    if (*e == nullptr) return "";
    auto bytes = (*r)->current_event_raw_bytes();
    if (!bytes.ok()) return bytes.error().describe();
    (void)(*r)->backtrace((*e)->span);
  }
}

std::string error_of(const std::string& bytes) {
  std::string path = temp_path("bad.rrtrace");
  write_bytes(path, bytes);
  std::string err = read_error(path);
  if (!err.empty()) {
    EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << "error does not start with the file: " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << "error is not one line: " << err;
  }
  return err;
}

void expect_error(const std::string& bytes, const std::string& want) {
  std::string err = error_of(bytes);
  EXPECT_NE(err.find(want), std::string::npos) << "got: '" << err << "', wanted '" << want << "'";
}

std::string sample_bytes(int repeat = 1, size_t chunk_bytes = 256 * 1024) {
  std::string path = temp_path("good.rrtrace");
  EXPECT_TRUE(write_sample_trace({.path = path, .chunk_bytes = chunk_bytes}, repeat).ok());
  return read_bytes(path);
}

template <typename T>
T load(const std::string& bytes, size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}
template <typename T>
void store(std::string& bytes, size_t at, const T& v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

// --- the cases ---------------------------------------------------------------------------------

TEST(TraceBadInput, EmptyAndTinyFiles) {
  expect_error("", "not an rrvm trace (only 0 bytes");
  expect_error("RRVM", "not an rrvm trace (only 4 bytes");
}

TEST(TraceBadInput, MissingFileOrDirectory) {
  std::string missing = temp_path("missing.rrtrace");
  EXPECT_NE(read_error(missing).find("No such file or directory"), std::string::npos);
  EXPECT_NE(read_error(::testing::TempDir()).find("not a regular file"), std::string::npos);
}

TEST(TraceBadInput, WrongMagic) {
  std::string b = sample_bytes();
  b[8] = 'X';
  expect_error(b, "not an rrvm trace (bad magic at offset 0)");
  expect_error(std::string(200, 'a'), "not an rrvm trace (bad magic at offset 0)");
  std::string varied;
  for (int i = 0; i < 400; ++i) varied += static_cast<char>(i * 7919 % 251);
  expect_error(zstd_frame(varied), "bad magic at offset 0");
}

TEST(TraceBadInput, UnknownVersionSaysWhichVersionsAreReadable) {
  std::string b = sample_bytes();
  store<uint32_t>(b, 16, 2);
  expect_error(b,
               "trace format version 2 is not supported: this rrvm reads version 1 (the trace "
               "was written by a newer rrvm)");
  store<uint32_t>(b, 16, 1);
  store<uint32_t>(b, 20, 4);
  expect_error(b, "unknown flags 0x4 in the magic frame");
}

TEST(TraceBadInput, OnlyTheMagicFrame) {
  expect_error(magic_frame(), "truncated before the header: no complete chunk");
}

TEST(TraceBadInput, FlippedBitInTheHeaderChunk) {
  std::string b = sample_bytes();
  b[24 + 20] ^= 0x10;
  expect_error(b, "chunk 0 at offset 24: zstd:");
}

TEST(TraceBadInput, FlippedBitInEachEventChunkStopsThereWithTheChunkAndOffset) {
  std::string good = sample_bytes(40, 2048);
  std::string path = temp_path("good.rrtrace");
  write_bytes(path, good);
  auto reader = Reader::open(path);
  ASSERT_TRUE(reader.ok());
  const auto chunks = (*reader)->chunks();
  ASSERT_GT(chunks.size(), 5u);
  for (size_t k = 1; k < chunks.size(); ++k) {
    std::string b = good;
    b[chunks[k].offset + chunks[k].size / 2] ^= 0x04;
    std::string bad = temp_path("flip.rrtrace");
    write_bytes(bad, b);
    auto r = Reader::open(bad);
    ASSERT_TRUE(r.ok()) << r.error().describe();  // the index is intact
    uint64_t events = 0;
    std::string err;
    while (true) {
      auto e = (*r)->next();
      if (!e.ok()) {
        err = e.error().describe();
        break;
      }
      if (*e == nullptr) break;
      ++events;
    }
    EXPECT_EQ(events, chunks[k].first_seq) << "chunk " << k;
    EXPECT_EQ(err.rfind(bad + ": chunk " + std::to_string(k) + " at offset " +
                            std::to_string(chunks[k].offset) + ": ",
                        0),
              0u)
        << err;
  }
}

TEST(TraceBadInput, FlippedBitsInTheFooterAndTheIndex) {
  std::string good = sample_bytes();
  std::string b = good;
  size_t footer = b.size() - internal::FOOTER_FRAME_BYTES;
  b[footer + 8 + 12] ^= 1;  // the flags
  expect_error(b, "footer at offset " + std::to_string(footer) + ": checksum mismatch");
  b = good;
  b[footer - 20] ^= 1;  // inside the last index entry
  expect_error(b, ": checksum mismatch");
  // A footer frame that no longer looks like one: the trace reads as one that was not closed.
  b = good;
  b[footer] ^= 1;
  std::string path = temp_path("nofooter.rrtrace");
  write_bytes(path, b);
  auto r = Reader::open(path);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)->complete());
}

// Rewrites the footer (and its checksum) of a good trace.
std::string with_footer(std::string b, void (*edit)(FooterPayload&)) {
  size_t at = b.size() - sizeof(FooterPayload);
  auto f = load<FooterPayload>(b, at);
  edit(f);
  f.checksum = internal::fnv1a64(&f, offsetof(FooterPayload, checksum));
  store(b, at, f);
  return b;
}

TEST(TraceBadInput, AbsurdCountsInTheFooter) {
  std::string good = sample_bytes();
  expect_error(with_footer(good, [](FooterPayload& f) { f.chunks = 1ull << 60; }),
               "index of 1152921504606846976 chunks at offset");
  expect_error(with_footer(good, [](FooterPayload& f) { f.index_offset = 3; }),
               "does not fit the file");
  expect_error(with_footer(good, [](FooterPayload& f) { f.events += 1; }),
               "index does not cover the file's chunks and events");
  expect_error(with_footer(good, [](FooterPayload& f) { f.version = 9; }), "version 9 differs");
}

TEST(TraceBadInput, AbsurdSizesInTheIndex) {
  std::string good = sample_bytes();
  size_t footer_at = good.size() - sizeof(FooterPayload);
  auto f = load<FooterPayload>(good, footer_at);
  size_t entries = f.index_offset + internal::SKIPPABLE_HEADER_BYTES;
  auto edit = [&](void (*change)(IndexEntry&)) {
    std::string b = good;
    auto e = load<IndexEntry>(b, entries + sizeof(IndexEntry));  // chunk 1
    change(e);
    store(b, entries + sizeof(IndexEntry), e);
    FooterPayload g = f;
    g.index_checksum = internal::fnv1a64(b.data() + entries, f.chunks * sizeof(IndexEntry));
    g.checksum = internal::fnv1a64(&g, offsetof(FooterPayload, checksum));
    store(b, footer_at, g);
    return b;
  };
  expect_error(edit([](IndexEntry& e) { e.raw_bytes = 1ull << 40; }),
               "index entry 1 (chunk at offset");
  expect_error(edit([](IndexEntry& e) { e.size = 1ull << 50; }), "is inconsistent");
  expect_error(edit([](IndexEntry& e) { e.events = 1ull << 50; }), "is inconsistent");
  // Sizes that fit but lie: the chunk decompresses to something else than the index says.
  expect_error(edit([](IndexEntry& e) { e.raw_bytes += 8; }), "bytes, the index says");
}

TEST(TraceBadInput, AZstdBombIsRefusedAtTheCap) {
  // 200 MiB of zeros compress to a few KiB; the reader stops at 64 MiB.
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  std::string zeros(1 << 20, '\0'), out;
  std::vector<char> buf(ZSTD_CStreamOutSize());
  for (int i = 0; i <= 200; ++i) {
    ZSTD_inBuffer in{zeros.data(), i < 200 ? zeros.size() : 0, 0};
    ZSTD_EndDirective mode = i < 200 ? ZSTD_e_continue : ZSTD_e_end;
    size_t left;
    do {
      ZSTD_outBuffer o{buf.data(), buf.size(), 0};
      left = ZSTD_compressStream2(c, &o, &in, mode);
      ASSERT_FALSE(ZSTD_isError(left));
      out.append(buf.data(), o.pos);
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  }
  ZSTD_freeCCtx(c);
  ASSERT_LT(out.size(), 64u << 10);
  std::string head = magic_frame() + header_chunk();
  expect_error(head + out, "chunk 1 at offset " + std::to_string(head.size()) +
                               ": decompresses to more than 64 MiB (corrupt, or a zstd bomb)");
}

TEST(TraceBadInput, MalformedCapnProtoInsideAChunk) {
  std::string head = magic_frame() + header_chunk();
  std::string at = "chunk 1 at offset " + std::to_string(head.size()) + ": ";
  // A segment table claiming 2^31 segments.
  std::string table("\xfe\xff\xff\x7f\x00\x00\x00\x00", 8);
  expect_error(crafted(zstd_frame(table)), at + "malformed Cap'n Proto data");
  // One segment of one word whose root pointer points far outside it.
  std::string words(
      "\x00\x00\x00\x00\x01\x00\x00\x00"
      "\xfc\xff\xff\x0f\x01\x00\x04\x00",
      16);
  expect_error(crafted(zstd_frame(words)), at + "malformed Cap'n Proto data");
  // Not a whole number of words.
  expect_error(crafted(zstd_frame("12345")), at + "decompressed size 5 is not a multiple of 8");
  // A header chunk that is not a Batch with a header.
  expect_error(magic_frame() + zstd_frame(std::string(16, '\0')),
               "chunk 0 at offset 24: malformed header: ");
  capnp::MallocMessageBuilder no_header;
  no_header.initRoot<schema::Batch>().initEvents(1);
  expect_error(magic_frame() + zstd_frame(message_bytes(no_header)),
               "chunk 0 at offset 24: no trace header");
}

TEST(TraceBadInput, AnAbsurdEventCountIsBoundedByTheMessage) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Batch>().initEvents(4);
  std::string bytes = message_bytes(msg);
  // The events list pointer is the 4th pointer of the root struct (after header, threads,
  // openSpans): give it 2^29 - 1 elements of the same inline size.
  std::string patched = bytes;
  bool done = false;
  for (size_t i = 8; i + 8 <= patched.size() && !done; i += 8) {
    uint64_t p = load<uint64_t>(patched, i);
    if ((p & 3) == 1 && (p >> 35) != 0 && (p >> 32 & 7) == 7) {  // an inline-composite list
      p = (p & 0x7ffffffffull) | (uint64_t{0x1fffffff} << 35);
      store(patched, i, p);
      done = true;
    }
  }
  ASSERT_TRUE(done);
  std::string err = error_of(crafted(zstd_frame(patched)));
  EXPECT_NE(err.find("malformed Cap'n Proto data"), std::string::npos) << err;
}

TEST(TraceBadInput, EventsOutOfOrderAreRefused) {
  auto batch = [](uint64_t first_seq) {
    capnp::MallocMessageBuilder msg;
    auto root = msg.initRoot<schema::Batch>();
    root.setFirstSeq(first_seq);
    root.initEvents(2)[0].initUserMark(1);
    return message_bytes(msg);
  };
  expect_error(crafted(zstd_frame(batch(5) + batch(3))),
               "events from seq 3 follow seq 6 (out of order)");
  expect_error(crafted(zstd_frame(batch(UINT64_MAX - 1))),
               "batch first seq 18446744073709551614 overflows");
}

TEST(TraceBadInput, AnUnknownEventKindOrEnumValueIsShownNotFatal) {
  capnp::MallocMessageBuilder msg;
  auto events = msg.initRoot<schema::Batch>().initEvents(2);
  events[0].initRunStateChange().setFrom(static_cast<schema::RunState>(77));
  events[1].setSpanEnd();
  // Make event 1's union discriminant (16 bits at byte 6 of its data section) a future member.
  auto data = capnp::AnyStruct::Builder(events[1]).getDataSection();
  data[6] = 99;
  std::string path = temp_path("future.rrtrace");
  write_bytes(path, crafted(zstd_frame(message_bytes(msg))));
  auto lines = read_all_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "thread#0 run-state unknown -> debug reason=\"\" REFUSED");
  EXPECT_EQ(lines[1], "thread#0 unknown (an event type this rrvm does not know)");
}

TEST(TraceBadInput, GarbageBetweenChunks) {
  std::string good = sample_bytes();
  std::string head = magic_frame() + header_chunk();
  expect_error(head + "garbage!", "chunk 1 at offset " + std::to_string(head.size()) +
                                      ": not a zstd frame (magic 0x62726167)");
}

// Random damage of every kind: the reader must answer with an error naming the file, or read
// what is readable; never crash, hang or blow up (run under ASan in the sanitizer build).
TEST(TraceBadInput, RandomDamageNeverCrashes) {
  std::string good = sample_bytes(8, 1024);
  std::mt19937_64 rng(12345);
  int errors = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string b = good;
    switch (rng() % 4) {
      case 0:  // flip a few bits
        for (int n = 1 + rng() % 4; n > 0; --n)
          b[rng() % b.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:  // cut
        b.resize(rng() % b.size());
        break;
      case 2: {  // overwrite a run with random bytes
        size_t at = rng() % b.size();
        for (size_t n = rng() % 64; n > 0 && at < b.size(); --n) b[at++] = static_cast<char>(rng());
        break;
      }
      default: {  // duplicate a slice somewhere else
        size_t from = rng() % b.size(), len = rng() % 256, to = rng() % b.size();
        b.insert(to, b.substr(from, len));
      }
    }
    errors += !error_of(b).empty();
  }
  EXPECT_GT(errors, 100);  // most damage is noticed
}

}  // namespace
}  // namespace rrvm::trace::testing
