// The control logic on real KVM: a one-vCPU long-mode guest driven through VcpuSet, VmControl and
// kvmclock, with the vCPU thread kicked out of KVM_RUN by signals. Skips (printing why) when
// /dev/kvm cannot be used. Guests are a few instructions: every one costs ~2 us on hosts where
// KVM emulates.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/hv/kvm_guest.h"
#include "vmm/core/guest_memory.h"
#include "vmm/core/main_loop.h"
#include "vmm/core/request_queue.h"
#include "vmm/core/vcpu_set.h"
#include "vmm/core/vm_control.h"
#include "vmm/devices/debug_exit.h"
#include "vmm/devices/kvmclock.h"
#include "vmm/hv/cpuid.h"
#include "vmm/hv/kvm/kvm.h"
#include "vmm/hv/x86_long_mode.h"

namespace rrvm::core {
namespace {

constexpr uint64_t RAM = 2 << 20;
constexpr uint64_t CODE = 0x1000, PVCLOCK = 0x3000, STACK = 0x8000;

// Counts the guest's writes to port 0x80.
class CountingPort : public BusDevice {
 public:
  std::string name() const override { return "post"; }
  void read(uint64_t, std::span<uint8_t> d) override { std::memset(d.data(), 0, d.size()); }
  void write(uint64_t, std::span<const uint8_t>) override { ++writes; }
  std::atomic<uint64_t> writes{0};
};

// Enables kvmclock with its pvclock page at PVCLOCK, then writes port 0x80 forever.
const uint8_t TICKER[] = {
    0xb9, 0x01, 0x4d, 0x56, 0x4b,  // mov ecx, MSR_KVM_SYSTEM_TIME_NEW
    0xb8, 0x01, 0x30, 0x00, 0x00,  // mov eax, PVCLOCK | 1
    0x31, 0xd2,                    // xor edx, edx
    0x0f, 0x30,                    // wrmsr
    0xb0, 0x2a,                    // loop: mov al, 42
    0xe6, 0x80,                    // out 0x80, al
    0xeb, 0xfa,                    // jmp loop
};

// Ends the VM through the debug-exit port with status 5.
const uint8_t EXIT5[] = {
    0x66, 0xba, 0x01, 0x05,  // mov dx, 0x501
    0xb0, 0x05,              // mov al, 5
    0xee,                    // out dx, al
    0xeb, 0xfe,              // jmp $
};

class KvmCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kvm = hv::open_kvm();
    if (!kvm.ok()) {
      std::printf("KVM unavailable: %s\n", kvm.error().describe().c_str());
      GTEST_SKIP() << "KVM unavailable: " << kvm.error().describe();
    }
    hv_ = std::move(kvm).value();
  }
  void TearDown() override {
    if (vcpus_) vcpus_->exit_threads();
  }

  // VM with irqchip, 2 MiB of RAM, one vCPU in long mode at CODE running `code`; the control
  // logic assembled as the machine does; the VM is in prelaunch.
  void create(std::span<const uint8_t> code) {
    RRVM_ASSERT_OK(create_vm());
    std::memcpy(memory_.slice(CODE, code.size()).value().data(), code.data(), code.size());
    ASSERT_TRUE(pio_.insert(0x80, 1, port_).ok());
    ASSERT_TRUE(
        pio_.insert(devices::DEBUG_EXIT_PORT, 1, std::make_shared<devices::DebugExit>(requests_))
            .ok());
    config_.msrs = hv::MsrIndexList(hv_->msr_index_list().value());
    vcpus_ = std::make_unique<VcpuSet>(run_state_, notifiers_, config_, pio_, mmio_, requests_);
    vcpus_->add(*vcpu_);
    control_ = std::make_unique<VmControl>(run_state_, notifiers_, *vcpus_, requests_, loop_,
                                           VmControlCallbacks{});
    clock_ = std::make_unique<devices::Kvmclock>(*vm_, *vcpus_, memory_, requests_,
                                                 devices::KvmclockConfig::from_hypervisor(*hv_));
    clock_->attach(notifiers_);
    // The machine's start-up: threads, initial state from KVM, boot registers, FULL put.
    vcpus_->start();
    RRVM_ASSERT_OK(vcpus_->synchronize_all_states());
    CpuState& s = vcpus_->sync(0).state();
    hv::apply_long_mode_sregs(s.sregs, hv::testing::test_layout());
    s.regs = hv::long_mode_regs(CODE, STACK);
    s.mp_state = hv::MpState::Runnable;
    vcpus_->capture_reset_states();
    RRVM_ASSERT_OK(vcpus_->synchronize_all_post_init());
  }

