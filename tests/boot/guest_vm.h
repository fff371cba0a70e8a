// A minimal VM for booting the rrvm guest on KVM in the boot tests: guest RAM, in-kernel irqchip,
// one thread per vCPU, and just the devices the guest touches (a write-only 16550 on 0x3f8, the
// debug-exit port 0x501, the reset ports 0xcf9/0x64; any other port or MMIO access reads as all
// ones and ignores writes, which is enough for Linux to get to its banner). It checks rrvm_boot's BootPlan against the
// guest's entry code before the real machine (vmm/machine) exists; it is not that machine.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/boot/boot_plan.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/core/guest_memory.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::boot::testing {

struct GuestRun {
  std::string console;                  // bytes the guest wrote to the UART
  std::optional<int> exit_status;       // written to the debug-exit port
  bool reset_requested = false;         // 0x06 to 0xcf9 or 0xfe to 0x64
  std::optional<hv::Exit::Kind> fatal;  // a vCPU stopped on Shutdown, InternalError, FailEntry
  int fatal_vcpu = -1;
  std::string harness_error;            // an exit this harness does not handle, or a KVM error
  bool timed_out = false;
  bool matched = false;                 // the console showed run()'s stop_when
};

class GuestVm {
 public:
  // Opens /dev/kvm; false (with skip_reason) when it cannot be used.
  bool open();
  // Creates the VM with `mem_bytes` of RAM and spec.vcpus vCPUs, and loads the kernel.
  Status boot(const KernelSpec& spec, uint64_t mem_bytes);
  // Runs until the guest exits, resets or dies, until the console shows `stop_when` (when not
  // empty), or until `timeout`.
  GuestRun run(std::chrono::milliseconds timeout, const std::string& stop_when = "");

  hv::Vcpu& vcpu(size_t i) { return *vcpus_[i]; }
  hv::Vm& vm() { return *vm_; }
  // "vcpu0 rip=... rsp=... cr0=... efer=..." for every vCPU, for failure messages after run().
  std::string describe_vcpus();
  const BootPlan& plan() const { return plan_; }
  const GuestMemory& memory() const { return mem_; }
  std::string skip_reason;

 private:
  std::unique_ptr<hv::Hypervisor> hv_;
  std::unique_ptr<hv::Vm> vm_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpus_;
  GuestMemory mem_;
  BootPlan plan_;
};

}  // namespace rrvm::boot::testing

#define RRVM_REQUIRE_KVM_VM(vm)                                             \
  do {                                                                      \
    if (!(vm).open()) {                                                     \
      std::printf("KVM unavailable: %s\n", (vm).skip_reason.c_str());       \
      GTEST_SKIP() << "KVM unavailable: " << (vm).skip_reason;              \
    }                                                                       \
  } while (0)
