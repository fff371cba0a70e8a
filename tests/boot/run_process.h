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
  std::string out;     // stdout
  std::string err;     // stderr
};

// argv[0] is looked up in PATH. stdin is /dev/null. Killed (SIGKILL) after `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// True when `name` is an executable in PATH.
bool in_path(const std::string& name);

}  // namespace rrvm::boot::testing