  Status create_vm() {
    RRVM_ASSIGN_OR_RETURN(vm_, hv_->create_vm());
    RRVM_TRY(vm_->set_tss_addr(0xfffbd000));
    RRVM_TRY(vm_->set_identity_map_addr(0xfeffc000));
    RRVM_TRY(vm_->create_irqchip());
    RRVM_TRY(vm_->create_pit());
    RRVM_ASSIGN_OR_RETURN(memory_, GuestMemory::allocate(RAM));
    const RamRegion& r = memory_.regions()[0];
    RRVM_TRY(vm_->set_memory_region({r.slot, r.gpa, r.size, r.host, false}));
    RRVM_ASSIGN_OR_RETURN(vcpu_, vm_->create_vcpu(0));
    RRVM_ASSIGN_OR_RETURN(auto supported, hv_->supported_cpuid());
    RRVM_ASSIGN_OR_RETURN(auto cpuid, hv::vcpu_cpuid(supported, 0, 1));
    RRVM_TRY(vcpu_->set_cpuid(cpuid));
    RRVM_ASSIGN_OR_RETURN(auto low, memory_.slice(0, RAM));
    return hv::write_long_mode_tables(low, hv::testing::test_layout());
  }

  bool wait_writes(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (port_->writes.load() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  std::unique_ptr<hv::Hypervisor> hv_;
  std::unique_ptr<hv::Vm> vm_;
  std::unique_ptr<hv::Vcpu> vcpu_;
  GuestMemory memory_;
  IoBus pio_{"pio"}, mmio_{"mmio"};
  std::shared_ptr<CountingPort> port_ = std::make_shared<CountingPort>();
  MainLoop loop_;
  RequestQueue requests_{loop_};
  RunStateMachine run_state_;
  VmStateNotifiers notifiers_;
  CpuSyncConfig config_;
  std::unique_ptr<VcpuSet> vcpus_;
  std::unique_ptr<VmControl> control_;
  std::unique_ptr<devices::Kvmclock> clock_;
};

TEST_F(KvmCoreTest, StopAndContOnARealGuest) {
  create(TICKER);
  RRVM_ASSERT_OK(control_->vm_start("boot"));
  ASSERT_TRUE(wait_writes(100)) << "the guest did not run";

  RRVM_ASSERT_OK(control_->vm_stop(RunState::Paused, "qmp:stop"));
  EXPECT_TRUE(vcpus_->all_stopped());
  EXPECT_TRUE(clock_->clock_valid());
  EXPECT_TRUE(vcpus_->sync(0).state().tsc_valid);  // read on the vCPU thread, cached while paused
  uint64_t frozen = port_->writes.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(port_->writes.load(), frozen);  // a paused guest does not run

  // The guest enabled kvmclock: its pvclock page is live and the clock stopped with the VM.
  auto page = memory_.read_obj<devices::PvclockTimeInfo>(PVCLOCK).value();
  EXPECT_NE(page.tsc_to_system_mul, 0u);

  RRVM_ASSERT_OK(control_->vm_start("qmp:cont"));
  EXPECT_FALSE(clock_->clock_valid());
  ASSERT_TRUE(wait_writes(frozen + 100)) << "the guest did not resume";
  // KVMCLOCK_CTRL reached the guest: KVM set PVCLOCK_GUEST_STOPPED in its page (bit 1).
  page = memory_.read_obj<devices::PvclockTimeInfo>(PVCLOCK).value();
  EXPECT_TRUE(page.flags & 0x02) << "flags " << int(page.flags);

  requests_.request_shutdown(ShutdownCause::HostQmpQuit, 0);
  EXPECT_EQ(control_->run_main_loop(), 0);
  RRVM_ASSERT_OK(control_->vm_shutdown());
  EXPECT_EQ(run_state_.get(), RunState::Shutdown);
  EXPECT_TRUE(vcpus_->all_stopped());
}

TEST_F(KvmCoreTest, GuestDebugExitEndsTheMainLoopWithItsStatus) {
  create(EXIT5);
  RRVM_ASSERT_OK(control_->vm_start("boot"));
  EXPECT_EQ(control_->run_main_loop(), 5);
  RRVM_ASSERT_OK(control_->vm_shutdown());
  EXPECT_EQ(run_state_.get(), RunState::Shutdown);
}

TEST_F(KvmCoreTest, RegistersFetchedByDeviceEmulationGoBackBeforeKvmRun) {
  create(TICKER);
  constexpr uint64_t EXIT_CODE = CODE + 0x100;
  std::memcpy(memory_.slice(EXIT_CODE, sizeof EXIT5).value().data(), EXIT5, sizeof EXIT5);
  RRVM_ASSERT_OK(control_->vm_start("boot"));
  ASSERT_TRUE(wait_writes(10));
  RRVM_ASSERT_OK(control_->vm_stop(RunState::Paused, "qmp:stop"));
  // Fetch on the vCPU thread (now dirty) and move RIP to the exit code: only a RUNTIME put before
  // the next KVM_RUN can make the guest leave its loop.
  RRVM_ASSERT_OK(vcpus_->synchronize_state(0));
  ASSERT_TRUE(vcpus_->sync(0).dirty());
  vcpus_->sync(0).state().regs.rip = EXIT_CODE;
  RRVM_ASSERT_OK(control_->vm_start("qmp:cont"));
  EXPECT_EQ(control_->run_main_loop(), 5);
  EXPECT_FALSE(vcpus_->sync(0).dirty());
}

}  // namespace
}  // namespace rrvm::core
