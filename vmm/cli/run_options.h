// What `rrvm run` and `rrvm restore` share: the VM options, turning them into a MachineConfig,
// and running the machine until it ends (signals, trace messages, exit status).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "vmm/base/result.h"
#include "vmm/machine/machine_config.h"

namespace rrvm::cli {

class RunOptions {
 public:
  // Declares the VM options on `app`. `with_incoming`: offer --incoming (restore sets it itself).
  void add_to(CLI::App& app, bool with_incoming);
  // The machine configuration from the parsed options; the error names the bad option.
  Result<machine::MachineConfig> make_config() const;

  void set_incoming(std::string uri) { config_.incoming = std::move(uri); }

 private:
  machine::MachineConfig config_;
  std::string mem_ = "256M";
  std::vector<std::string> disks_;
  bool no_trace_ = false;
  bool no_autostart_ = false;
};

// Creates the machine from `config` and runs it; returns rrvm's exit status. SIGINT/SIGTERM end
// the VM cleanly so the trace is complete. Migrations that last over a second (incoming, or
// started over QMP) show progress on stderr, each line starting with `command`.
int run_machine(const char* command, const machine::MachineConfig& config);

}  // namespace rrvm::cli
