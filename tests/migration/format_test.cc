// Unit tests of the stream's building blocks: URIs, framing, Cap'n Proto decoding limits, zero-page
// detection, RAM run encoding and the stream reader's validation.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <random>

#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/channel.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/format.h"
#include "vmm/migration/page_scan.h"
#include "vmm/migration/ram_codec.h"
#include "vmm/migration/schema/snapshot.capnp.h"
#include "vmm/migration/stream_reader.h"
#include "vmm/migration/stream_writer.h"

namespace rrvm::migration {
namespace {

TEST(ChannelUri, ParsesTheThreeTransports) {
  auto f = parse_channel_uri("file:/tmp/a.snap");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, ChannelUri::Kind::File);
  EXPECT_EQ(f->path, "/tmp/a.snap");
  auto u = parse_channel_uri("unix:/run/m.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, ChannelUri::Kind::Unix);
  auto t = parse_channel_uri("tcp:127.0.0.1:4444");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 4444);
  auto v6 = parse_channel_uri("tcp:[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
}

TEST(ChannelUri, RefusesMalformedUris) {
  for (const char* bad : {"foo", "exec:cat > x", "file:", "unix:", "tcp:host", "tcp::1",
                          "tcp:h:99999", "tcp:h:12x", "tcp:[::1]80", "tcp:h:"}) {
    auto r = parse_channel_uri(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("migration URI"), std::string::npos) << r.error().message;
    }
  }
}

TEST(Frame, RoundTrips) {
  uint8_t bytes[FRAME_BYTES];
  encode_frame(Frame{3, 77, 1ull << 40}, bytes);
  Frame f = decode_frame(bytes);
  EXPECT_EQ(f.kind, 3u);
  EXPECT_EQ(f.descriptor_bytes, 77u);
  EXPECT_EQ(f.payload_bytes, 1ull << 40);
}

TEST(Checksum, StreamingEqualsOneShot) {
  std::vector<uint8_t> data(100000);
  std::mt19937 rng(1);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  StreamChecksum sum;
  sum.update(std::span(data).subspan(0, 10));
  sum.update(std::span(data).subspan(10, 50000));
  sum.update(std::span(data).subspan(50010));
  EXPECT_EQ(sum.value(), checksum64(data));
  data[5000] ^= 1;
  EXPECT_NE(sum.value(), checksum64(data));
}

TEST(CapnpBytes, RefusesMalformedInput) {
  auto fn = [](schema::End::Reader r) {
    (void)r.getStreamChecksum();
    return ok_status();
  };
  std::vector<uint8_t> odd(13, 0);
  EXPECT_FALSE(read_message<schema::End>(odd, 1024, fn).ok());
  std::vector<uint8_t> empty;
  EXPECT_FALSE(read_message<schema::End>(empty, 1024, fn).ok());
  std::vector<uint8_t> big(4096, 0);
  EXPECT_FALSE(read_message<schema::End>(big, 1024, fn).ok());
  // A segment table announcing far more words than present.
  std::vector<uint8_t> lying = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0};
  Status s = read_message<schema::End>(lying, 1024, fn);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("malformed"), std::string::npos) << s.error().message;

  capnp::MallocMessageBuilder message;
  message.initRoot<schema::End>().setRecords(7);
  std::vector<uint8_t> good = message_bytes(message);
  uint64_t records = 0;
  EXPECT_TRUE(read_message<schema::End>(good, 1024, [&](schema::End::Reader r) {
                records = r.getRecords();
                return ok_status();
              }).ok());
  EXPECT_EQ(records, 7u);
  good.resize(good.size() + 8, 0);  // a trailing word
  EXPECT_FALSE(read_message<schema::End>(good, 1024, fn).ok());
}

