// QEMU boots the very same rrvm guest ELF through its PVH note (`-kernel`), on the microvm machine,
// with 2 vCPUs (the guest starts the AP itself) and QEMU's isa-debug-exit device. With KVM the
// guest runs to its ready marker and ticks; if QEMU can only use TCG (no kvmclock), the guest must
// say kvmclock is missing and fail with RRVM_EXIT_NO_KVMCLOCK. Skipped only without QEMU.
#include <gtest/gtest.h>

#include <regex>

#include "tests/boot/run_process.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

using testing::ProcessResult;
using namespace std::chrono_literals;

constexpr const char* QEMU = "qemu-system-x86_64";

ProcessResult run_qemu(const std::string& append) {
  return testing::run_process({QEMU, "-M", "microvm", "-accel", "kvm", "-accel", "tcg", "-m", "64M", "-smp", "2",
                               "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot", "-device",
                               "isa-debug-exit,iobase=0x501,iosize=2", "-kernel", RRVM_GUEST_ELF, "-append", append},
                              60s);
}

// QEMU's isa-debug-exit turns the status v into the process exit code (v << 1) | 1.
int qemu_exit_code(int status) { return (status << 1) | 1; }

#define REQUIRE_QEMU()                                                          \
  do {                                                                          \
    if (!testing::in_path(QEMU)) {                                              \
      std::printf("skipped: %s is not installed\n", QEMU);                      \
      GTEST_SKIP() << QEMU << " is not installed";                              \
    }                                                                           \
  } while (0)

TEST(GuestQemu, PvhBootReadyTicksAndExitCode) {
  REQUIRE_QEMU();
  const ProcessResult r = run_qemu("cpus=2 tick_ms=20 scenario=ticks:2");
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_NE(r.out.find("rrvm-guest: boot entry=pvh"), std::string::npos) << r.out << r.err;
  if (r.out.find("kvmclock missing") != std::string::npos) {
    std::printf("QEMU ran the guest without KVM (TCG): checking the kvmclock-missing failure\n%s", r.out.c_str());
    EXPECT_EQ(r.exit_code, qemu_exit_code(RRVM_EXIT_NO_KVMCLOCK)) << r.out << r.err;
    return;
  }
  std::printf("QEMU with KVM:\n%s", r.out.c_str());
  EXPECT_NE(r.out.find("rrvm-guest: ready cpus=2 clocksource=kvmclock\n"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\ntick 1 kvmclock_ns=\d+ wall_ns=\d+ tsc=\d+\n)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\ntick 2 kvmclock_ns=\d+ wall_ns=\d+ tsc=\d+\n)"))) << r.out;
  EXPECT_EQ(r.exit_code, qemu_exit_code(RRVM_EXIT_PASS)) << r.out << r.err;
}

TEST(GuestQemu, BadCommandLineExitCode) {
  REQUIRE_QEMU();
  const ProcessResult r = run_qemu("scenario=ticks:x");
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_NE(r.out.find("rrvm-guest: FAIL bad command line"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.exit_code, qemu_exit_code(RRVM_EXIT_BAD_CMDLINE)) << r.out << r.err;
}

}  // namespace
}  // namespace rrvm::boot
