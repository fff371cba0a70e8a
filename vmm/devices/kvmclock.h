// kvmclock: keeping the guest's paravirtual clock consistent across stop, resume, snapshot and
// migration. QEMU's hw/i386/kvm/clock.c, step for step:
//
// stop (VM state handler, running=false):
//   1. nothing if the saved clock is already valid (a second stop keeps the first stop's clock);
//   2. remember whether this stop is a plain pause (state `paused`);
//   3. TSC sync: every vCPU thread reads its IA32_TSC (KVM_GET_MSRS), cached while stopped;
//   4. KVM_GET_CLOCK; reliable = KVM reported KVM_CLOCK_TSC_STABLE and the host has
//      KVM_CAP_ADJUST_CLOCK with that flag;
//   5. the saved clock is valid.
// pre_save (migration): KVM_GET_CLOCK again unless the stop was a plain pause.
// pre_load / restore: the loaded clock is unreliable unless the state says it is reliable.
// start (running=true):
//   1. unreliable clock: recompute it from vCPU 0's pvclock page in guest memory
//      (tsc_timestamp <= the vCPU's TSC must hold);
//   2. KVM_SET_CLOCK (a failure is fatal, as QEMU aborts: rrvm requests a shutdown and
//      VmControl::vm_start leaves every vCPU stopped);
//   3. KVMCLOCK_CTRL on every vCPU through its thread, before any vCPU resumes: the guest's
//      PVCLOCK_GUEST_STOPPED flag lives in the pvclock page, not in saved memory; EINVAL (the
//      guest has not enabled kvmclock) is ignored;
//   4. the saved clock is invalid.
//
// clock_advance (Firecracker-style, off by default): the first start after restore() sets the
// clock with KVM_CLOCK_REALTIME and the realtime saved with it, so KVM adds the wall time that
// passed while the VM was saved, then writes the guest's MSR_KVM_WALL_CLOCK_NEW again on vCPU 0 so
// KVM recomputes the guest's wall-clock struct against that clock: the guest's wall time
// (wall clock + kvmclock) catches up with the host's.
//
// Every KVM call is recorded by the recording hypervisor layer (ClockAccess, KvmclockCtrl, MSR
// gets); this device records its own decisions as warnings and runs inside the notifier span
// "kvmclock", with "kvm_update_clock", "kvm_synchronize_all_tsc" and per-vCPU "do_kvmclock_ctrl".
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/core/run_state.h"
#include "vmm/core/vcpu_set.h"
#include "vmm/core/vm_requests.h"
#include "vmm/core/vm_state_notifier.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::devices {

struct KvmclockConfig {
  bool adjust_clock_stable = false;  // KVM_CAP_ADJUST_CLOCK reports KVM_CLOCK_TSC_STABLE
  bool clock_ctrl = false;           // KVM_CAP_KVMCLOCK_CTRL
  bool clock_advance = false;        // see above

  static KvmclockConfig from_hypervisor(const hv::Hypervisor& hv, bool clock_advance = false);
};

// The guest's pvclock_vcpu_time_info (Linux's arch/x86/include/asm/pvclock-abi.h).
struct PvclockTimeInfo {
  uint32_t version;
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad[2];
};
static_assert(sizeof(PvclockTimeInfo) == 32);

// The guest's clock in ns at `tsc` according to its pvclock page (QEMU's kvmclock_current_nsec
// arithmetic). Error when tsc_timestamp > tsc (the page is from the future).
Result<uint64_t> pvclock_ns_at(const PvclockTimeInfo& info, uint64_t tsc);

class Kvmclock {
 public:
  // Snapshot state (Persist pattern): QEMU's kvmclock vmstate plus the realtime KVM paired with
  // the clock (for clock_advance).
  struct State {
    uint64_t clock_ns = 0;
    bool reliable = false;
    bool has_realtime = false;
    uint64_t realtime_ns = 0;  // host CLOCK_REALTIME when clock_ns was read; 0 unless has_realtime
  };

  // Exit status when a fatal clock error ends rrvm (QEMU aborts).
  static constexpr int FATAL_EXIT_STATUS = 1;

  Kvmclock(hv::Vm& vm, core::VcpuSet& vcpus, const GuestMemory& memory, core::VmRequests& requests,
           KvmclockConfig config);
  ~Kvmclock();
  Kvmclock(const Kvmclock&) = delete;
  Kvmclock& operator=(const Kvmclock&) = delete;

  // Registers the VM state handler "kvmclock" (priority 0). Register after the vCPUs were added
  // to the VcpuSet: their TSC-cache handlers must run first on start, as in QEMU.
  void attach(core::VmStateNotifiers& notifiers);

  // The VM state handler (public for tests; normally called through the notifiers).
  void vm_state_change(bool running, core::RunState state);

  // Migration hooks. pre_save() before save(); restore() is pre_load + load.
  Status pre_save();
  State save() const;
  Status restore(const State& state);

  bool clock_valid() const;
  bool reliable() const;
  uint64_t clock_ns() const;

 private:
  Status update_clock();
  void on_stop(core::RunState state);
  void on_start();
  Result<uint64_t> current_nsec_from_guest();
  Status set_clock();
  void kvmclock_ctrl_all();
  void rewrite_wall_clock();
  void fatal(const Error& error);

  hv::Vm& vm_;
  core::VcpuSet& vcpus_;
  const GuestMemory& memory_;
  core::VmRequests& requests_;
  KvmclockConfig config_;
  core::VmStateNotifiers* notifiers_ = nullptr;
  core::VmStateNotifiers::Id handler_ = 0;

  mutable std::mutex mu_;
  uint64_t clock_ = 0;
  bool clock_valid_ = false;
  bool reliable_ = false;
  bool runstate_paused_ = false;
  std::optional<uint64_t> realtime_;  // paired with clock_ when KVM reported it
  bool advance_on_start_ = false;     // clock_advance armed by restore()
};

}  // namespace rrvm::devices
