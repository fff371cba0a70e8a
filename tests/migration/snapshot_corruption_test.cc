// Hostile and damaged snapshots: every truncation and bit flip is refused before the VM loads a
// section, with an error naming the stream, the record and its offset; lengths far beyond the
// caps are refused without allocating them.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "tests/migration/migration_test_util.h"
#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/control_records.h"
#include "vmm/migration/schema/snapshot.capnp.h"
#include "vmm/migration/stream_header.h"
#include "vmm/migration/stream_writer.h"

namespace rrvm::migration {
namespace {

using test::contains;
using test::FakeMigratable;
using test::RecordSpan;
using test::TempDir;

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every case here is an expected refusal: keep the error logs out of the test output.
    spdlog::set_level(spdlog::level::off);
    options_.memory_bytes = 4ull << 20;
    options_.sections = {{"cpu/0"}, {"cpu/1"}, {"kvmclock"}, {"virtio-blk0"}};
    auto source = test::make_vm(options_);
    source->fill_random(0, 10, 1);
    std::memset(source->memory().regions()[0].host + (300 << 12), 'z', 20 << 12);  // compressible
    source->set_section_data("cpu/1", std::vector<uint8_t>(3000, 0x42));
    path_ = dir_.file("vm.snap");
    ASSERT_EQ(test::migrate_out(*source, "file:" + path_).status, MigrationStatus::Completed);
    good_ = test::read_bytes(path_);
    records_ = test::list_records(good_);
  }

  void TearDown() override { spdlog::set_level(spdlog::level::info); }

  // Restores `bytes`; expects a refusal before any section is loaded and returns its message.
  std::string refused(const std::vector<uint8_t>& bytes) {
    test::write_bytes(path_, bytes);
    auto target = test::make_target_for(options_);
    MigrationStats in = test::restore_from(*target, path_);
    EXPECT_EQ(in.status, MigrationStatus::Failed);
    for (const std::string& c : target->calls()) {
      EXPECT_EQ(c.rfind("load_section", 0), std::string::npos)
          << "loaded before the stream was verified: " << in.error;
      EXPECT_NE(c, "vm_start") << in.error;
    }
    EXPECT_NE(in.error.find("snapshot " + path_ + ": "), std::string::npos) << in.error;
    return in.error;
  }

  const RecordSpan& section(const std::string& name) const {
    for (const RecordSpan& r : records_) {
      if (r.kind == RecordKind::Section && r.name == name) return r;
    }
    RRVM_FATAL("no section " + name);
  }

  FakeMigratable::Options options_;
  TempDir dir_;
  std::string path_;
  std::vector<uint8_t> good_;
  std::vector<RecordSpan> records_;
};

TEST_F(CorruptionTest, TheUnchangedSnapshotLoads) {
  test::write_bytes(path_, good_);
  auto target = test::make_target_for(options_);
  EXPECT_EQ(test::restore_from(*target, path_).status, MigrationStatus::Completed);
}

TEST_F(CorruptionTest, BitFlipInASectionNamesTheSection) {
  const RecordSpan& cpu1 = section("cpu/1");
  std::vector<uint8_t> bytes = good_;
  bytes[cpu1.payload_offset + 1234] ^= 0x10;
  std::string error = refused(bytes);
  EXPECT_NE(error.find("section 'cpu/1' at offset " + std::to_string(cpu1.offset) +
                       ": checksum mismatch"),
            std::string::npos)
      << error;
}

TEST_F(CorruptionTest, TruncationInsideASectionNamesTheSection) {
  const RecordSpan& cpu1 = section("cpu/1");
  std::vector<uint8_t> bytes(good_.begin(),
                             good_.begin() + static_cast<long>(cpu1.payload_offset + 100));
  std::string error = refused(bytes);
  EXPECT_NE(error.find("section 'cpu/1' at offset " + std::to_string(cpu1.offset) + ": truncated"),
            std::string::npos)
      << error;
}

