// What `rrvm run` (and tests) ask the machine for. Plain data; Machine::create() validates it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rrvm::machine {

struct DiskConfig {
  std::string path;
  bool read_only = false;
};

struct MachineConfig {
  uint64_t memory_bytes = 256ull << 20;
  uint32_t vcpus = 2;

  // Empty: the built-in rrvm guest (rrvm_guest_path()).
  std::string kernel;
  std::string initrd;
  // The user's command line. rrvm appends what the guest needs to find its hardware
  // (cpus= for the rrvm guest; virtio_mmio.device= entries for every virtio device for the rrvm
  // guest and PVH kernels, while Linux kernels get ACPI tables instead).
  std::string cmdline;
  bool pvh = false;  // boot an ELF through its 32-bit PVH entry instead of the 64-bit one

  std::vector<DiskConfig> disks;
  bool rng = false;

  std::string kvm_device = "/dev/kvm";
  // Trace file; empty disables tracing.
  std::string trace_path;
  // QMP socket path; empty: no monitor.
  std::string qmp_path;
  // Guest console: "-" for stdout, a path for a file, empty for nowhere.
  std::string serial = "-";

  // Incoming migration: a URI (file:PATH, unix:PATH, tcp:HOST:PORT) to load from instead of
  // booting a kernel; the VM starts in inmigrate.
  std::string incoming;
  bool autostart = true;       // start running once an incoming migration loaded
  bool clock_advance = false;  // Firecracker-style: guest wall clock catches up after a restore
  bool no_reboot = false;      // QEMU's -no-reboot: a guest reset ends rrvm instead
};

// Parses sizes like "256M", "1G", "4096K" or plain bytes. Error text names the bad value.
std::optional<uint64_t> parse_size(const std::string& text);

// The rrvm guest ELF built next to the rrvm executable (build/rrvm-guest.elf), or
// $RRVM_GUEST when set.
std::string rrvm_guest_path();

}  // namespace rrvm::machine
