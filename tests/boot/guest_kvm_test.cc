// Boots the real rrvm guest on KVM through rrvm_boot's plans: rrvm's 64-bit entry (every vCPU
// entering at once) and PVH (the guest starting its APs by INIT-SIPI-SIPI), with the scripted
// scenarios whose outcome the VMM must handle (exit status, internal error, triple fault, reset).
#include <gtest/gtest.h>

#include <regex>

#include "tests/boot/guest_vm.h"
#include "trace/events.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

using testing::GuestRun;
using testing::GuestVm;
using namespace std::chrono_literals;

constexpr uint64_t MEM = 32ull << 20;

GuestRun boot_guest(GuestVm& vm, const std::string& cmdline, uint32_t vcpus, BootProtocol protocol) {
  const Status booted = vm.boot(KernelSpec{RRVM_GUEST_ELF, "", cmdline, vcpus, protocol}, MEM);
  EXPECT_TRUE(booted.ok()) << booted.error().describe();
  if (!booted.ok()) return {};
  GuestRun r = vm.run(30s);
  EXPECT_FALSE(r.timed_out) << "console so far:\n" << r.console;
  EXPECT_EQ(r.harness_error, "") << r.console;
  return r;
}

void expect_ready_and_ticks(const GuestRun& r, uint32_t cpus, int ticks) {
  EXPECT_NE(r.console.find("rrvm-guest: ready cpus=" + std::to_string(cpus) + " clocksource=kvmclock\n"),
            std::string::npos)
      << r.console;
  const std::regex tick(R"(tick (\d+) kvmclock_ns=(\d+) wall_ns=(\d+) tsc=(\d+)\n)");
  int seen = 0;
  uint64_t last_ns = 0;
  for (std::sregex_iterator it(r.console.begin(), r.console.end(), tick), end; it != end; ++it) {
    ++seen;
    EXPECT_EQ(std::stoull((*it)[1]), static_cast<uint64_t>(seen));
    const uint64_t ns = std::stoull((*it)[2]);
    EXPECT_GT(ns, last_ns);
    last_ns = ns;
  }
  EXPECT_EQ(seen, ticks) << r.console;
}

class GuestKvm : public ::testing::TestWithParam<BootProtocol> {};

TEST_P(GuestKvm, TwoVcpusReadyTicksAndExitPass) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "tick_ms=20 scenario=msr-check,ticks:2", 2, GetParam());
  expect_ready_and_ticks(r, 2, 2);
  EXPECT_NE(r.console.find("rrvm-guest: msr-check ok cpu=0"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find(GetParam() == BootProtocol::Pvh ? "entry=pvh" : "entry=rrvm64"), std::string::npos);
  EXPECT_EQ(r.exit_status, RRVM_EXIT_PASS) << r.console;
  std::printf("guest console (%s):\n%s", GetParam() == BootProtocol::Pvh ? "pvh" : "rrvm64", r.console.c_str());

  // The AP wrote its known MSR values before reporting online (the host reads them after a stop).
  std::vector<hv::MsrEntry> msrs = {{0x175, 0}, {0xc0000102, 0}};
  auto got = vm.vcpu(1).get_msrs(msrs, trace::SyncLevel::None);
  ASSERT_TRUE(got.ok()) << got.error().describe();
  ASSERT_EQ(*got, 2u);
  EXPECT_EQ(msrs[0].value, RRVM_GUEST_SYSENTER_ESP(1));
  EXPECT_EQ(msrs[1].value, RRVM_GUEST_KERNEL_GS_BASE(1));
}

TEST_P(GuestKvm, ExitCodeReachesTheDebugExitPort) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "scenario=exit:42", 1, GetParam());
  EXPECT_EQ(r.exit_status, 42) << r.console;
}

INSTANTIATE_TEST_SUITE_P(Entry, GuestKvm, ::testing::Values(BootProtocol::Auto, BootProtocol::Pvh),
                         [](const auto& info) { return info.param == BootProtocol::Pvh ? "Pvh" : "Rrvm64"; });

TEST(GuestKvmScenario, BadCommandLineFailsBeforeReady) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "scenario=no-such-step", 1, BootProtocol::Auto);
  EXPECT_EQ(r.exit_status, RRVM_EXIT_BAD_CMDLINE) << r.console;
  EXPECT_EQ(r.console.find("ready"), std::string::npos);
}

