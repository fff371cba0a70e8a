// Migratable: the one interface a VM implements to be snapshotted, restored and live-migrated.
//
// The migration layer (source.cc, target.cc) drives QEMU's whole precopy sequence through these
// calls, so the order of operations lives in one place and every VM gets it right:
//
//   source (the "migration" thread)             target (the "migration-incoming" thread)
//   -------------------------------             ----------------------------------------
//   describe()            -> stream header      run_state() is InMigrate (or Prelaunch -> set)
//   start_dirty_log()                           describe() checked against the header
//   first pass: every non-zero page of memory() RAM runs written into memory()
//   loop: fetch_dirty_log(r) for every region,  (sections buffered and checksummed, End and the
//         send dirty pages, until they fit the   stream checksum verified; only then:)
//         downtime limit                        load_section() for each section, in stream order
//   vm_stop_force_state(FinishMigrate)          cpu_synchronize_all_post_init()   (FULL put)
//   cpu_synchronize_all_states()                Ack to a live source
//   fetch_dirty_log(r), last dirty pages        vm_start() if the source was running and
//   save_section() for each section, in order   activate_disks()  (takes the image locks)
//   inactivate_disks() (releases image locks)   Ack to a live source
//   End; commit (file) or the target's Ack      vm_start() if the source was running and
//   stop_dirty_log()                              autostart() holds; else set_run_state() to the
//   set_run_state(PostMigrate)                    source's state (Paused without autostart)
//   On any failure or cancel after the stop:
//   activate_disks() if they were inactivated; then vm_start() if the VM was running, else
//   set_run_state(the state before the stop). If activate_disks() fails the VM does not run:
//   it stays Paused (QEMU refuses to run with an inactive image).
//
// Sections are opaque bytes to the migration layer (the machine encodes each component's State,
// e.g. as a Cap'n Proto message with capnp_bytes.h); the stream adds name, version and checksum.
// The "globalstate" section (the source's run state) is written and read by the migration layer
// itself; a machine must not list it.
//
// Threading: every call comes from the migration thread, while vCPUs, I/O threads and the monitor
// go on. The machine serializes these calls against its own control paths (QEMU's BQL), e.g.
// vm_stop_force_state() against a concurrent QMP `stop`.
//
// Tracing: the machine's own code opens the spans of what it does (vm_stop, vm_start,
// cpu_synchronize_all_states, cpu_synchronize_all_post_init, the kvmclock notifier) and emits its
// events; the migration layer opens the spans around them ("migration_completion_precopy",
// "savevm.device kvmclock", "loadvm.device cpu/0", ...) so their backtraces read like QEMU's.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace/events.h"
#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::migration {

// A non-iterable section: one vCPU's state, the kvmclock, a device.
struct SectionInfo {
  std::string name;          // "cpu/0", "kvmclock", "irqchip", "pit", "serial", "virtio-blk0", ...
  uint32_t version = 1;      // the version save_section() writes
  uint32_t min_version = 1;  // the oldest version load_section() accepts
};

// What must match between source and target for a stream to load.
struct VmDescription {
  uint64_t memory_bytes = 0;  // memory().total_size()
  uint32_t vcpus = 0;
  std::string cpu_vendor;  // CPUID vendor of the host ("GenuineIntel"); empty: not checked
  // Sections in save (and load) order. Names are 1..128 printable ASCII characters, unique, and
  // never "globalstate".
  std::vector<SectionInfo> sections;
};

class Migratable {
 public:
  virtual ~Migratable() = default;

  // ---- both sides -----------------------------------------------------------------------------

  // Constant for the VM's lifetime: the migration layer asks more than once.
  virtual VmDescription describe() const = 0;

  // Guest RAM. The region layout (gpa, size of each region) must be identical on both sides.
  // On the target, RAM must be all zero when the incoming migration starts (freshly allocated,
  // no kernel or firmware loaded): the first pass does not send pages that were zero.
  virtual const GuestMemory& memory() const = 0;

  // True when RAM is private anonymous memory (GuestMemory::allocate): a page the kernel never
  // populated reads as zero, which lets the first pass skip it without touching it.
  virtual bool ram_is_private_anonymous() const = 0;