TEST(CapnpBytes, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bytes(8 * (1 + rng() % 16));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    if (i % 2 == 0) std::memset(bytes.data(), 0, 4);  // one segment: get past the table more often
    (void)read_message<schema::StreamHeader>(bytes, 4096, [](schema::StreamHeader::Reader r) {
      (void)r.getRrvmVersion();
      for (auto s : r.getConfig().getSections()) (void)s.getName();
      return ok_status();
    });
  }
}

TEST(PageScan, ZeroPageDetection) {
  alignas(64) static uint8_t page[PAGE_SIZE];
  std::memset(page, 0, sizeof page);
  EXPECT_TRUE(is_zero_page(page));
  for (size_t at : {size_t{0}, size_t{7}, size_t{255}, size_t{256}, size_t{2048}, PAGE_SIZE - 1}) {
    page[at] = 0x80;
    EXPECT_FALSE(is_zero_page(page)) << at;
    page[at] = 0;
  }
}

TEST(PageScan, ResidencyReportsOnlyPopulatedPages) {
  auto residency = PageResidency::open();
  if (!residency.ok())
    GTEST_SKIP() << "cannot read /proc/self/pagemap: " << residency.error().describe();
  const uint64_t pages = 256;
  void* mem = ::mmap(nullptr, pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* bytes = static_cast<uint8_t*>(mem);
  bytes[3 * PAGE_SIZE] = 1;
  bytes[200 * PAGE_SIZE + 17] = 2;
  std::vector<uint64_t> bits;
  ASSERT_TRUE(residency->populated(bytes, pages, bits).ok());
  ASSERT_EQ(bits.size(), 4u);
  EXPECT_TRUE(test_bit(bits, 3));
  EXPECT_TRUE(test_bit(bits, 200));
  uint64_t set = 0;
  for (uint64_t w : bits) set += static_cast<uint64_t>(__builtin_popcountll(w));
  EXPECT_EQ(set, 2u);
  ::munmap(mem, pages * PAGE_SIZE);
}

class RunCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = std::move(GuestMemory::allocate(2 << 20)).value();
    dst_ = std::move(GuestMemory::allocate(2 << 20)).value();
  }
  uint8_t* page(const GuestMemory& m, uint64_t i) { return m.regions()[0].host + i * PAGE_SIZE; }
  void random_page(uint64_t i, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t b = 0; b < PAGE_SIZE; ++b) page(src_, i)[b] = static_cast<uint8_t>(rng());
  }
  Result<RunDecoder::Applied> apply(const EncodedRun& run) {
    return decoder_.apply(run.descriptor, run.payload, dst_);
  }

  GuestMemory src_, dst_;
  RunEncoder encoder_;
  RunDecoder decoder_;
};

TEST_F(RunCodecTest, MixedRunRoundTrips) {
  random_page(1, 1);
  std::memset(page(src_, 2), 'a', PAGE_SIZE);  // compressible
  random_page(100, 2);
  page(src_, 255)[4095] = 9;
  std::memset(page(dst_, 5), 0xee, PAGE_SIZE);  // stale data where the source has zeros
  auto run = encoder_.encode(0, page(src_, 0), MAX_RUN_PAGES, nullptr, true);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->zero_pages, MAX_RUN_PAGES - 4);
  auto applied = apply(**run);
  ASSERT_TRUE(applied.ok()) << applied.error().describe();
  EXPECT_EQ(applied->pages, MAX_RUN_PAGES);
  EXPECT_EQ(0, std::memcmp(page(src_, 0), page(dst_, 0), MAX_RUN_PAGES * PAGE_SIZE));
}

TEST_F(RunCodecTest, IncompressibleRunIsSentRaw) {
  for (uint32_t i = 0; i < 8; ++i) random_page(i, 10 + i);
  auto run = encoder_.encode(0, page(src_, 0), 8, nullptr, false);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->payload.size(), 8 * PAGE_SIZE);
  ASSERT_TRUE(apply(**run).ok());
  EXPECT_EQ(0, std::memcmp(page(src_, 0), page(dst_, 0), 8 * PAGE_SIZE));
}

