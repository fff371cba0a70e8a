// The rrvm guest drives rrvm's virtio-blk and virtio-rng through `rrvm run --disk --rng`: the
// host pre-fills the image, the guest writes a known pattern to sectors 0..3 and reads back
// sector 8, and the trace must show each driver's status sequence of virtio 1.x §3.1.1. The
// hostile step clears DRIVER_OK without a reset, which rrvm must refuse while the VM runs on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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

constexpr size_t SECTOR = 512;
constexpr size_t IMAGE_SECTORS = 64;
constexpr size_t GUEST_SECTORS = 4;  // virtio_blk.c: BLK_WRITE_SECTORS
constexpr size_t HOST_SECTOR = 8;    // virtio_blk.c: BLK_HOST_SECTOR

uint8_t host_byte(size_t offset) { return static_cast<uint8_t>(offset * 13 + 5); }

// virtio_blk.c's fill_pattern: "rrvm-sector-<s>" then (s * 0x35 + j * 7 + 1) mod 256.
uint8_t guest_byte(size_t sector, size_t j) {
  const std::string prefix = "rrvm-sector-" + std::to_string(sector);
  if (j < prefix.size()) return static_cast<uint8_t>(prefix[j]);
  return static_cast<uint8_t>(sector * 0x35 + j * 7 + 1);
}

std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(b, sizeof(b), "%02x", p[i]);
    s += b;
  }
  return s;
}

uint32_t fnv1a(const uint8_t* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct StatusWrite {
  std::string device;
  uint32_t new_status;
  trace::StatusSource source;
  bool accepted;
};

std::vector<StatusWrite> status_writes(const std::string& path) {
  std::vector<StatusWrite> out;
  auto reader = trace::Reader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error().describe();
  if (!reader.ok()) return out;
  for (;;) {
    auto e = (*reader)->next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || *e == nullptr) break;
    if (auto* w = std::get_if<trace::DeviceStatusWrite>(&(*e)->body)) {
      out.push_back({std::string(w->device), w->new_status, w->source, w->accepted});
    }
  }
  return out;
}

// The guest's status writes per device, as "new_status[!]" words ('!' marks a refused write).
std::map<std::string, std::string> guest_sequences(const std::vector<StatusWrite>& writes) {
  std::map<std::string, std::string> seq;
  for (const auto& w : writes) {
    if (w.source != trace::StatusSource::Guest) continue;
    std::string& s = seq[w.device];
    if (!s.empty()) s += ' ';
    s += std::to_string(w.new_status) + (w.accepted ? "" : "!");
  }
  return seq;
}

void write_host_image(const std::string& path, std::vector<uint8_t>* image) {
  image->resize(IMAGE_SECTORS * SECTOR);
  for (size_t i = 0; i < image->size(); i++) (*image)[i] = host_byte(i);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(image->data()),
            static_cast<std::streamsize>(image->size()));
}

// The line virtio_blk.c prints for an image made by write_host_image.
std::string expected_blk_line(const std::vector<uint8_t>& image) {
  const uint8_t* s8 = image.data() + HOST_SECTOR * SECTOR;
  char fnv[16];
  std::snprintf(fnv, sizeof(fnv), "%08x", fnv1a(s8, SECTOR));
  return "rrvm-guest: virtio-blk ok capacity=" + std::to_string(IMAGE_SECTORS) +
         " flush=yes wrote=4 read-back=ok host-sector8=" + hex(s8, 16) +
         " host-sector8-fnv=" + fnv + "\n";
}

// The image after the guest ran: its pattern in sectors 0..3, the host's bytes everywhere else.
void expect_guest_pattern(const std::string& path, const std::vector<uint8_t>& image) {
  const std::string after = read_file(path);
  ASSERT_EQ(after.size(), image.size());
  for (size_t i = 0; i < after.size(); i++) {
    const size_t sector = i / SECTOR;
    const uint8_t want = sector < GUEST_SECTORS ? guest_byte(sector, i % SECTOR) : host_byte(i);
    ASSERT_EQ(static_cast<uint8_t>(after[i]), want) << "image byte " << i;
  }
}

class GuestVirtio : public guest_virtio::KvmDirTest {
 protected:
  GuestVirtio() : KvmDirTest("rrvm-guest-virtio") {}

