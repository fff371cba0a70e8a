// Debian's kernel from scripts/build-guest.sh (RRVM_LINUX_DIR), loaded by rrvm_boot and run on KVM.
// Where the CPU has VMX/SVM, Linux runs natively and boots the initramfs to its ready marker. On a
// KVM without them (KVM-PVM here) every guest instruction goes through KVM's emulator: the test
// then checks that the kernel starts and prints its banner (vmlinux) or that the bzImage's
// decompressor runs (below), and says which it checked. Skipped when the kernel was not fetched.
// With VMX/SVM, rrvm itself (the RRVM_BINARY machine, not this file's GuestVm) also boots the
// kernel with a virtio disk and rng, which the kernel can only find through rrvm's ACPI tables.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/boot/guest_vm.h"
#include "tests/boot/run_process.h"
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
  // Emulated, the kernel gets as far as reading rrvm's ACPI tables (the MADT for its CPUs and
  // IOAPIC) in about a minute; it dies later on an instruction the emulator refuses.
  const bool native = host_has_hardware_virtualization();
  const std::string marker =
      native ? "rrvm-initramfs: ready" : "ACPI: Using ACPI (MADT) for SMP configuration information";
  std::printf("vmlinux: CPU %s VMX/SVM: waiting for \"%s\"\n", native ? "has" : "lacks", marker.c_str());
  const GuestRun r = boot_linux(vm, "vmlinux", marker, native ? 120s : 240s);
  expect_matched(vm, r);
  EXPECT_NE(r.console.find("Command line: console=ttyS0 earlyprintk=ttyS0"), std::string::npos) << r.console;
  // rrvm's tables (vmm/boot/acpi), found through boot_params.acpi_rsdp_addr, and the IOAPIC the
  // MADT describes.
  EXPECT_NE(r.console.find("ACPI: RSDP 0x00000000000E0000"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23"), std::string::npos)
      << r.console;
  std::printf("vmlinux console (first 4000 bytes):\n%s\n", r.console.substr(0, 4000).c_str());
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

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Debian's kernel ignores virtio_mmio.device= (no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES), and rrvm
// passes none to Linux: the disk and rng exist for it only through the DSDT. With
// rrvm_initramfs.expect=vda,hwrng the initramfs prints its ready marker only after it read and
// wrote /dev/vda and read /dev/hwrng.
TEST(LinuxKvm, RrvmGivesTheKernelItsDiskAndRngThroughAcpi) {
  REQUIRE_LINUX();
  if (!host_has_hardware_virtualization()) {
    std::printf("skipped: the CPU lacks VMX/SVM; emulated, Linux would not reach its initramfs in minutes\n");
    GTEST_SKIP() << "the CPU lacks VMX/SVM";
  }
  GuestVm probe;
  RRVM_REQUIRE_KVM_VM(probe);
  for (const std::string kernel : {"bzImage", "vmlinux"}) {
    char tmpl[] = "/tmp/rrvm-linux-acpi-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::filesystem::path dir = tmpl;
    const std::string image = (dir / "vda.img").string();
    const std::string serial = (dir / "serial.txt").string();
    std::string bytes(1 << 20, '\0');
    for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<char>(i * 13 + 5);
    std::ofstream(image, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const auto r = testing::run_process(
        {RRVM_BINARY, "run", "--kernel", LINUX_DIR + "/" + kernel, "--initrd", LINUX_DIR + "/initramfs.cpio.gz",
         "--mem", "256M", "--cpus", "2", "--disk", image, "--rng", "--no-trace", "--serial", serial, "--append",
         "console=ttyS0 rrvm_initramfs.expect=vda,hwrng rrvm_initramfs.write_vda=1"},
        180s);
    const std::string console = slurp(serial);
    const std::string after = slurp(image);
    std::filesystem::remove_all(dir);
    EXPECT_FALSE(r.timed_out) << kernel << "\n" << console << r.err;
    EXPECT_EQ(r.exit_code, 0) << kernel << "\n" << console << r.err;
    EXPECT_NE(console.find("rrvm-initramfs: vda sectors=2048 "), std::string::npos) << kernel << "\n" << console;
    EXPECT_NE(console.find("rrvm-initramfs: vda write ok"), std::string::npos) << kernel << "\n" << console;
    EXPECT_NE(console.find("rrvm-initramfs: hwrng virtio_rng.0 bytes="), std::string::npos) << kernel << "\n" << console;
    EXPECT_NE(console.find("rrvm-initramfs: ready"), std::string::npos) << kernel << "\n" << console;
    const std::string marker = "rrvm-initramfs wrote sector 1";
    EXPECT_EQ(after.substr(512, marker.size()), marker) << kernel;
  }
}

}  // namespace
}  // namespace rrvm::boot
