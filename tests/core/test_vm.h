// A VM's control logic assembled the way the machine assembles it, over the fake hypervisor: the
// fixture the vm_control, kvmclock and monitor tests share. boot() is the machine's start-up
// sequence (threads, initial get, reset state, FULL put); the VM is left in prelaunch.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/fake_hv.h"
#include "vmm/core/io_bus.h"
#include "vmm/core/main_loop.h"
#include "vmm/core/request_queue.h"
#include "vmm/core/run_state.h"
#include "vmm/core/vcpu_set.h"
#include "vmm/core/vm_control.h"
#include "vmm/core/vm_state_notifier.h"

namespace rrvm::core::testing {

class TestVm {
 public:
  // recording: the fakes are wrapped in the recording hypervisor layer (hv/recording), as the
  // machine wraps the KVM backend, so ClockAccess, KvmclockCtrl, MsrAccess... reach the trace.
  explicit TestVm(int vcpu_count = 2, VmControlOptions options = {}, bool no_reboot = false,
                  bool recording = false);
  ~TestVm();

  // Starts the vCPU threads and puts the initial state (the machine's start-up sequence).
  void boot();
  // Runs the main loop on a thread of its own (the monitor tests need one); stop_loop() asks for
  // a shutdown and joins it, returning the exit status.
  void start_loop();
  int stop_loop();

  // QMP events VmControl sent, as "STOP", "RESUME", "SHUTDOWN host-qmp-quit", ...
  std::vector<std::string> events() const;
  FakeVcpu& fake(size_t i) { return *fake_vcpus_.at(i); }
  // The VM the control logic and devices use: the fake, or its recording wrapper.
  hv::Vm& hv_vm() { return *vm_owner_; }
  // Also called with every event (e.g. to forward them to a QMP server). Set before events flow.
  std::function<void(std::string_view, std::optional<ShutdownCause>)> on_event;

  CallLog log;

 private:
  FakeVm* fake_vm_ = nullptr;
  std::unique_ptr<hv::Vm> vm_owner_;  // the FakeVm, or a RecordingVm that owns it

 public:
  FakeVm& vm;  // scripting the fake KVM
  CpuSyncConfig config;
  IoBus pio{"pio"};
  IoBus mmio{"mmio"};
  MainLoop loop;
  RequestQueue requests;
  RunStateMachine run_state;
  VmStateNotifiers notifiers;
  VcpuSet vcpus;
  VmControl control;

 private:
  std::vector<FakeVcpu*> fake_vcpus_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpu_owners_;  // the fakes, or recording wrappers
  mutable std::mutex events_mu_;
  std::vector<std::string> events_;
  std::thread loop_thread_;
  int loop_status_ = -1;
};

}  // namespace rrvm::core::testing