TEST_F(CorruptionTest, BitFlipInRamNamesTheRun) {
  for (const RecordSpan& r : records_) {
    if (r.kind != RecordKind::RamRun) continue;
    std::vector<uint8_t> bytes = good_;
    bytes[r.payload_offset + (r.end - r.payload_offset) / 2] ^= 1;
    std::string error = refused(bytes);
    EXPECT_NE(error.find("RAM run at offset " + std::to_string(r.offset)), std::string::npos)
        << error;
    EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
  }
}

// Cut points: inside and at the edges of every record's frame, descriptor and payload.
TEST_F(CorruptionTest, EveryTruncationIsRefused) {
  std::vector<uint64_t> cuts = {0, 1, PREAMBLE_BYTES - 1};
  for (const RecordSpan& r : records_) {
    for (uint64_t at : {r.offset, r.offset + 1, r.offset + FRAME_BYTES - 1, r.offset + FRAME_BYTES,
                        r.offset + FRAME_BYTES + 1, r.payload_offset - 1, r.payload_offset,
                        (r.payload_offset + r.end) / 2, r.end - 1}) {
      if (at < good_.size()) cuts.push_back(at);
    }
  }
  for (uint64_t cut : cuts) {
    std::vector<uint8_t> bytes(good_.begin(), good_.begin() + static_cast<long>(cut));
    std::string error = refused(bytes);
    EXPECT_TRUE(error.find("truncated") != std::string::npos) << "cut at " << cut << ": " << error;
  }
}

// Every byte of every frame and descriptor (where a flip changes what the payload means), and
// bytes spread through every payload.
TEST_F(CorruptionTest, EveryBitFlipIsRefused) {
  std::vector<uint64_t> positions = {0, 7, 8, 12, 15};
  for (const RecordSpan& r : records_) {
    for (uint64_t at = r.offset; at < r.payload_offset; ++at) positions.push_back(at);
    for (uint64_t at = r.payload_offset; at < r.end;
         at += std::max<uint64_t>(1, (r.end - r.payload_offset) / 4)) {
      positions.push_back(at);
    }
  }
  for (uint64_t at : positions) {
    std::vector<uint8_t> bytes = good_;
    bytes[at] ^= static_cast<uint8_t>(1u << (at % 8));
    refused(bytes);
  }
}

TEST_F(CorruptionTest, TrailingBytesAreRefused) {
  std::vector<uint8_t> bytes = good_;
  bytes.push_back(0);
  EXPECT_NE(refused(bytes).find("trailing bytes after the end record"), std::string::npos);
}

TEST_F(CorruptionTest, HugeLengthsAreRefusedWithoutAllocating) {
  const RecordSpan& cpu1 = section("cpu/1");
  for (uint64_t payload : {uint64_t{1} << 62, ~uint64_t{0}, MAX_SECTION_BYTES + 1}) {
    std::vector<uint8_t> bytes = good_;
    Frame f = decode_frame(&bytes[cpu1.offset]);
    f.payload_bytes = payload;
    encode_frame(f, &bytes[cpu1.offset]);
    std::string error = refused(bytes);
    EXPECT_NE(
        error.find("section record at offset " + std::to_string(cpu1.offset) + ": payload length"),
        std::string::npos)
        << error;
  }
  std::vector<uint8_t> bytes = good_;
  Frame f = decode_frame(&bytes[cpu1.offset]);
  f.descriptor_bytes = 0xfffffff0u;
  encode_frame(f, &bytes[cpu1.offset]);
  EXPECT_NE(refused(bytes).find("descriptor length"), std::string::npos);
}

