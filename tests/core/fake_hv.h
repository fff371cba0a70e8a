// An in-memory hypervisor for the control-logic tests: hv::Vm and hv::Vcpu that keep state in
// memory and append every call to one shared, thread-safe CallLog, so a test can check the global
// order of calls across the main thread and the vCPU threads (e.g. KVM_SET_CLOCK, then one
// KVMCLOCK_CTRL per vCPU on that vCPU's own thread, then the first KVM_RUN).
//
// FakeVcpu::run() models a running guest: it returns the exits a test scripted, one per call, and
// otherwise blocks until kick() (returning an Interrupted exit), as KVM_RUN with immediate_exit
// does. It is the same "one test against every backend" interface the KVM backend implements.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/hv/hypervisor.h"

namespace rrvm::core::testing {

struct Call {
  std::string name;  // ioctl name: "KVM_RUN", "KVM_GET_MSRS", "KVM_SET_CLOCK", ...
  int vcpu;          // -1 for VM calls
  std::thread::id thread;
  trace::SyncLevel level = trace::SyncLevel::None;  // for MSR calls
  std::vector<hv::MsrEntry> msrs;                   // MSR calls: entries (values after a get)
  int err = 0;                                      // errno the call failed with
};

class CallLog {
 public:
  void add(Call call);
  std::vector<Call> calls() const;
  // Calls named `name` (any vCPU when vcpu is nullopt).
  std::vector<Call> named(const std::string& name, std::optional<int> vcpu = std::nullopt) const;
  size_t count(const std::string& name, std::optional<int> vcpu = std::nullopt) const;
  // Position of the first/last call matching, or -1.
  long first(const std::string& name, std::optional<int> vcpu = std::nullopt) const;
  long last(const std::string& name, std::optional<int> vcpu = std::nullopt) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

class FakeVcpu final : public hv::Vcpu {
 public:
  FakeVcpu(int index, CallLog& log) : index_(index), log_(log) {}

  // --- scripting (under the vCPU's lock where the vCPU thread may race) --------------------------
  // Queues an exit for run(). For I/O the data is copied into the vCPU's I/O buffer when run()
  // returns the exit, and Exit::data points there (as into KVM's run area).
  void push_exit(hv::Exit exit, std::vector<uint8_t> data = {});
  // Bytes in the I/O buffer now: after a read exit was handled, what the "guest" received.
  std::vector<uint8_t> io_data() const;
  // A guest that keeps exiting: with no scripted exit and no kick, run() returns `exit` after
  // `period` (e.g. an I/O write the devices handle), as a ticking guest exits to its VMM.
  // `guest_work`, when set, runs on the vCPU's thread inside run() just before that exit: what
  // the guest did while it ran (e.g. writing guest RAM). It never runs while the vCPU is paused.
  void exit_every(std::chrono::milliseconds period, hv::Exit exit, std::vector<uint8_t> data = {},
                  std::function<void()> guest_work = {});
  // Waits until run() has been entered at least `n` times (the guest "ran").
  bool wait_runs(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  size_t runs() const;
  size_t kicks() const;

  std::map<uint32_t, uint64_t> msrs;  // the MSRs this vCPU has; unknown ones fail a get/set
  std::optional<uint32_t> failing_msr;
  int kvmclock_ctrl_errno = 0;
  int set_tsc_khz_errno = 0;
  int set_regs_errno = 0;
  int run_errno = 0;
  hv::Regs regs{};
  hv::Sregs sregs{};
  hv::Fpu fpu{};
  hv::Blob xsave = hv::Blob(4096, 0), lapic = hv::Blob(1024, 0), events = hv::Blob(64, 0),
           debugregs = hv::Blob(128, 0);
  std::vector<hv::Xcr> xcrs;
  hv::MpState mp_state = hv::MpState::Runnable;
  uint32_t tsc_khz = 2'000'000;

  // --- hv::Vcpu
  // -----------------------------------------------------------------------------------
  int index() const override { return index_; }
  Result<hv::Exit> run() override;
  void kick() override;
  void clear_kick() override;
  Result<hv::Regs> get_regs() override;
  Status set_regs(const hv::Regs& r) override;
  Result<hv::Sregs> get_sregs() override;
  Status set_sregs(const hv::Sregs& s) override;
  Result<hv::Fpu> get_fpu() override;
  Status set_fpu(const hv::Fpu& f) override;
  Result<hv::Blob> get_xsave() override;
  Status set_xsave(const hv::Blob& b) override;
  Result<std::vector<hv::Xcr>> get_xcrs() override;
  Status set_xcrs(const std::vector<hv::Xcr>& x) override;
  Result<hv::Blob> get_lapic() override;
  Status set_lapic(const hv::Blob& b) override;
  Result<hv::Blob> get_vcpu_events() override;
  Status set_vcpu_events(const hv::Blob& b) override;
  Result<hv::MpState> get_mp_state() override;
  Status set_mp_state(hv::MpState s) override;
  Result<hv::Blob> get_debugregs() override;
  Status set_debugregs(const hv::Blob& b) override;
  Status set_cpuid(const std::vector<hv::CpuidEntry>& entries) override;
  Result<uint32_t> get_msrs(std::span<hv::MsrEntry> entries, trace::SyncLevel level) override;
  Result<uint32_t> set_msrs(std::span<const hv::MsrEntry> entries, trace::SyncLevel level) override;
  Status kvmclock_ctrl() override;
  Result<uint32_t> get_tsc_khz() override;
  Status set_tsc_khz(uint32_t khz) override;

 private:
  void log(const char* name, int err = 0);

  int index_;
  CallLog& log_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool kicked_ = false;
  size_t runs_ = 0;
  size_t kicks_ = 0;
  std::deque<std::pair<hv::Exit, std::vector<uint8_t>>> exits_;
  std::optional<std::chrono::milliseconds> idle_period_;
  std::pair<hv::Exit, std::vector<uint8_t>> idle_exit_;
  std::function<void()> guest_work_;
  std::vector<uint8_t> io_buffer_ = std::vector<uint8_t>(4096, 0);
};

class FakeVm final : public hv::Vm {
 public:
  explicit FakeVm(CallLog& log) : log_(log) {}