TEST_F(RunCodecTest, KnownZeroPagesAreNotRead) {
  random_page(0, 3);
  uint64_t known_zero[ZERO_BITMAP_WORDS] = {~uint64_t{1}, ~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}};
  random_page(1, 4);  // "known zero": must be sent as zero whatever it holds
  auto run = encoder_.encode(0, page(src_, 0), 16, known_zero, true);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)->zero_pages, 15u);
}

TEST_F(RunCodecTest, RefusesBadRuns) {
  std::memset(page(src_, 0), 'x', PAGE_SIZE);  // compressible: the run is a zstd frame
  std::memset(page(src_, 1), 'y', PAGE_SIZE);
  auto encoded = encoder_.encode(0, page(src_, 0), 4, nullptr, true);
  ASSERT_TRUE(encoded.ok());
  EncodedRun good = **encoded;
  ASSERT_LT(good.payload.size(), 2 * PAGE_SIZE);
  std::vector<uint8_t> payload(good.payload.begin(), good.payload.end());

  auto expect_refused = [&](std::span<const uint8_t> descriptor, std::span<const uint8_t> body,
                            const char* what) {
    auto r = decoder_.apply(descriptor, body, dst_);
    ASSERT_FALSE(r.ok()) << "accepted: " << what;
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  };
  std::vector<uint8_t> flipped = payload;
  flipped[flipped.size() / 2] ^= 4;
  expect_refused(good.descriptor, flipped, "checksum mismatch");

  auto rebuild = [&](auto&& edit, std::span<const uint8_t> body) {
    capnp::MallocMessageBuilder message;
    auto run = message.initRoot<schema::RamRun>();
    run.setGpa(0);
    run.setPageCount(4);
    run.initZeroPages(1).set(0, 0b1100);
    run.setEncoding(schema::RamEncoding::ZSTD);
    run.setChecksum(checksum64(body));
    edit(run);
    return message_bytes(message);
  };
  expect_refused(rebuild([](auto r) { r.setGpa(2 << 20); }, payload), payload,
                 "not inside one RAM region");
  expect_refused(rebuild([](auto r) { r.setGpa((2 << 20) - PAGE_SIZE); }, payload), payload,
                 "not inside one RAM region");
  expect_refused(rebuild([](auto r) { r.setGpa(~uint64_t{0} & ~(PAGE_SIZE - 1)); }, payload),
                 payload, "not inside one RAM region");
  expect_refused(rebuild([](auto r) { r.setGpa(12); }, payload), payload, "not page aligned");
  expect_refused(rebuild([](auto r) { r.setPageCount(0); }, payload), payload, "page count 0");
  expect_refused(rebuild([](auto r) { r.setPageCount(MAX_RUN_PAGES + 1); }, payload), payload,
                 "page count");
  expect_refused(rebuild([](auto r) { r.initZeroPages(2); }, payload), payload,
                 "bitmap has 2 words");
  expect_refused(rebuild([](auto r) { r.getZeroPages().set(0, 0b110000); }, payload), payload,
                 "past page 4");
  // Claims three data pages: the frame decompresses to two.
  expect_refused(rebuild([](auto r) { r.getZeroPages().set(0, 0b1000); }, payload), payload,
                 "decompressed to");
  std::vector<uint8_t> cut(payload.begin(), payload.end() - 3);
  expect_refused(rebuild([](auto) {}, cut), cut, "zstd");
  std::vector<uint8_t> raw(2 * PAGE_SIZE - 1, 1);
  expect_refused(rebuild([](auto r) { r.setEncoding(schema::RamEncoding::RAW); }, raw), raw,
                 "raw payload");
  EXPECT_TRUE(apply(good).ok());
}