  boot::testing::ProcessResult run(const std::vector<std::string>& extra,
                                   const std::string& append) {
    std::vector<std::string> argv = {RRVM_BINARY, "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const std::string& a : {std::string("--append"), append, std::string("--trace"),
                                 trace_path(), std::string("--serial"), serial_path()})
      argv.push_back(a);
    return boot::testing::run_process(argv, 180s);
  }
  std::string trace_path() const { return (dir_ / "t.rrtrace").string(); }
  std::string serial_path() const { return (dir_ / "serial.txt").string(); }
  std::string image_path() const { return (dir_ / "disk.img").string(); }
};

TEST_F(GuestVirtio, BlkWriteFlushReadBackAndRng) {
  std::vector<uint8_t> image;
  write_host_image(image_path(), &image);
  const auto r = run({"--disk", image_path(), "--rng"}, "scenario=virtio-blk,virtio-rng");
  const std::string serial = read_file(serial_path());
  ASSERT_FALSE(r.timed_out) << serial << r.err;
  EXPECT_EQ(r.exit_code, 0) << serial << r.err;

  const std::string blk_line = expected_blk_line(image);
  EXPECT_NE(serial.find(blk_line), std::string::npos) << "want: " << blk_line << "serial:\n"
                                                      << serial;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(serial, m, std::regex("rrvm-guest: virtio-rng ok bytes=([0-9a-f]{32})\n")))
      << serial;
  EXPECT_NE(m[1].str(), std::string(32, '0'));
  EXPECT_NE(serial.find("rrvm-guest: scenario complete"), std::string::npos) << serial;

  expect_guest_pattern(image_path(), image);

  // Each driver: reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, then the reset at the end.
  const auto seq = guest_sequences(status_writes(trace_path()));
  ASSERT_EQ(seq.size(), 2u);
  for (const auto& [device, words] : seq) EXPECT_EQ(words, "0 1 3 11 15 0") << device;
}

TEST_F(GuestVirtio, ClearingDriverOkIsRefusedAndTheVmRunsOn) {
  const auto r = run({"--rng"}, "scenario=virtio-bad-status,virtio-rng");
  const std::string serial = read_file(serial_path());
  ASSERT_FALSE(r.timed_out) << serial << r.err;
  EXPECT_EQ(r.exit_code, 0) << serial << r.err;
  EXPECT_NE(
      serial.find(
          "rrvm-guest: virtio-bad-status wrote=11 status-before=15 status-after=15 refused\n"),
      std::string::npos)
      << serial;
  // The device still works after the refused write and a reset.
  EXPECT_TRUE(
      std::regex_search(serial, std::regex("rrvm-guest: virtio-rng ok bytes=[0-9a-f]{32}\n")))
      << serial;
  const auto seq = guest_sequences(status_writes(trace_path()));
  ASSERT_EQ(seq.size(), 1u);
  EXPECT_EQ(seq.begin()->second, "0 1 3 11 15 11! 0 0 1 3 11 15 0");
}

// The same guest ELF under QEMU's microvm (PVH boot). QEMU does not append virtio_mmio.device=
// words for a PVH kernel, so the test names all 24 microvm transports (512 bytes each from
// 0xfeb00000); the guest skips the empty ones (DeviceID 0).
TEST_F(GuestVirtio, SameDriversUnderQemuMicrovm) {
  if (!boot::testing::in_path("qemu-system-x86_64")) {
    std::printf("skipped: qemu-system-x86_64 is not installed\n");
    GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }
  std::vector<uint8_t> image;
  write_host_image(image_path(), &image);
  std::string append = "cpus=1 scenario=virtio-blk,virtio-rng";
  for (int i = 0; i < 24; i++) {
    char word[64];
    std::snprintf(word, sizeof(word), " virtio_mmio.device=512@0x%x:%d", 0xfeb00000u + i * 512u,
                  5 + i);
    append += word;
  }
  auto qemu = boot::testing::qemu_microvm_command("kvm", "64M");
  qemu.insert(qemu.end(), {"-device", "virtio-blk-device,drive=d", "-drive",
                           "id=d,file=" + image_path() + ",format=raw,if=none", "-device",
                           "virtio-rng-device", "-kernel", RRVM_GUEST_ELF, "-append", append});
  const auto r = boot::testing::run_process(qemu, 120s);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // isa-debug-exit: (status 0 << 1) | 1
  EXPECT_NE(r.out.find(expected_blk_line(image)), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("rrvm-guest: virtio-rng ok bytes=[0-9a-f]{32}\n")))
      << r.out;
  expect_guest_pattern(image_path(), image);
}

}  // namespace
}  // namespace rrvm
