// A whole rrvm Machine (devices, kvmclock, QMP monitor, migration, trace) built on the in-memory
// hypervisor of tests/core instead of KVM, running its main loop on a thread of the test. The fake
// vCPUs run no guest code: each exits to rrvm every few milliseconds with a write to COM1's
// scratch register, so vCPU exits, kicks, pauses and run-state changes are the machine's real
// ones. What only a real guest shows (its ticks, its own clock, its disk I/O) is the e2e suites'
// job on KVM hosts; these tests run everywhere.
//
// One Machine per process at a time may trace (the trace recorder is process-wide).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/fake_hv.h"
#include "vmm/machine/machine.h"

namespace rrvm::machine::testing {

class FakeMachine {
 public:
  // Builds the machine on a FakeHypervisor; check ok() (and error()) before using it. With
  // `dirty_ram` the guest writes DIRTY_PAGES_PER_EXIT pages of RAM before each of its exits, as a
  // busy guest dirties memory during a live migration.
  explicit FakeMachine(const MachineConfig& config, bool dirty_ram = false);
  ~FakeMachine();  // requests a shutdown if the main loop still runs, joins it, destroys the VM
  FakeMachine(const FakeMachine&) = delete;
  FakeMachine& operator=(const FakeMachine&) = delete;

  bool ok() const { return machine_ != nullptr; }
  const std::string& error() const { return error_; }

  // Starts Machine::run() on a thread (boot or incoming migration, then the main loop).
  void start();
  // Waits for run() to return; its exit status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Destroys the machine (closing its trace). The fakes are gone after this.
  void destroy();

  Machine& machine() { return *machine_; }
  core::testing::FakeVm& vm() { return *hv_->vm; }
  core::testing::FakeVcpu& vcpu(size_t i) { return *hv_->vm->created_vcpus.at(i); }
  size_t vcpu_count() const { return hv_->vm->created_vcpus.size(); }
  core::testing::CallLog log;

 private:
  core::testing::FakeHypervisor* hv_ = nullptr;  // owned by machine_
  std::unique_ptr<Machine> machine_;
  std::string error_;
  std::thread thread_;
  std::atomic<int> status_{-1};
  std::atomic<bool> finished_{false};
};

// A 64 MiB, 2-vCPU machine booting the rrvm guest, with DIR/NAME.rrtrace, DIR/NAME.sock (QMP)
// and DIR/NAME.console.
MachineConfig fake_machine_config(const std::string& dir, const std::string& name);

// The period of the fake vCPUs' exits.
inline constexpr std::chrono::milliseconds FAKE_EXIT_PERIOD{2};
// With dirty_ram: each vCPU rewrites pages of its own 4 MiB window from 32 MiB up, round robin, a
// counter word in each (the machine needs >= 64 MiB of RAM for two vCPUs).
inline constexpr uint64_t DIRTY_PAGES_PER_EXIT = 64;
inline constexpr uint64_t DIRTY_WINDOW_BASE = 32ull << 20;
inline constexpr uint64_t DIRTY_WINDOW_BYTES = 4ull << 20;

// A digest of the machine's guest RAM, to compare a restored VM with its source.
uint64_t ram_digest(const GuestMemory& memory);
// A digest of every fake vCPU's state (registers, sregs, MSRs, LAPIC, events, XSAVE, mp_state).
// Call it while no vCPU runs.
uint64_t vcpus_digest(FakeMachine& machine);

}  // namespace rrvm::machine::testing