std::vector<uint8_t> small_stream() {
  MemoryChannel out;
  StreamWriter writer(out);
  EXPECT_TRUE(writer.write_preamble().ok());
  capnp::MallocMessageBuilder it;
  it.initRoot<schema::Iteration>().setNumber(1);
  std::vector<uint8_t> big(200000, 0x5a);
  EXPECT_TRUE(writer.write_record(RecordKind::Iteration, it).ok());
  capnp::MallocMessageBuilder section;
  section.initRoot<schema::SectionHeader>().setName("dev");
  EXPECT_TRUE(writer.write_record(RecordKind::Section, section, big).ok());
  EXPECT_TRUE(writer.write_end().ok());
  return out.output();
}

TEST(StreamReader, ReadsWhatTheWriterWrote) {
  std::vector<uint8_t> bytes = small_stream();
  MemoryChannel in(bytes);
  StreamReader reader(in, "test");
  ASSERT_TRUE(reader.read_preamble().ok());
  auto r1 = reader.next();
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->kind, RecordKind::Iteration);
  auto r2 = reader.next();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->kind, RecordKind::Section);
  EXPECT_EQ(r2->payload.size(), 200000u);
  auto r3 = reader.next();
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->kind, RecordKind::End);
  uint64_t sum = 0;
  ASSERT_TRUE(read_message<schema::End>(r3->descriptor, 1024, [&](schema::End::Reader e) {
                sum = e.getStreamChecksum();
                return ok_status();
              }).ok());
  EXPECT_EQ(sum, r3->checksum_before);
  // Everything but the section's payload (the last 200000 bytes before End), which the section's
  // own checksum covers.
  EXPECT_EQ(sum, checksum64(std::span(bytes).subspan(0, r3->offset - 200000)));
}

Error read_all_error(const std::vector<uint8_t>& bytes) {
  MemoryChannel in(bytes);
  StreamReader reader(in, "snapshot t.snap");
  Status s = reader.read_preamble();
  while (s.ok()) {
    auto r = reader.next();
    if (!r.ok()) return r.error();
    if (r->kind == RecordKind::End) return make_error("no error");
  }
  return s.error();
}

TEST(StreamReader, RefusesBadFraming) {
  std::vector<uint8_t> good = small_stream();
  std::vector<uint8_t> magic = good;
  magic[0] = 'X';
  EXPECT_NE(read_all_error(magic).message.find("bad magic"), std::string::npos);
  std::vector<uint8_t> version = good;
  version[8] = 99;
  EXPECT_NE(read_all_error(version).message.find("format version 99"), std::string::npos);

  std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  std::string msg = read_all_error(cut).message;
  EXPECT_NE(msg.find("snapshot t.snap: section record at offset"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  // The second record's frame starts where the first record ends.
  const size_t second =
      PREAMBLE_BYTES + FRAME_BYTES + decode_frame(&good[PREAMBLE_BYTES]).descriptor_bytes;
  auto with_frame = [&](Frame f) {
    std::vector<uint8_t> b = good;
    encode_frame(f, &b[second]);
    return read_all_error(b).message;
  };
  Frame f = decode_frame(&good[second]);
  msg = with_frame(Frame{99, f.descriptor_bytes, f.payload_bytes});
  EXPECT_NE(msg.find("unknown record kind 99"), std::string::npos) << msg;
  msg = with_frame(Frame{f.kind, 0xffffffffu, f.payload_bytes});
  EXPECT_NE(msg.find("descriptor length 4294967295"), std::string::npos) << msg;
  msg = with_frame(Frame{f.kind, f.descriptor_bytes, 1ull << 62});
  EXPECT_NE(msg.find("exceeds the limit"), std::string::npos) << msg;
  msg = with_frame(Frame{static_cast<uint32_t>(RecordKind::Iteration), f.descriptor_bytes, 8});
  EXPECT_NE(msg.find("iteration record at offset " + std::to_string(second)), std::string::npos)
      << msg;
}

}  // namespace
}  // namespace rrvm::migration
