// The rrvm guest's `blk-bench:MIB` step (vmm/guest/blk_bench.c), which scripts/bench/disk.sh
// times under rrvm and QEMU: it must write its tagged MiBs where they belong, read them back,
// report numbers that agree with each other, refuse bad arguments, and find QEMU microvm's disk
// without virtio_mmio.device= words. Kept small (a few MiB) so a run takes about a second.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/boot/run_process.h"
#include "tests/guest_virtio/kvm_dir_test.h"
#include "trace/events.h"
#include "trace/reader.h"

namespace rrvm {
namespace {

using namespace std::chrono_literals;

constexpr size_t MIB = 1 << 20;
constexpr size_t SECTOR = 512;
constexpr uint64_t TAG_MAGIC = 0x68636e626d767272ull;  // "rrvmbnch", blk_bench.c
constexpr uint8_t FILL = 0xa5;                         // host bytes the guest must not touch

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_image(const std::string& path, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string data(bytes, static_cast<char>(FILL));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

uint64_t u64_at(const std::string& s, size_t off) {
  uint64_t v;
  std::memcpy(&v, s.data() + off, sizeof v);
  return v;
}

// blk_bench.c's layout: each sector of MiB k starts with {magic, sector in the MiB, request}
// (request is k in sector 0, else 0), then zeros. Everything past `mib` MiB keeps FILL.
void expect_bench_image(const std::string& path, size_t mib, size_t image_bytes) {
  const std::string img = read_file(path);
  ASSERT_EQ(img.size(), image_bytes);
  for (size_t off = 0; off < mib * MIB; off += SECTOR) {
    const uint64_t k = off / MIB, s = (off % MIB) / SECTOR;
    ASSERT_EQ(u64_at(img, off), TAG_MAGIC) << "sector tag magic at byte " << off;
    ASSERT_EQ(u64_at(img, off + 8), s) << "sector index at byte " << off;
    ASSERT_EQ(u64_at(img, off + 16), s == 0 ? k : 0) << "request stamp at byte " << off;
    const std::string rest = img.substr(off + 24, SECTOR - 24);
    ASSERT_EQ(rest, std::string(rest.size(), '\0')) << "sector body at byte " << off;
  }
  const std::string tail = img.substr(mib * MIB);
  ASSERT_EQ(tail, std::string(tail.size(), static_cast<char>(FILL))) << "bytes past the benchmark";
}

// One pass's result line; checks that its fields agree (bytes, requests, MB/s from bytes / ns).
void expect_pass_line(const std::string& out, const std::string& pass, size_t mib) {
  std::smatch m;
  const std::regex line(
      "rrvm-guest: blk-bench " + pass +
      " bytes=(\\d+) requests=(\\d+) request_bytes=1048576 ns=(\\d+) mb_per_s=(\\d+)\\.(\\d)\n");
  ASSERT_TRUE(std::regex_search(out, m, line)) << pass << " line missing:\n" << out;
  EXPECT_EQ(std::stoull(m[1]), mib * MIB);
  EXPECT_EQ(std::stoull(m[2]), mib);
  const uint64_t ns = std::stoull(m[3]);
  ASSERT_GT(ns, 0u);
  const uint64_t tenths = std::stoull(m[4]) * 10 + std::stoull(m[5]);
  EXPECT_EQ(tenths, mib * MIB * 10000 / ns) << m[0];
}

std::vector<std::string> guest_status_words(const std::string& trace_path) {
  std::vector<std::string> words;
  auto reader = trace::Reader::open(trace_path);
  EXPECT_TRUE(reader.ok()) << reader.error().describe();
  if (!reader.ok()) return words;
  for (;;) {
    auto e = (*reader)->next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || *e == nullptr) break;
    auto* w = std::get_if<trace::DeviceStatusWrite>(&(*e)->body);
    if (w != nullptr && w->source == trace::StatusSource::Guest) {
      words.push_back(std::to_string(w->new_status) + (w->accepted ? "" : "!"));
    }
  }
  return words;
}

class BlkBench : public guest_virtio::KvmDirTest {
 protected:
  BlkBench() : KvmDirTest("rrvm-blk-bench") {}

