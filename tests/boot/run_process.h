// Runs a program to completion with a time limit, capturing its output (for tests that drive
// QEMU and shell scripts).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace rrvm::boot::testing {

struct ProcessResult {
  int exit_code = -1;  // -1: killed or failed to start
  bool timed_out = false;
  std::string out;  // stdout
  std::string err;  // stderr
};

// argv[0] is looked up in PATH. stdin is /dev/null. Killed (SIGKILL) after `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// True when `name` is an executable in PATH.
bool in_path(const std::string& name);

// The start of a `qemu-system-x86_64 -M microvm` command line as the tests run it: `accel` ("kvm"
// or "tcg"), `memory` ("64M"), one vCPU, no display and no default devices, the serial on stdio, no
// reboot, modern virtio-mmio (QEMU's microvm default is legacy), and isa-debug-exit at 0x501 (the
// rrvm guest's exit port). Callers append devices, -kernel and -append.
std::vector<std::string> qemu_microvm_command(const std::string& accel, const std::string& memory);

}  // namespace rrvm::boot::testing