TEST(GuestKvmScenario, TripleFaultShutsTheVcpuDown) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "scenario=triple-fault", 1, BootProtocol::Auto);
  ASSERT_TRUE(r.fatal.has_value()) << r.console;
  EXPECT_EQ(*r.fatal, hv::Exit::Kind::Shutdown);
  EXPECT_FALSE(r.exit_status.has_value());
}

TEST(GuestKvmScenario, ResetWritesTheResetPort) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "scenario=reset", 1, BootProtocol::Auto);
  EXPECT_TRUE(r.reset_requested) << r.console;
  EXPECT_NE(r.console.find("reset: writing 0x06 to port 0xcf9"), std::string::npos);
}

// KVM_KVMCLOCK_CTRL while the VM is stopped makes KVM set PVCLOCK_GUEST_STOPPED in the BSP's
// pvclock area; the guest reports it once before its next tick and clears it.
TEST(GuestKvmScenario, PvclockGuestStoppedIsNoticedOnce) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  ASSERT_TRUE(vm.boot(KernelSpec{RRVM_GUEST_ELF, "", "tick_ms=10 scenario=ticks:4", 1}, MEM).ok());
  GuestRun first = vm.run(30s, "tick 2 ");
  ASSERT_TRUE(first.matched) << first.console;
  EXPECT_EQ(first.console.find("guest-stopped"), std::string::npos);
  const Status ctrl = vm.vcpu(0).kvmclock_ctrl();
  ASSERT_TRUE(ctrl.ok()) << ctrl.error().describe();
  GuestRun rest = vm.run(30s);
  EXPECT_EQ(rest.exit_status, RRVM_EXIT_PASS) << rest.console;
  const size_t stopped = rest.console.find("rrvm-guest: pvclock guest-stopped cpu=0 count=1 kvmclock_ns=");
  ASSERT_NE(stopped, std::string::npos) << rest.console;
  EXPECT_LT(stopped, rest.console.find("tick 4 ")) << "reported before the next tick";
  EXPECT_EQ(rest.console.find("count=2"), std::string::npos) << "cleared after the first report";
}

// The guest's own check: a kvmclock set back while the VM was stopped fails it with status 4.
TEST(GuestKvmScenario, KvmclockGoingBackwardsFailsTheGuest) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  ASSERT_TRUE(vm.boot(KernelSpec{RRVM_GUEST_ELF, "", "tick_ms=10 scenario=ticks:4", 1}, MEM).ok());
  ASSERT_TRUE(vm.run(30s, "tick 2 ").matched);
  auto clock = vm.vm().get_clock();
  ASSERT_TRUE(clock.ok()) << clock.error().describe();
  ASSERT_TRUE(vm.vm().set_clock(hv::ClockData{.clock_ns = clock->clock_ns / 2}).ok());
  const GuestRun r = vm.run(30s);
  EXPECT_EQ(r.exit_status, RRVM_EXIT_CLOCK_BACKWARDS) << r.console;
  EXPECT_NE(r.console.find("rrvm-guest: FAIL kvmclock went backwards"), std::string::npos) << r.console;
}

// Under KVM's instruction emulator (no VMX/SVM) cmpxchg16b cannot be emulated: an internal error.
// With hardware virtualization the CPU runs it and the guest passes.
TEST(GuestKvmScenario, BadInstructionIsAnInternalErrorUnderEmulation) {
  GuestVm vm;
  RRVM_REQUIRE_KVM_VM(vm);
  const GuestRun r = boot_guest(vm, "scenario=bad-insn", 1, BootProtocol::Auto);
  if (r.fatal) {
    EXPECT_EQ(*r.fatal, hv::Exit::Kind::InternalError) << r.console;
    std::printf("bad-insn: KVM could not emulate cmpxchg16b (internal error), as expected without VMX/SVM\n");
  } else {
    EXPECT_EQ(r.exit_status, RRVM_EXIT_PASS) << r.console;
    EXPECT_NE(r.console.find("cmpxchg16b completed"), std::string::npos);
    std::printf("bad-insn: the CPU ran cmpxchg16b natively (hardware virtualization)\n");
  }
}

}  // namespace
}  // namespace rrvm::boot
