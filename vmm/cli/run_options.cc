#include "vmm/cli/run_options.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include <spdlog/spdlog.h>

#include "vmm/cli/command.h"
#include "vmm/cli/migration_progress.h"
#include "vmm/hv/kvm/kvm.h"
#include "vmm/machine/machine.h"

namespace rrvm::cli {

void RunOptions::add_to(CLI::App& app, bool with_incoming) {
  app.add_option("--kernel", config_.kernel,
                 "kernel: rrvm guest ELF, Linux bzImage or vmlinux (default: the rrvm guest)");
  app.add_option("--initrd", config_.initrd, "initial ramdisk");
  app.add_option("--append", config_.cmdline, "kernel command line");
  app.add_flag("--pvh", config_.pvh, "boot an ELF kernel through its 32-bit PVH entry");
  app.add_option("--mem", mem_, "guest RAM, e.g. 256M or 1G")->default_val("256M");
  app.add_option("--cpus", config_.vcpus, "vCPUs")->default_val(2);
  app.add_option("--disk", disks_, "virtio-blk raw image: PATH[,readonly] (repeatable)");
  app.add_flag("--rng", config_.rng, "add a virtio-rng device");
  app.add_option("--trace", config_.trace_path, "trace file (default: rrvm-<pid>.rrtrace)");
  app.add_flag("--no-trace", no_trace_, "do not record a trace");
  app.add_option("--qmp", config_.qmp_path, "QMP monitor unix socket path");
  app.add_option("--serial", config_.serial, "guest console: '-' for stdout (default), or a file");
  if (with_incoming) {
    app.add_option("--incoming", config_.incoming,
                   "load the VM from a migration: file:PATH, unix:PATH or tcp:HOST:PORT");
  }
  app.add_flag("--no-autostart", no_autostart_, "with --incoming: stay paused after loading");
  app.add_flag("--clock-advance", config_.clock_advance,
               "after a restore, advance the guest clock by the time the VM was stopped");
  app.add_flag("--no-reboot", config_.no_reboot, "a guest reset ends rrvm instead");
  app.add_option("--kvm", config_.kvm_device, "KVM device")->default_val("/dev/kvm");
}

Result<machine::MachineConfig> RunOptions::make_config() const {
  machine::MachineConfig config = config_;
  auto mem = machine::parse_size(mem_);
  if (!mem) return make_error("--mem '" + mem_ + "' is not a size (e.g. 256M, 1G)");
  config.memory_bytes = *mem;
  config.autostart = !no_autostart_;
  for (const auto& d : disks_) {
    machine::DiskConfig disk;
    disk.path = d;
    if (auto comma = d.find(','); comma != std::string::npos) {
      disk.path = d.substr(0, comma);
      if (d.substr(comma + 1) != "readonly") {
        return make_error("--disk '" + d + "': the only option is ',readonly'");
      }
      disk.read_only = true;
    }
    config.disks.push_back(disk);
  }
  if (no_trace_) {
    config.trace_path.clear();
  } else if (config.trace_path.empty()) {
    config.trace_path = "rrvm-" + std::to_string(::getpid()) + ".rrtrace";
  }
  return config;
}

int run_machine(const char* command, const machine::MachineConfig& config) {
  // SIGINT/SIGTERM end the VM cleanly (QEMU's host-signal shutdown), so the trace is closed
  // and complete. They are blocked before any thread exists, so only the watcher takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Bad input is named as such (exit 2) before /dev/kvm is opened; a /dev/kvm that cannot be
  // opened is the host's problem (exit 3); what the machine refuses after that is the input's
  // (a vCPU count KVM does not allow, a path that went away meanwhile).
  if (Status s = machine::Machine::check_inputs(config); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, s.error().describe().c_str());
    return EXIT_BAD_INPUT;
  }
  auto kvm = hv::open_kvm(config.kvm_device);
  if (!kvm.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, kvm.error().describe().c_str());
    return EXIT_ENVIRONMENT;
  }
  auto machine = machine::Machine::create(config, std::move(kvm).value());
  if (!machine.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, machine.error().describe().c_str());
    return EXIT_BAD_INPUT;
  }
  if (!config.trace_path.empty()) {
    std::fprintf(stderr, "rrvm: recording trace to %s\n", config.trace_path.c_str());
  }
  // The watcher takes the signals and, between them, follows the VM's migrations (an incoming
  // one, or one that QMP `migrate` started) to show progress for long transfers.
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    const timespec poll{0, 100 * 1000 * 1000};
    ProgressFollower progress(stderr, command);
    while (!done.load()) {
      int signo = sigtimedwait(&signals, nullptr, &poll);
      if (signo > 0) {
        spdlog::info("terminating on signal {}", signo);
        (*machine)->request_shutdown(core::ShutdownCause::HostSignal, 128 + signo);
      }
      progress.poll((*machine)->migration_stats());
    }
    // A migration that ended just before the VM did still gets its final line.
    progress.poll((*machine)->migration_stats());
  });
  int status = (*machine)->run();
  done = true;
  watcher.join();
  machine->reset();  // closes the trace
  if (!config.trace_path.empty()) {
    std::fprintf(stderr, "rrvm: trace written to %s (show it with: rrvm dump %s)\n",
                 config.trace_path.c_str(), config.trace_path.c_str());
  }
  return status;
}

}  // namespace rrvm::cli
