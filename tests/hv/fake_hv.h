// A scriptable in-memory implementation of the hypervisor seam for unit tests: it keeps whatever
// state it is given, counts calls, and can be told to fail (an errno) or to process only part of
// an MSR list, so code above the seam (msr_set, the recording layer) is tested without KVM.
#pragma once

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmm/hv/hypervisor.h"

namespace rrvm::hv::testing {

class FakeVcpu : public Vcpu {
 public:
  explicit FakeVcpu(int index) : index_(index) {}

  // --- scripting -------------------------------------------------------------------------------
  std::map<uint32_t, uint64_t> msrs;               // the MSRs this vCPU "has"
  std::optional<uint32_t> failing_msr;             // get/set stops at this index (short count)
  int fail_errno = 0;                              // every call fails with this errno when set
  std::vector<size_t> msr_call_sizes;              // entries per get/set call, in order
  std::vector<Exit> exits;                         // what run() returns, in order
  std::vector<uint8_t> io_buffer = std::vector<uint8_t>(64, 0);  // backs Exit::data
  int kicks = 0, clear_kicks = 0;
  Regs regs{};
  Sregs sregs{};
  Fpu fpu{};
  Blob xsave = Blob(4096, 0), lapic = Blob(1024, 0), events = Blob(64, 0), debugregs = Blob(128, 0);
  std::vector<Xcr> xcrs;
  MpState mp_state = MpState::Runnable;
  std::vector<CpuidEntry> cpuid;
  uint32_t tsc_khz = 2'000'000;
  int kvmclock_ctrl_errno = 0;

  // --- Vcpu --------------------------------------------------------------------------------------
  int index() const override { return index_; }
  Result<Exit> run() override {
    if (fail_errno) return errno_error("KVM_RUN", fail_errno);
    if (exits.empty()) return Exit{.kind = Exit::Kind::Interrupted};
    Exit e = exits.front();
    exits.erase(exits.begin());
    return e;
  }
  void kick() override { ++kicks; }
  void clear_kick() override { ++clear_kicks; }

  Result<Regs> get_regs() override { return ret(regs, "KVM_GET_REGS"); }
  Status set_regs(const Regs& r) override { return store(regs, r, "KVM_SET_REGS"); }
  Result<Sregs> get_sregs() override { return ret(sregs, "KVM_GET_SREGS"); }
  Status set_sregs(const Sregs& s) override { return store(sregs, s, "KVM_SET_SREGS"); }
  Result<Fpu> get_fpu() override { return ret(fpu, "KVM_GET_FPU"); }
  Status set_fpu(const Fpu& f) override { return store(fpu, f, "KVM_SET_FPU"); }
  Result<Blob> get_xsave() override { return ret(xsave, "KVM_GET_XSAVE"); }
  Status set_xsave(const Blob& b) override { return store(xsave, b, "KVM_SET_XSAVE"); }
  Result<std::vector<Xcr>> get_xcrs() override { return ret(xcrs, "KVM_GET_XCRS"); }
  Status set_xcrs(const std::vector<Xcr>& x) override { return store(xcrs, x, "KVM_SET_XCRS"); }
  Result<Blob> get_lapic() override { return ret(lapic, "KVM_GET_LAPIC"); }
  Status set_lapic(const Blob& b) override { return store(lapic, b, "KVM_SET_LAPIC"); }
  Result<Blob> get_vcpu_events() override { return ret(events, "KVM_GET_VCPU_EVENTS"); }
  Status set_vcpu_events(const Blob& b) override { return store(events, b, "KVM_SET_VCPU_EVENTS"); }
  Result<MpState> get_mp_state() override { return ret(mp_state, "KVM_GET_MP_STATE"); }
  Status set_mp_state(MpState s) override { return store(mp_state, s, "KVM_SET_MP_STATE"); }
  Result<Blob> get_debugregs() override { return ret(debugregs, "KVM_GET_DEBUGREGS"); }
  Status set_debugregs(const Blob& b) override { return store(debugregs, b, "KVM_SET_DEBUGREGS"); }
  Status set_cpuid(const std::vector<CpuidEntry>& e) override {
    return store(cpuid, e, "KVM_SET_CPUID2");
  }

  Result<uint32_t> get_msrs(std::span<MsrEntry> entries, trace::SyncLevel) override {
    msr_call_sizes.push_back(entries.size());
    if (fail_errno) return errno_error("KVM_GET_MSRS", fail_errno);
    uint32_t n = 0;
    for (MsrEntry& e : entries) {
      auto it = msrs.find(e.index);
      if (it == msrs.end() || failing_msr == e.index) break;
      e.value = it->second;
      ++n;
    }
    return n;
  }
  Result<uint32_t> set_msrs(std::span<const MsrEntry> entries, trace::SyncLevel) override {
    msr_call_sizes.push_back(entries.size());
    if (fail_errno) return errno_error("KVM_SET_MSRS", fail_errno);
    uint32_t n = 0;
    for (const MsrEntry& e : entries) {
      if (failing_msr == e.index) break;
      msrs[e.index] = e.value;
      ++n;
    }
    return n;
  }

