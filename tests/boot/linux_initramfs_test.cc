// The Linux initramfs from scripts/build-guest.sh (RRVM_LINUX_DIR): it must carry Debian's virtio,
// virtio_ring, virtio_mmio, virtio_blk and virtio_rng modules for the packaged kernel,
// uncompressed, with an /init that loads each after its dependencies; and, booted by QEMU (TCG, so
// it runs on any host) on microvm with a virtio disk and rng, it must load them and use /dev/vda
// and /dev/hwrng. Skipped until build-guest.sh has run; the QEMU test also without
// qemu-system-x86_64.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/boot/run_process.h"

namespace rrvm::boot {
namespace {

using namespace std::chrono_literals;

const std::string LINUX_DIR = RRVM_LINUX_DIR;
const std::vector<std::string> WANTED = {"virtio", "virtio_ring", "virtio_mmio", "virtio_blk",
                                         "virtio_rng"};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

#define REQUIRE_INITRAMFS()                                                                    \
  do {                                                                                         \
    if (!exists(LINUX_DIR + "/initramfs.cpio.gz") || !exists(LINUX_DIR + "/kernel-release")) { \
      std::printf("skipped: no initramfs in %s (run scripts/build-guest.sh)\n",                \
                  LINUX_DIR.c_str());                                                          \
      GTEST_SKIP() << "no initramfs in " << LINUX_DIR << " (run scripts/build-guest.sh)";      \
    }                                                                                          \
  } while (0)

std::string kernel_release() {
  std::string rel = read_file(LINUX_DIR + "/kernel-release");
  while (!rel.empty() && (rel.back() == '\n' || rel.back() == ' ')) rel.pop_back();
  return rel;
}

// The files of a newc ("070701") cpio archive by path; false on a malformed archive.
bool parse_newc(const std::string& a, std::map<std::string, std::string>* files, std::string* why) {
  size_t pos = 0;
  auto field = [&](size_t i) { return std::stoul(a.substr(pos + 6 + 8 * i, 8), nullptr, 16); };
  auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
  for (;;) {
    if (pos + 110 > a.size() || a.compare(pos, 6, "070701") != 0) {
      *why = "no newc header at byte " + std::to_string(pos);
      return false;
    }
    const size_t size = field(6), name_size = field(11);
    const size_t name_at = pos + 110, data_at = align4(name_at + name_size);
    if (name_size == 0 || data_at + size > a.size()) {
      *why = "entry at byte " + std::to_string(pos) + " runs past the archive";
      return false;
    }
    const std::string name = a.substr(name_at, name_size - 1);  // name_size counts the NUL
    if (name == "TRAILER!!!") return true;
    (*files)[name] = a.substr(data_at, size);
    pos = align4(data_at + size);
  }
}

// The value of `key=` in a module's .modinfo strings (NUL-separated), or "" when absent.
std::string modinfo(const std::string& ko, const std::string& key) {
  const std::string needle = std::string(1, '\0') + key + "=";
  const size_t at = ko.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = at + needle.size();
  return ko.substr(begin, ko.find('\0', begin) - begin);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string w; std::getline(ss, w, sep);) {
    if (!w.empty()) out.push_back(w);
  }
  return out;
}

TEST(LinuxInitramfs, CarriesTheVirtioModulesAndLoadsThemAfterTheirDependencies) {
  REQUIRE_INITRAMFS();
  const auto unzipped =
      testing::run_process({"gzip", "-dc", LINUX_DIR + "/initramfs.cpio.gz"}, 60s);
  ASSERT_EQ(unzipped.exit_code, 0) << unzipped.err;
  std::map<std::string, std::string> files;
  std::string why;
  ASSERT_TRUE(parse_newc(unzipped.out, &files, &why)) << why;
  ASSERT_TRUE(files.count("init")) << "no /init";
  ASSERT_TRUE(files.count("bin/busybox")) << "no /bin/busybox";

  // The order /init loads modules in: its `load NAME` lines.
  std::vector<std::string> order;
  const std::regex load_line("load ([A-Za-z0-9_]+)");
  for (const std::string& line : split(files["init"], '\n')) {
    std::smatch m;
    if (std::regex_match(line, m, load_line)) order.push_back(m[1]);
  }
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < order.size(); i++) {
    EXPECT_TRUE(position.emplace(order[i], i).second) << order[i] << " is loaded twice";
  }
  const std::string rel = kernel_release();
  for (const std::string& name : WANTED)
    EXPECT_TRUE(position.count(name)) << name << " is not loaded";
  for (const std::string& name : order) {
    const std::string path = "lib/modules/" + name + ".ko";
    ASSERT_TRUE(files.count(path)) << "/init loads " << name << " but there is no /" << path;
    const std::string& ko = files[path];
    EXPECT_EQ(ko.compare(0, 4,
                         "\x7f"
                         "ELF"),
              0)
        << path << " is not an uncompressed ELF module";
    EXPECT_EQ(modinfo(ko, "name"), name) << path;
    EXPECT_EQ(modinfo(ko, "vermagic").substr(0, rel.size() + 1), rel + " ")
        << path << " is not for kernel " << rel;
    for (const std::string& dep : split(modinfo(ko, "depends"), ',')) {
      ASSERT_TRUE(position.count(dep))
          << name << " depends on " << dep << ", which /init does not load";
      EXPECT_LT(position[dep], position[name])
          << name << " is loaded before its dependency " << dep;
    }
  }
  std::printf("initramfs load order:");
  for (const auto& name : order) std::printf(" %s", name.c_str());
  std::printf("\n");
}

