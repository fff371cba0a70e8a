// What a vCPU does with one exit from KVM_RUN: a pure function of the exit and the buses, tested
// with made-up exits (Firecracker style). The vCPU loop (vcpu_thread.cc) only calls it.
#pragma once

#include <string>

#include "vmm/core/io_bus.h"
#include "vmm/core/vm_requests.h"
#include "vmm/hv/types.h"

namespace rrvm::core {

enum class ExitAction {
  Continue,  // run the guest again
  Stop,      // a shutdown, reset or stop was requested: the vCPU stops itself until resumed
  Halt,      // HLT without an in-kernel LAPIC: the vCPU idles until the VM is resumed or reset
};

struct ExitContext {
  int vcpu = 0;
  const IoBus& pio;
  const IoBus& mmio;
  VmRequests& requests;
};

// Dispatches port I/O and MMIO to the devices (a read's result goes into exit.data, which
// hv::Vcpu::run() made point at the vCPU's run area) and turns guest shutdown/reset/crash and
// KVM errors into requests. The exit itself is recorded by the recording hypervisor layer
// (VcpuExit, and the read data when the vCPU next enters KVM_RUN); errors are also recorded here
// as warnings with their decoded reason.
ExitAction handle_exit(const hv::Exit& exit, const ExitContext& ctx);

// "emulation failure (suberror 1); data 0x..., 0x..." for an InternalError exit, "VM entry
// failed, hardware reason 0x..." for FailEntry.
std::string describe_exit_error(const hv::Exit& exit);

}  // namespace rrvm::core