  // rrvm run with the image as its disk; returns the result, the console in *serial.
  boot::testing::ProcessResult run_rrvm(const std::string& append, std::string* serial) {
    const auto r = boot::testing::run_process(
        {RRVM_BINARY, "run", "--cpus", "1", "--disk", image(), "--append", append, "--trace",
         trace(), "--serial", (dir_ / "serial.txt").string()},
        120s);
    *serial = read_file(dir_ / "serial.txt");
    return r;
  }
  std::string image() const { return (dir_ / "disk.img").string(); }
  std::string trace() const { return (dir_ / "t.rrtrace").string(); }
};

TEST_F(BlkBench, WritesTaggedMibsReadsThemBackAndResetsTheDevice) {
  constexpr size_t BENCH_MIB = 3, IMAGE = (BENCH_MIB + 1) * MIB;
  write_image(image(), IMAGE);
  std::string serial;
  const auto r = run_rrvm("scenario=blk-bench:3", &serial);
  ASSERT_FALSE(r.timed_out) << serial << r.err;
  EXPECT_EQ(r.exit_code, 0) << serial << r.err;
  expect_pass_line(serial, "write", BENCH_MIB);
  expect_pass_line(serial, "read", BENCH_MIB);
  EXPECT_TRUE(std::regex_search(serial, std::regex("rrvm-guest: blk-bench flush ns=\\d+\n")))
      << serial;
  expect_bench_image(image(), BENCH_MIB, IMAGE);
  // One driver session: 0 1 3 11 15, and the reset at the end of the step.
  std::string seq;
  for (const auto& w : guest_status_words(trace())) seq += (seq.empty() ? "" : " ") + w;
  EXPECT_EQ(seq, "0 1 3 11 15 0");
}

TEST_F(BlkBench, ImageSmallerThanAskedFailsBeforeWriting) {
  write_image(image(), 1 * MIB);
  std::string serial;
  const auto r = run_rrvm("scenario=blk-bench:2", &serial);
  ASSERT_FALSE(r.timed_out) << serial << r.err;
  EXPECT_EQ(r.exit_code, 1) << serial << r.err;
  EXPECT_NE(serial.find("rrvm-guest: FAIL blk-bench: capacity 2048 sectors, 2 MiB need 4096\n"),
            std::string::npos)
      << serial;
  EXPECT_EQ(read_file(image()), std::string(MIB, static_cast<char>(FILL)));
  // The failed step left the device running; the guest resets it on its way out, as an OS
  // resets its devices when it powers off.
  EXPECT_NE(
      serial.find("rrvm-guest: virtio-mmio at 0xd0000000: resetting the device before exit\n"),
      std::string::npos)
      << serial;
  std::string seq;
  for (const auto& w : guest_status_words(trace())) seq += (seq.empty() ? "" : " ") + w;
  EXPECT_EQ(seq, "0 1 3 11 15 0");
}

TEST_F(BlkBench, MissingOrOutOfRangeSizeIsABadCommandLine) {
  write_image(image(), MIB);
  for (const char* step : {"blk-bench", "blk-bench:0", "blk-bench:65537", "blk-bench:x"}) {
    std::string serial;
    const auto r = run_rrvm(std::string("scenario=") + step, &serial);
    ASSERT_FALSE(r.timed_out) << step << serial;
    EXPECT_EQ(r.exit_code, 2) << step << "\n" << serial << r.err;
    EXPECT_EQ(serial.find("rrvm-guest: ready"), std::string::npos) << step << "\n" << serial;
  }
}

// QEMU gives a PVH kernel no virtio_mmio.device= words: the guest probes microvm's transports.
TEST_F(BlkBench, QemuMicrovmDiskFoundByProbing) {
  if (!boot::testing::in_path("qemu-system-x86_64")) {
    std::printf("skipped: qemu-system-x86_64 is not installed\n");
    GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }
  constexpr size_t BENCH_MIB = 2, IMAGE = (BENCH_MIB + 1) * MIB;
  write_image(image(), IMAGE);
  auto qemu = boot::testing::qemu_microvm_command("kvm", "64M");
  qemu.insert(qemu.end(), {"-drive", "id=d,file=" + image() + ",format=raw,if=none", "-device",
                           "virtio-blk-device,drive=d", "-kernel", RRVM_GUEST_ELF, "-append",
                           "scenario=blk-bench:2"});
  const auto r = boot::testing::run_process(qemu, 120s);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // isa-debug-exit: (status 0 << 1) | 1
  EXPECT_NE(
      r.out.find(
          "rrvm-guest: no virtio_mmio.device= entries: probing QEMU microvm's 24 transports at "
          "0xfeb00000\n"),
      std::string::npos)
      << r.out;
  expect_pass_line(r.out, "write", BENCH_MIB);
  expect_pass_line(r.out, "read", BENCH_MIB);
  expect_bench_image(image(), BENCH_MIB, IMAGE);
}

}  // namespace
}  // namespace rrvm