// A stream written by hand, with correct checksums, to reach the semantic checks behind them.
class CraftedStream {
 public:
  explicit CraftedStream(const FakeMigratable& vm) : writer_(channel_) {
    RRVM_CHECK(writer_.write_preamble().ok());
    capnp::MallocMessageBuilder message;
    fill_header(message.initRoot<schema::StreamHeader>(), vm.describe(), vm.memory(), false);
    RRVM_CHECK(writer_.write_record(RecordKind::Header, message).ok());
  }
  void run(uint64_t gpa, uint32_t pages, std::vector<uint8_t> payload) {
    capnp::MallocMessageBuilder message;
    auto run = message.initRoot<schema::RamRun>();
    run.setGpa(gpa);
    run.setPageCount(pages);
    run.initZeroPages((pages + 63) / 64);
    run.setEncoding(schema::RamEncoding::RAW);
    run.setChecksum(checksum64(payload));
    RRVM_CHECK(writer_.write_record(RecordKind::RamRun, message, payload).ok());
  }
  void section(const std::string& name, uint32_t version, const std::vector<uint8_t>& data) {
    capnp::MallocMessageBuilder message;
    auto s = message.initRoot<schema::SectionHeader>();
    s.setName(name);
    s.setVersion(version);
    s.setChecksum(checksum64(data));
    RRVM_CHECK(writer_.write_record(RecordKind::Section, message, data).ok());
  }
  void iteration(uint32_t number) {
    capnp::MallocMessageBuilder message;
    message.initRoot<schema::Iteration>().setNumber(number);
    RRVM_CHECK(writer_.write_record(RecordKind::Iteration, message).ok());
  }
  std::vector<uint8_t> finish() {
    RRVM_CHECK(writer_.write_end().ok());
    return channel_.output();
  }

 private:
  MemoryChannel channel_;
  StreamWriter writer_;
};

TEST_F(CorruptionTest, RunOutsideRamIsRefused) {
  auto vm = test::make_vm(options_);
  CraftedStream s(*vm);
  s.run(options_.memory_bytes, 1, std::vector<uint8_t>(PAGE_SIZE, 1));
  std::string error = refused(s.finish());
  EXPECT_NE(error.find("run of 1 pages at gpa 0x400000 is not inside one RAM region"),
            std::string::npos)
      << error;
}

TEST_F(CorruptionTest, SectionsOutOfOrderUnknownOrMissingAreRefused) {
  auto vm = test::make_vm(options_);
  std::vector<uint8_t> gs;
  {
    CraftedStream s(*vm);
    s.section("cpu/0", 1, {1});
    EXPECT_NE(refused(s.finish()).find("section 'cpu/0' at offset"), std::string::npos);
  }
  {
    CraftedStream s(*vm);
    s.section("globalstate", 1, encode_global_state(trace::RunState::Running));
    s.section("cpu/0", 1, {1});
    s.section("cpu/1", 1, {1});
    s.section("kvmclock", 1, {1});
    std::string error = refused(s.finish());
    EXPECT_NE(error.find("section 'virtio-blk0' is missing"), std::string::npos) << error;
  }
  {
    CraftedStream s(*vm);
    s.section("globalstate", 1, {1, 2, 3});
    s.section("cpu/0", 1, {1});
    s.section("cpu/1", 1, {1});
    s.section("kvmclock", 1, {1});
    s.section("virtio-blk0", 1, {1});
    s.iteration(1);
    s.iteration(3);
    EXPECT_NE(refused(s.finish()).find("pass 3 follows pass 1"), std::string::npos);
  }
  {
    CraftedStream s(*vm);
    s.section("globalstate", 1, std::vector<uint8_t>(16, 0xff));
    s.section("cpu/0", 1, {1});
    s.section("cpu/1", 1, {1});
    s.section("kvmclock", 1, {1});
    s.section("virtio-blk0", 1, {1});
    test::write_bytes(path_, s.finish());
    auto target = test::make_target_for(options_);
    MigrationStats in = test::restore_from(*target, path_);
    ASSERT_EQ(in.status, MigrationStatus::Failed);
    EXPECT_NE(in.error.find("section 'globalstate'"), std::string::npos) << in.error;
    EXPECT_FALSE(contains(target->calls(), "vm_start"));
  }
}

}  // namespace
}  // namespace rrvm::migration