// Debian's kernel is built without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so it finds virtio-mmio
// devices only through ACPI: microvm with ACPI (its DSDT lists them). Under plain TCG on a loaded
// host the kernel's TSC calibration against the PIT fails and the boot hangs; -icount ties both
// clocks to the instruction count, so it always calibrates. The boot takes ~15 s.
TEST(LinuxInitramfs, QemuTcgMicrovmLoadsModulesAndUsesVdaAndHwrng) {
  REQUIRE_INITRAMFS();
  if (!testing::in_path("qemu-system-x86_64")) {
    std::printf("skipped: qemu-system-x86_64 is not installed\n");
    GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  }
  char tmpl[] = "/tmp/rrvm-initramfs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::string image = (dir / "vda.img").string();
  std::string bytes(1 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<char>(i * 13 + 5);
  std::ofstream(image, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  auto qemu = testing::qemu_microvm_command("tcg", "256M");
  qemu.insert(qemu.end(),
              {"-icount", "shift=3", "-drive", "id=d,file=" + image + ",format=raw,if=none",
               "-device", "virtio-blk-device,drive=d", "-device", "virtio-rng-device", "-kernel",
               LINUX_DIR + "/bzImage", "-initrd", LINUX_DIR + "/initramfs.cpio.gz", "-append",
               "console=ttyS0 rrvm_initramfs.expect=vda,hwrng rrvm_initramfs.write_vda=1"});
  auto r = testing::run_process(qemu, 300s);
  // The kernel's serial console ends lines with "\r\n".
  std::erase(r.out, '\r');
  const std::string after = read_file(image);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // isa-debug-exit: (status 0 << 1) | 1
  EXPECT_NE(
      r.out.find("rrvm-initramfs: modules virtio_ring virtio virtio_mmio virtio_blk virtio_rng\n"),
      std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("rrvm-initramfs: vda sectors=2048 sector0=05121f2c394653606d7a8794a1aebbc8 "),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rrvm-initramfs: vda write ok\n"), std::string::npos) << r.out;
  const std::string marker = "rrvm-initramfs wrote sector 1";
  EXPECT_EQ(after.substr(0, 512), bytes.substr(0, 512)) << "sector 0 changed";
  EXPECT_EQ(after.substr(512, 512), marker + std::string(512 - marker.size(), '\0'));
  EXPECT_EQ(after.substr(1024), bytes.substr(1024)) << "the guest wrote past sector 1";
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.out, m, std::regex("rrvm-initramfs: hwrng virtio_rng\\.0 bytes=([0-9a-f]{32})\n")))
      << r.out;
  EXPECT_NE(m[1].str(), std::string(32, '0'));
  EXPECT_NE(r.out.find("rrvm-initramfs: ready kernel=" + kernel_release() + " cpus=1\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("rrvm-initramfs: FAIL"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rrvm::boot
