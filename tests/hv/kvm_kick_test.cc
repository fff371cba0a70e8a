// kick(): immediate_exit + a signal, so run() returns Interrupted promptly whether the vCPU thread
// is inside the guest or about to enter it.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/hv/kvm_guest.h"

namespace rrvm::hv::testing {
namespace {

using Clock = std::chrono::steady_clock;

// out 0x10 (so the test knows the guest runs), then a tight loop.
const uint8_t SPIN_CODE[] = {
    0xe6, 0x10,  // out 0x10, al
    0xeb, 0xfe,  // spin: jmp spin
};
constexpr uint64_t SPIN_RIP = CODE_GPA + 2;

TEST(KvmKick, KickBeforeRunMakesRunReturnAtOnce) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(SPIN_CODE, {.irqchip = true}));
  g.vcpu->kick();
  auto e = g.vcpu->run();
  RRVM_ASSERT_OK(e);
  EXPECT_EQ(e->kind, Exit::Kind::Interrupted);
  auto regs = g.vcpu->get_regs();
  RRVM_ASSERT_OK(regs);
  EXPECT_EQ(regs->rip, CODE_GPA);  // the guest did not run

  g.vcpu->clear_kick();
  auto io = g.vcpu->run();
  RRVM_ASSERT_OK(io);
  EXPECT_EQ(io->kind, Exit::Kind::Io);
  EXPECT_EQ(io->address, 0x10u);
}

// Runs the vCPU on a thread that blocks every signal (as thread pools often do): run() must still
// be interruptible.
void run_on_blocking_thread(Vcpu& vcpu, Result<Exit>& out, std::atomic<bool>& entered) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  entered = true;
  out = vcpu.run();
}

TEST(KvmKick, KickFromAnotherThreadInterruptsASpinningGuest) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(SPIN_CODE, {.irqchip = true}));
  auto io = g.vcpu->run();
  RRVM_ASSERT_OK(io);
  ASSERT_EQ(io->kind, Exit::Kind::Io);

  for (int round = 0; round < 5; ++round) {
    g.vcpu->clear_kick();
    Result<Exit> result = make_error("not run");
    std::atomic<bool> entered{false};
    std::thread t(run_on_blocking_thread, std::ref(*g.vcpu), std::ref(result), std::ref(entered));
    while (!entered) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it spin in the guest
    const auto kicked = Clock::now();
    g.vcpu->kick();
    t.join();
    const auto latency = Clock::now() - kicked;
    RRVM_ASSERT_OK(result);
    EXPECT_EQ(result->kind, Exit::Kind::Interrupted);
    EXPECT_LT(latency, std::chrono::milliseconds(500)) << "round " << round;
    auto regs = g.vcpu->get_regs();
    RRVM_ASSERT_OK(regs);
    EXPECT_EQ(regs->rip, SPIN_RIP);
  }
}

}  // namespace
}  // namespace rrvm::hv::testing
