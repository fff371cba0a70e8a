// Debian's kernel from scripts/build-guest.sh (RRVM_LINUX_DIR), loaded by rrvm_boot and run on KVM.
// Where the CPU has VMX/SVM, Linux runs natively and boots the initramfs to its ready marker. On a
// KVM without them (KVM-PVM here) every guest instruction goes through KVM's emulator: the test
// then checks that the kernel starts and prints its banner (vmlinux) or that the bzImage's
// decompressor runs (below), and says which it checked. Skipped when the kernel was not fetched.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/boot/guest_vm.h"
#include "vmm/base/fd.h"

namespace rrvm::boot {
namespace {

using testing::GuestRun;
using testing::GuestVm;
using namespace std::chrono_literals;

const std::string LINUX_DIR = RRVM_LINUX_DIR;

bool host_has_hardware_virtualization() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      if (w == "vmx" || w == "svm") return true;
    }
    return false;
  }
  return false;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

#define REQUIRE_LINUX()                                                                        \
  do {                                                                                         \
    if (!exists(LINUX_DIR + "/vmlinux") || !exists(LINUX_DIR + "/initramfs.cpio.gz")) {        \
      std::printf("skipped: no kernel in %s (run scripts/build-guest.sh)\n", LINUX_DIR.c_str()); \
      GTEST_SKIP() << "no kernel in " << LINUX_DIR << " (run scripts/build-guest.sh)";        \
    }                                                                                          \
  } while (0)

Status load_linux(GuestVm& vm, const std::string& kernel, const std::string& extra_cmdline) {
  KernelSpec spec{LINUX_DIR + "/" + kernel, LINUX_DIR + "/initramfs.cpio.gz",
                  "console=ttyS0 earlyprintk=ttyS0" + extra_cmdline, 1};
  return vm.boot(spec, 256ull << 20);
}

GuestRun boot_linux(GuestVm& vm, const std::string& kernel, const std::string& stop_when,
                    std::chrono::milliseconds timeout) {
  const Status booted = load_linux(vm, kernel, "");
  EXPECT_TRUE(booted.ok()) << booted.error().describe();
  if (!booted.ok()) return {};
  return vm.run(timeout, stop_when);
}

void expect_matched(GuestVm& vm, const GuestRun& r) {
  EXPECT_TRUE(r.matched) << "console:\n" << r.console << "\nfatal=" << (r.fatal ? static_cast<int>(*r.fatal) : -1)
                         << " harness=" << r.harness_error << "\n" << vm.describe_vcpus();
}

TEST(LinuxKvm, VmlinuxStartsAndPrintsItsBanner) {
  REQUIRE_LINUX();
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  // Emulated, the banner and the command line (read through the zero page) take about a minute.
  const bool native = host_has_hardware_virtualization();
  const std::string marker = native ? "rrvm-initramfs: ready" : "Command line: console=ttyS0 earlyprintk=ttyS0";
  std::printf("vmlinux: CPU %s VMX/SVM: waiting for \"%s\"\n", native ? "has" : "lacks", marker.c_str());
  const GuestRun r = boot_linux(vm, "vmlinux", marker, native ? 120s : 240s);
  expect_matched(vm, r);
  std::printf("vmlinux console (first 2000 bytes):\n%s\n", r.console.substr(0, 2000).c_str());
}

// Emulated, decompressing the xz payload takes hours, and Debian's decompressor prints nothing
// (no CONFIG_X86_VERBOSE_BOOTUP). Instead: the decompressor writes the kernel ELF in place at the
// load address (nokaslr keeps it there), so its first page must turn into the first page of the
// vmlinux that scripts/extract-vmlinux.sh took from the same bzImage.
TEST(LinuxKvm, BzImageEntersAndDecompresses) {
  REQUIRE_LINUX();
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  if (host_has_hardware_virtualization()) {
    std::printf("bzImage: CPU has VMX/SVM: waiting for the initramfs\n");
    expect_matched(vm, boot_linux(vm, "bzImage", "rrvm-initramfs: ready", 120s));
    return;
  }
  std::printf("bzImage: CPU lacks VMX/SVM: waiting for the decompressed ELF header at the load address\n");
  auto vmlinux = read_file(LINUX_DIR + "/vmlinux", 256ull << 20);
  ASSERT_TRUE(vmlinux.ok()) << vmlinux.error().describe();
  const std::string first_page = vmlinux->substr(0, 4096);
  const Status booted = load_linux(vm, "bzImage", " nokaslr");
  ASSERT_TRUE(booted.ok()) << booted.error().describe();
  std::string loaded(4096, '\0');
  for (int waited = 0; waited < 120; waited += 5) {
    const GuestRun r = vm.run(5s);
    ASSERT_FALSE(r.fatal.has_value()) << vm.describe_vcpus();
    ASSERT_EQ(r.harness_error, "");
    ASSERT_TRUE(vm.memory().read(vm.plan().kernel_start, loaded.data(), loaded.size()).ok());
    if (loaded == first_page) break;
  }
  EXPECT_EQ(loaded.substr(0, 4), "\x7f" "ELF") << vm.describe_vcpus();
  EXPECT_TRUE(loaded == first_page) << "the load address does not hold the decompressed kernel's first page";
}

}  // namespace
}  // namespace rrvm::boot