  hv::ClockData clock{};                  // what KVM_GET_CLOCK returns
  std::vector<hv::ClockData> set_clocks;  // every KVM_SET_CLOCK argument
  int get_clock_errno = 0;
  int set_clock_errno = 0;
  bool refuse_realtime = false;  // KVM_SET_CLOCK with KVM_CLOCK_REALTIME fails (EINVAL)
  // KVM's clock runs on by itself: KVM_GET_CLOCK returns the value last set (or `clock`) plus
  // the CLOCK_MONOTONIC time since, as KVM computes it from the host clock.
  bool ticking_clock = false;
  // Vcpus created from now on get typical_msr_index_list()'s MSRs (as a machine's vCPUs would).
  bool typical_msrs = false;
  std::vector<FakeVcpu*> created_vcpus;  // every vCPU create_vcpu() made (owned by the caller)

  // The guest wrote [gpa, gpa + len): KVM_GET_DIRTY_LOG reports those pages for a slot registered
  // with log_dirty, as KVM sees a guest's writes (and never the VMM's). Call it after the write.
  void guest_wrote(uint64_t gpa, uint64_t len);

  Result<std::unique_ptr<hv::Vcpu>> create_vcpu(int index) override;
  Status set_memory_region(const hv::MemoryRegion& region) override;
  Result<std::vector<uint64_t>> get_dirty_log(uint32_t, uint64_t) override;
  Status create_irqchip() override { return logged("KVM_CREATE_IRQCHIP"); }
  Status create_pit() override { return logged("KVM_CREATE_PIT2"); }
  Status set_tss_addr(uint64_t) override { return logged("KVM_SET_TSS_ADDR"); }
  Status set_identity_map_addr(uint64_t) override { return logged("KVM_SET_IDENTITY_MAP_ADDR"); }
  Status set_irq_line(uint32_t, bool) override { return logged("KVM_IRQ_LINE"); }
  Status irqfd(int, uint32_t, bool) override { return logged("KVM_IRQFD"); }
  Status ioeventfd(const hv::IoEventFd&, bool) override { return logged("KVM_IOEVENTFD"); }
  Result<hv::Blob> get_irqchip(uint32_t) override;
  Status set_irqchip(uint32_t, const hv::Blob&) override { return logged("KVM_SET_IRQCHIP"); }
  Result<hv::Blob> get_pit() override;
  Status set_pit(const hv::Blob&) override { return logged("KVM_SET_PIT2"); }
  Result<hv::ClockData> get_clock() override;
  Status set_clock(const hv::ClockData& c) override;

 private:
  Status logged(const char* name, int err = 0);
  CallLog& log_;
  std::mutex mu_;
  uint64_t clock_set_at_ns_ = 0;  // CLOCK_MONOTONIC when `clock` was last set (ticking_clock)
  struct Slot {
    uint64_t gpa = 0, size = 0;
    bool log_dirty = false;
    std::vector<uint64_t> dirty;  // one bit per page
  };
  std::map<uint32_t, Slot> slots_;
};

// The hypervisor a whole Machine can be built on without KVM (tests/machine): it creates FakeVms
// whose vCPUs have the typical MSRs and whose clock ticks, and answers KVM's capability queries as
// a modern Intel host with kvmclock does.
class FakeHypervisor final : public hv::Hypervisor {
 public:
  explicit FakeHypervisor(CallLog& log) : log_(log) {}

  FakeVm* vm = nullptr;  // the VM create_vm() made (owned by the caller)
  int max_vcpu_count = 8;

  Result<std::unique_ptr<hv::Vm>> create_vm() override;
  int api_version() const override { return 12; }
  int64_t check_extension(uint32_t cap) const override;
  int max_vcpus() const override { return max_vcpu_count; }
  Result<std::vector<hv::CpuidEntry>> supported_cpuid() const override;
  Result<std::vector<uint32_t>> msr_index_list() const override;
  uint32_t host_tsc_khz() const override { return 2'000'000; }

 private:
  CallLog& log_;
};

// The MSRs a fresh fake vCPU has: every MSR cpu_sync syncs on a typical Intel host (a realistic
// KVM_GET_MSR_INDEX_LIST), all zero except PAT and MISC_ENABLE.
std::vector<uint32_t> typical_msr_index_list();
void give_typical_msrs(FakeVcpu& vcpu);

}  // namespace rrvm::core::testing