  Status kvmclock_ctrl() override {
    if (kvmclock_ctrl_errno) return errno_error("KVM_KVMCLOCK_CTRL", kvmclock_ctrl_errno);
    return ok_status();
  }
  Result<uint32_t> get_tsc_khz() override { return ret(tsc_khz, "KVM_GET_TSC_KHZ"); }
  Status set_tsc_khz(uint32_t khz) override { return store(tsc_khz, khz, "KVM_SET_TSC_KHZ"); }

 private:
  template <typename T>
  Result<T> ret(const T& v, const char* name) {
    if (fail_errno) return errno_error(name, fail_errno);
    return v;
  }
  template <typename T>
  Status store(T& slot, const T& v, const char* name) {
    if (fail_errno) return errno_error(name, fail_errno);
    slot = v;
    return ok_status();
  }

  int index_;
};

class FakeVm : public Vm {
 public:
  int fail_errno = 0;
  std::vector<MemoryRegion> regions;
  std::vector<std::string> calls;  // names of the calls, in order
  std::map<uint32_t, Blob> irqchips;
  Blob pit = Blob(112, 0);
  ClockData clock{};
  std::vector<uint64_t> dirty = {0x5};
  FakeVcpu* last_vcpu = nullptr;  // owned by whoever received it from create_vcpu

  Result<std::unique_ptr<Vcpu>> create_vcpu(int index) override {
    RRVM_TRY(call("KVM_CREATE_VCPU"));
    auto v = std::make_unique<FakeVcpu>(index);
    last_vcpu = v.get();
    return std::unique_ptr<Vcpu>(std::move(v));
  }
  Status set_memory_region(const MemoryRegion& r) override {
    RRVM_TRY(call("KVM_SET_USER_MEMORY_REGION"));
    regions.push_back(r);
    return ok_status();
  }
  Result<std::vector<uint64_t>> get_dirty_log(uint32_t, uint64_t) override {
    RRVM_TRY(call("KVM_GET_DIRTY_LOG"));
    return dirty;
  }
  Status create_irqchip() override { return call("KVM_CREATE_IRQCHIP"); }
  Status create_pit() override { return call("KVM_CREATE_PIT2"); }
  Status set_tss_addr(uint64_t) override { return call("KVM_SET_TSS_ADDR"); }
  Status set_identity_map_addr(uint64_t) override { return call("KVM_SET_IDENTITY_MAP_ADDR"); }
  Status set_irq_line(uint32_t, bool) override { return call("KVM_IRQ_LINE"); }
  Status irqfd(int, uint32_t, bool) override { return call("KVM_IRQFD"); }
  Status ioeventfd(const IoEventFd&, bool) override { return call("KVM_IOEVENTFD"); }
  Result<Blob> get_irqchip(uint32_t chip) override {
    RRVM_TRY(call("KVM_GET_IRQCHIP"));
    return irqchips[chip];
  }
  Status set_irqchip(uint32_t chip, const Blob& b) override {
    RRVM_TRY(call("KVM_SET_IRQCHIP"));
    irqchips[chip] = b;
    return ok_status();
  }
  Result<Blob> get_pit() override {
    RRVM_TRY(call("KVM_GET_PIT2"));
    return pit;
  }
  Status set_pit(const Blob& b) override {
    RRVM_TRY(call("KVM_SET_PIT2"));
    pit = b;
    return ok_status();
  }
  Result<ClockData> get_clock() override {
    RRVM_TRY(call("KVM_GET_CLOCK"));
    return clock;
  }
  Status set_clock(const ClockData& c) override {
    RRVM_TRY(call("KVM_SET_CLOCK"));
    clock = c;
    return ok_status();
  }

 private:
  Status call(const char* name) {
    calls.emplace_back(name);
    if (fail_errno) return errno_error(name, fail_errno);
    return ok_status();
  }
};

class FakeHypervisor : public Hypervisor {
 public:
  std::vector<CpuidEntry> cpuid;
  std::vector<uint32_t> msr_list;
  std::map<uint32_t, int64_t> caps;
  FakeVm* last_vm = nullptr;

  Result<std::unique_ptr<Vm>> create_vm() override {
    auto vm = std::make_unique<FakeVm>();
    last_vm = vm.get();
    return std::unique_ptr<Vm>(std::move(vm));
  }
  int api_version() const override { return 12; }
  int64_t check_extension(uint32_t cap) const override {
    auto it = caps.find(cap);
    return it == caps.end() ? 0 : it->second;
  }
  int max_vcpus() const override { return 8; }
  Result<std::vector<CpuidEntry>> supported_cpuid() const override { return cpuid; }
  Result<std::vector<uint32_t>> msr_index_list() const override { return msr_list; }
  uint32_t host_tsc_khz() const override { return 2'500'000; }
};

}  // namespace rrvm::hv::testing
