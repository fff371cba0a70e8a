// `rrvm run`: boots a guest (the built-in rrvm guest unless --kernel names one), records a trace,
// and serves QMP. The process exits with the guest's debug-exit status.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include <spdlog/spdlog.h>

#include "vmm/cli/command.h"
#include "vmm/machine/machine.h"

namespace rrvm::cli {
namespace {

class RunCommand final : public Command {
 public:
  const char* name() const override { return "run"; }
  const char* summary() const override {
    return "boot a VM (default: the rrvm guest) and record a trace";
  }

  void add_options(CLI::App& app) override {
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
    app.add_option("--incoming", config_.incoming,
                   "load the VM from a migration: file:PATH, unix:PATH or tcp:HOST:PORT");
    app.add_flag("--no-autostart", no_autostart_, "with --incoming: stay paused after loading");
    app.add_flag("--clock-advance", config_.clock_advance,
                 "after a restore, advance the guest clock by the time the VM was stopped");
    app.add_flag("--no-reboot", config_.no_reboot, "a guest reset ends rrvm instead");
    app.add_option("--kvm", config_.kvm_device, "KVM device")->default_val("/dev/kvm");
  }

  int run() override {
    auto mem = machine::parse_size(mem_);
    if (!mem) {
      std::fprintf(stderr, "rrvm run: --mem '%s' is not a size (e.g. 256M, 1G)\n", mem_.c_str());
      return EXIT_BAD_INPUT;
    }
    config_.memory_bytes = *mem;
    config_.autostart = !no_autostart_;
    for (const auto& d : disks_) {
      machine::DiskConfig disk;
      disk.path = d;
      if (auto comma = d.find(','); comma != std::string::npos) {
        disk.path = d.substr(0, comma);
        if (d.substr(comma + 1) != "readonly") {
          std::fprintf(stderr, "rrvm run: --disk '%s': the only option is ',readonly'\n", d.c_str());
          return EXIT_BAD_INPUT;
        }
        disk.read_only = true;
      }
      config_.disks.push_back(disk);
    }
    if (no_trace_) {
      config_.trace_path.clear();
    } else if (config_.trace_path.empty()) {
      config_.trace_path = "rrvm-" + std::to_string(::getpid()) + ".rrtrace";
    }
    // SIGINT/SIGTERM end the VM cleanly (QEMU's host-signal shutdown), so the trace is closed
    // and complete. They are blocked before any thread exists, so only the watcher takes them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto machine = machine::Machine::create(config_);
    if (!machine.ok()) {
      std::fprintf(stderr, "rrvm run: %s\n", machine.error().describe().c_str());
      return machine.error().err == ENOENT || machine.error().err == EACCES ? EXIT_ENVIRONMENT
                                                                               : EXIT_BAD_INPUT;
    }
    if (!config_.trace_path.empty()) {
      std::fprintf(stderr, "rrvm: recording trace to %s\n", config_.trace_path.c_str());
    }
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      const timespec poll{0, 100 * 1000 * 1000};
      while (!done.load()) {
        int signo = sigtimedwait(&signals, nullptr, &poll);
        if (signo > 0) {
          spdlog::info("terminating on signal {}", signo);
          (*machine)->request_shutdown(core::ShutdownCause::HostSignal, 128 + signo);
        }
      }
    });
    int status = (*machine)->run();
    done = true;
    watcher.join();
    machine->reset();  // closes the trace
    if (!config_.trace_path.empty()) {
      std::fprintf(stderr, "rrvm: trace written to %s (show it with: rrvm dump %s)\n",
                   config_.trace_path.c_str(), config_.trace_path.c_str());
    }
    return status;
  }

 private:
  machine::MachineConfig config_;
  std::string mem_ = "256M";
  std::vector<std::string> disks_;
  bool no_trace_ = false;
  bool no_autostart_ = false;
};
RRVM_REGISTER_COMMAND(RunCommand);

}  // namespace
}  // namespace rrvm::cli
