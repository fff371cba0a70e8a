#include "tests/core/test_vm.h"

#include <gtest/gtest.h>

#include "vmm/hv/recording/recording_vcpu.h"
#include "vmm/hv/recording/recording_vm.h"

namespace rrvm::core::testing {
namespace {

std::unique_ptr<hv::Vm> make_vm(CallLog& log, bool recording, FakeVm*& fake) {
  auto vm = std::make_unique<FakeVm>(log);
  fake = vm.get();
  if (!recording) return vm;
  return std::make_unique<hv::RecordingVm>(std::move(vm));
}

}  // namespace

TestVm::TestVm(int vcpu_count, VmControlOptions options, bool no_reboot, bool recording)
    : vm_owner_(make_vm(log, recording, fake_vm_)),
      vm(*fake_vm_),
      requests(loop, no_reboot),
      vcpus(run_state, notifiers, config, pio, mmio, requests),
      control(
          run_state, notifiers, vcpus, requests, loop,
          VmControlCallbacks{.event =
                                 [this](std::string_view name, std::optional<ShutdownCause> cause) {
                                   {
                                     std::lock_guard lock(events_mu_);
                                     std::string e(name);
                                     if (cause) e += " " + std::string(shutdown_cause_name(*cause));
                                     events_.push_back(e);
                                   }
                                   if (on_event) on_event(name, cause);
                                 },
                             .reset_devices = {}},
          options) {
  config.msrs = hv::MsrIndexList(typical_msr_index_list());
  for (int i = 0; i < vcpu_count; ++i) {
    auto fake = std::make_unique<FakeVcpu>(i, log);
    give_typical_msrs(*fake);
    fake_vcpus_.push_back(fake.get());
    if (recording) {
      vcpu_owners_.push_back(std::make_unique<hv::RecordingVcpu>(std::move(fake)));
    } else {
      vcpu_owners_.push_back(std::move(fake));
    }
    vcpus.add(*vcpu_owners_.back());
  }
}

TestVm::~TestVm() {
  if (loop_thread_.joinable()) stop_loop();
  vcpus.exit_threads();
}

void TestVm::boot() {
  vcpus.start();
  ASSERT_TRUE(vcpus.synchronize_all_states().ok());
  for (size_t i = 0; i < vcpus.size(); ++i) vcpus.sync(i).state().regs.rip = 0x100000;
  vcpus.capture_reset_states();
  ASSERT_TRUE(vcpus.synchronize_all_post_init().ok());
}

void TestVm::start_loop() {
  loop_thread_ = std::thread([this] { loop_status_ = control.run_main_loop(); });
}

int TestVm::stop_loop() {
  if (!loop.finished()) requests.request_shutdown(ShutdownCause::HostSignal, 0);
  loop_thread_.join();
  return loop_status_;
}

std::vector<std::string> TestVm::events() const {
  std::lock_guard lock(events_mu_);
  return events_;
}

}  // namespace rrvm::core::testing