  virtual trace::RunState run_state() const = 0;
  // QEMU's autostart: whether an incoming VM whose source was running runs once it loaded.
  // `--no-autostart` clears it; QMP `stop` / `cont` during inmigrate clear / set it, so the
  // target reads it when the load ends, not when the migration starts. Any thread.
  virtual bool autostart() const = 0;

  // QEMU's runstate_set(): only the state changes (no notifiers, vCPUs untouched). Used for
  // InMigrate, PostMigrate, Paused, and to put back a non-running source's state after a failure.
  virtual Status set_run_state(trace::RunState state, std::string_view reason) = 0;

  // QEMU's vm_start(): Running, notifiers with running=true (kvmclock: KVM_SET_CLOCK, then
  // KVMCLOCK_CTRL on every vCPU; device backends start), then the vCPUs resume. Source: after a
  // failed or cancelled migration of a running VM. Target: after a complete load.
  virtual Status vm_start(std::string_view reason) = 0;

  // ---- source ---------------------------------------------------------------------------------

  // Enables dirty tracking of all RAM (KVM_MEM_LOG_DIRTY_PAGES on every slot). The log starts
  // empty: the first pass sends everything.
  virtual Status start_dirty_log() = 0;

  // Pages of memory().regions()[region] written since the previous fetch (or since
  // start_dirty_log()), one bit per 4 KiB page ((pages + 63) / 64 words); clears the log. Must
  // include pages written by device emulation (virtio DMA into guest buffers), not only KVM's
  // log of guest writes: a page missing here is silently stale on the target.
  virtual Result<std::vector<uint64_t>> fetch_dirty_log(size_t region) = 0;

  virtual Status stop_dirty_log() = 0;

  // QEMU's vm_stop_force_state(): a running VM goes through vm_stop(state): the run state
  // changes, vCPUs pause, stop notifiers run (kvmclock: TSC read per vCPU, KVM_GET_CLOCK; device
  // backends stop and finish in-flight I/O). A VM that is not running only changes its run state.
  virtual Status vm_stop_force_state(trace::RunState state, std::string_view reason) = 0;

  // Fetches every vCPU's full state (registers, FULL-level MSRs, ...) for the cpu/N sections.
  virtual Status cpu_synchronize_all_states() = 0;

  // The section's bytes at the version SectionInfo::version. Called once per section in
  // describe().sections order, with the VM stopped. The kvmclock's save does its pre_save
  // (the second KVM_GET_CLOCK, unless the stop was a plain pause).
  virtual Result<std::vector<uint8_t>> save_section(const SectionInfo& section) = 0;

  // QEMU's bdrv_inactivate_all(): gives up the hold on every disk image (its lock), so that the
  // target, or a restore of a snapshot file, can take it while this process lives on. Called with
  // the VM stopped and its device I/O finished, after the device sections and before End (QEMU:
  // "so that bdrv_activate_all() on the other end won't fail"). The images stay inactive in
  // PostMigrate until activate_disks() (QMP `cont`).
  virtual Status inactivate_disks() = 0;

  // ---- both sides -----------------------------------------------------------------------------

  // QEMU's bdrv_activate_all(): takes every disk image's lock back; a no-op for images already
  // held. Target: after the load, before the Ack and before any vCPU runs; an error (another
  // process holds an image; the error names it) refuses the incoming migration. Source: after a
  // failed or cancelled completion, before vm_start(). On error no image is left newly locked.
  virtual Status activate_disks() = 0;

  // ---- target ---------------------------------------------------------------------------------

  // Validates and applies one section (the Persist pattern's restore()): sizes, addresses inside
  // RAM, legal values. `version` is the source's, within [min_version, version] of the target's
  // SectionInfo. Called only after the whole stream has been received and verified, before any
  // vCPU runs; an error refuses the stream (the VM is then never started).
  virtual Status load_section(const SectionInfo& section, uint32_t version,
                              std::span<const uint8_t> data) = 0;

  // QEMU's cpu_synchronize_all_post_init(): puts every vCPU's loaded state at FULL level.
  virtual Status cpu_synchronize_all_post_init() = 0;
};

}  // namespace rrvm::migration
