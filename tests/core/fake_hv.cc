#include "tests/core/fake_hv.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "vmm/hv/caps.h"
#include "vmm/hv/cpuid.h"
#include "vmm/hv/msr_index.h"

namespace rrvm::core::testing {

// --- CallLog -------------------------------------------------------------------------------------

void CallLog::add(Call call) {
  std::lock_guard lock(mu_);
  calls_.push_back(std::move(call));
}

std::vector<Call> CallLog::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<Call> CallLog::named(const std::string& name, std::optional<int> vcpu) const {
  std::lock_guard lock(mu_);
  std::vector<Call> out;
  for (const auto& c : calls_) {
    if (c.name == name && (!vcpu || c.vcpu == *vcpu)) out.push_back(c);
  }
  return out;
}

size_t CallLog::count(const std::string& name, std::optional<int> vcpu) const {
  return named(name, vcpu).size();
}

long CallLog::first(const std::string& name, std::optional<int> vcpu) const {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < calls_.size(); ++i) {
    if (calls_[i].name == name && (!vcpu || calls_[i].vcpu == *vcpu)) return static_cast<long>(i);
  }
  return -1;
}

long CallLog::last(const std::string& name, std::optional<int> vcpu) const {
  std::lock_guard lock(mu_);
  for (size_t i = calls_.size(); i-- > 0;) {
    if (calls_[i].name == name && (!vcpu || calls_[i].vcpu == *vcpu)) return static_cast<long>(i);
  }
  return -1;
}

void CallLog::clear() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

// --- FakeVcpu ------------------------------------------------------------------------------------

void FakeVcpu::log(const char* name, int err) {
  log_.add(Call{name, index_, std::this_thread::get_id(), trace::SyncLevel::None, {}, err});
}

void FakeVcpu::push_exit(hv::Exit exit, std::vector<uint8_t> data) {
  std::lock_guard lock(mu_);
  exits_.emplace_back(std::move(exit), std::move(data));
  cv_.notify_all();
}

std::vector<uint8_t> FakeVcpu::io_data() const {
  std::lock_guard lock(mu_);
  return io_buffer_;
}

size_t FakeVcpu::runs() const {
  std::lock_guard lock(mu_);
  return runs_;
}

size_t FakeVcpu::kicks() const {
  std::lock_guard lock(mu_);
  return kicks_;
}

void FakeVcpu::exit_every(std::chrono::milliseconds period, hv::Exit exit,
                          std::vector<uint8_t> data, std::function<void()> guest_work) {
  std::lock_guard lock(mu_);
  idle_period_ = period;
  idle_exit_ = {std::move(exit), std::move(data)};
  guest_work_ = std::move(guest_work);
}

bool FakeVcpu::wait_runs(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return runs_ >= n; });
}

Result<hv::Exit> FakeVcpu::run() {
  log("KVM_RUN", run_errno);
  if (run_errno) return errno_error("KVM_RUN", run_errno);
  std::unique_lock lock(mu_);
  ++runs_;
  cv_.notify_all();
  // A guest that runs until something happens: a scripted exit, or a kick (immediate_exit), or
  // its idle period ends.
  auto woken = [&] { return kicked_ || !exits_.empty(); };
  if (idle_period_) {
    if (!cv_.wait_for(lock, *idle_period_, woken)) {
      if (guest_work_) {
        auto work = guest_work_;
        lock.unlock();  // the work may take the VMM's locks (guest memory's dirty log)
        work();
        lock.lock();
      }
      exits_.push_back(idle_exit_);
    }
  } else {
    cv_.wait(lock, woken);
  }
  if (kicked_ && exits_.empty()) return hv::Exit{.kind = hv::Exit::Kind::Interrupted};
  auto [exit, data] = std::move(exits_.front());
  exits_.pop_front();
  if (exit.kind == hv::Exit::Kind::Io || exit.kind == hv::Exit::Kind::Mmio) {
    size_t len = data.empty() ? static_cast<size_t>(exit.size) * exit.count : data.size();
    std::fill(io_buffer_.begin(), io_buffer_.end(), 0);
    std::copy(data.begin(), data.end(), io_buffer_.begin());
    exit.data = std::span<uint8_t>(io_buffer_.data(), len);
  }
  return exit;
}

void FakeVcpu::kick() {
  std::lock_guard lock(mu_);
  kicked_ = true;
  ++kicks_;
  cv_.notify_all();
}

void FakeVcpu::clear_kick() {
  std::lock_guard lock(mu_);
  kicked_ = false;
}

#define FAKE_GET(fn, field, name)                    \
  Result<decltype(FakeVcpu::field)> FakeVcpu::fn() { \
    log(name);                                       \
    return field;                                    \
  }
#define FAKE_SET(fn, type, field, name) \
  Status FakeVcpu::fn(type v) {         \
    log(name);                          \
    field = v;                          \
    return ok_status();                 \
  }

FAKE_GET(get_sregs, sregs, "KVM_GET_SREGS")
FAKE_SET(set_sregs, const hv::Sregs&, sregs, "KVM_SET_SREGS")
FAKE_GET(get_fpu, fpu, "KVM_GET_FPU")
FAKE_SET(set_fpu, const hv::Fpu&, fpu, "KVM_SET_FPU")
FAKE_GET(get_xsave, xsave, "KVM_GET_XSAVE")
FAKE_SET(set_xsave, const hv::Blob&, xsave, "KVM_SET_XSAVE")
FAKE_GET(get_xcrs, xcrs, "KVM_GET_XCRS")
FAKE_SET(set_xcrs, const std::vector<hv::Xcr>&, xcrs, "KVM_SET_XCRS")
FAKE_GET(get_lapic, lapic, "KVM_GET_LAPIC")
FAKE_SET(set_lapic, const hv::Blob&, lapic, "KVM_SET_LAPIC")
FAKE_GET(get_vcpu_events, events, "KVM_GET_VCPU_EVENTS")
FAKE_SET(set_vcpu_events, const hv::Blob&, events, "KVM_SET_VCPU_EVENTS")
FAKE_GET(get_mp_state, mp_state, "KVM_GET_MP_STATE")
FAKE_SET(set_mp_state, hv::MpState, mp_state, "KVM_SET_MP_STATE")
FAKE_GET(get_debugregs, debugregs, "KVM_GET_DEBUGREGS")
FAKE_SET(set_debugregs, const hv::Blob&, debugregs, "KVM_SET_DEBUGREGS")
FAKE_GET(get_tsc_khz, tsc_khz, "KVM_GET_TSC_KHZ")
#undef FAKE_GET
#undef FAKE_SET

Result<hv::Regs> FakeVcpu::get_regs() {
  log("KVM_GET_REGS");
  return regs;
}

Status FakeVcpu::set_regs(const hv::Regs& r) {
  log("KVM_SET_REGS", set_regs_errno);
  if (set_regs_errno) return errno_error("KVM_SET_REGS", set_regs_errno);
  regs = r;
  return ok_status();
}

Status FakeVcpu::set_cpuid(const std::vector<hv::CpuidEntry>&) {
  log("KVM_SET_CPUID2");
  return ok_status();
}

Result<uint32_t> FakeVcpu::get_msrs(std::span<hv::MsrEntry> entries, trace::SyncLevel level) {
  uint32_t n = 0;
  for (auto& e : entries) {
    auto it = msrs.find(e.index);
    if (it == msrs.end() || failing_msr == e.index) break;
    e.value = it->second;
    ++n;
  }
  log_.add(Call{"KVM_GET_MSRS", index_, std::this_thread::get_id(), level,
                std::vector<hv::MsrEntry>(entries.begin(), entries.begin() + n), 0});
  return n;
}

Result<uint32_t> FakeVcpu::set_msrs(std::span<const hv::MsrEntry> entries, trace::SyncLevel level) {
  uint32_t n = 0;
  for (const auto& e : entries) {
    if (!msrs.count(e.index) || failing_msr == e.index) break;
    msrs[e.index] = e.value;
    ++n;
  }
  log_.add(Call{"KVM_SET_MSRS", index_, std::this_thread::get_id(), level,
                std::vector<hv::MsrEntry>(entries.begin(), entries.end()), 0});
  return n;
}

Status FakeVcpu::kvmclock_ctrl() {
  log("KVM_KVMCLOCK_CTRL", kvmclock_ctrl_errno);
  if (kvmclock_ctrl_errno) return errno_error("KVM_KVMCLOCK_CTRL", kvmclock_ctrl_errno);
  return ok_status();
}

Status FakeVcpu::set_tsc_khz(uint32_t khz) {
  log("KVM_SET_TSC_KHZ", set_tsc_khz_errno);
  if (set_tsc_khz_errno) return errno_error("KVM_SET_TSC_KHZ", set_tsc_khz_errno);
  tsc_khz = khz;
  return ok_status();
}

// --- FakeVm --------------------------------------------------------------------------------------

Status FakeVm::logged(const char* name, int err) {
  log_.add(Call{name, -1, std::this_thread::get_id(), trace::SyncLevel::None, {}, err});
  if (err) return errno_error(name, err);
  return ok_status();
}

Result<std::unique_ptr<hv::Vcpu>> FakeVm::create_vcpu(int index) {
  RRVM_TRY(logged("KVM_CREATE_VCPU"));
  auto vcpu = std::make_unique<FakeVcpu>(index, log_);
  if (typical_msrs) give_typical_msrs(*vcpu);
  created_vcpus.push_back(vcpu.get());
  return std::unique_ptr<hv::Vcpu>(std::move(vcpu));
}

Status FakeVm::set_memory_region(const hv::MemoryRegion& region) {
  std::lock_guard lock(mu_);
  RRVM_TRY(logged("KVM_SET_USER_MEMORY_REGION"));
  // As KVM: (re-)registering a slot starts its dirty log empty.
  slots_[region.slot] = Slot{region.guest_phys_addr, region.size, region.log_dirty,
                             std::vector<uint64_t>((region.size / 4096 + 63) / 64, 0)};
  return ok_status();
}

void FakeVm::guest_wrote(uint64_t gpa, uint64_t len) {
  std::lock_guard lock(mu_);
  for (auto& [index, slot] : slots_) {
    if (!slot.log_dirty || len == 0 || gpa < slot.gpa || gpa - slot.gpa >= slot.size) continue;
    uint64_t first = (gpa - slot.gpa) / 4096;
    uint64_t last = (std::min(gpa - slot.gpa + len, slot.size) - 1) / 4096;
    for (uint64_t p = first; p <= last; ++p) slot.dirty[p / 64] |= 1ull << (p % 64);
  }
}

Result<std::vector<uint64_t>> FakeVm::get_dirty_log(uint32_t slot, uint64_t size) {
  std::lock_guard lock(mu_);
  RRVM_TRY(logged("KVM_GET_DIRTY_LOG"));
  std::vector<uint64_t> bits((size / 4096 + 63) / 64, 0);
  auto it = slots_.find(slot);
  if (it != slots_.end() && it->second.log_dirty && it->second.dirty.size() == bits.size()) {
    bits.swap(it->second.dirty);
    it->second.dirty.assign(bits.size(), 0);
  }
  return bits;
}

Result<hv::Blob> FakeVm::get_irqchip(uint32_t) {
  RRVM_TRY(logged("KVM_GET_IRQCHIP"));
  return hv::Blob(512, 0);
}

Result<hv::Blob> FakeVm::get_pit() {
  RRVM_TRY(logged("KVM_GET_PIT2"));
  return hv::Blob(112, 0);
}

namespace {
uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Result<hv::ClockData> FakeVm::get_clock() {
  std::lock_guard lock(mu_);
  RRVM_TRY(logged("KVM_GET_CLOCK", get_clock_errno));
  if (!ticking_clock) return clock;
  uint64_t now = monotonic_now_ns();
  if (clock_set_at_ns_ == 0) clock_set_at_ns_ = now;
  hv::ClockData c = clock;
  c.clock_ns += now - clock_set_at_ns_;
  return c;
}

Status FakeVm::set_clock(const hv::ClockData& c) {
  std::lock_guard lock(mu_);
  int err = set_clock_errno;
  if (!err && refuse_realtime && (c.flags & hv::CLOCK_FLAG_REALTIME)) err = EINVAL;
  RRVM_TRY(logged("KVM_SET_CLOCK", err));
  set_clocks.push_back(c);
  if (ticking_clock) {
    clock.clock_ns = c.clock_ns;
    clock_set_at_ns_ = monotonic_now_ns();
  }
  return ok_status();
}

// --- FakeHypervisor ------------------------------------------------------------------------------

Result<std::unique_ptr<hv::Vm>> FakeHypervisor::create_vm() {
  log_.add(Call{"KVM_CREATE_VM", -1, std::this_thread::get_id()});
  auto made = std::make_unique<FakeVm>(log_);
  made->ticking_clock = true;
  made->typical_msrs = true;
  made->clock = hv::ClockData{.clock_ns = 1'000'000, .flags = hv::CLOCK_FLAG_TSC_STABLE};
  vm = made.get();
  return std::unique_ptr<hv::Vm>(std::move(made));
}

int64_t FakeHypervisor::check_extension(uint32_t cap) const {
  switch (cap) {
    case hv::cap::ADJUST_CLOCK:
      return hv::CLOCK_FLAG_TSC_STABLE | hv::CLOCK_FLAG_REALTIME | hv::CLOCK_FLAG_HOST_TSC;
    case hv::cap::NR_VCPUS:
    case hv::cap::MAX_VCPUS:
      return max_vcpu_count;
    case hv::cap::DEBUGREGS:
    case hv::cap::XSAVE:
    case hv::cap::XCRS:
    case hv::cap::TSC_CONTROL:
    case hv::cap::GET_TSC_KHZ:
    case hv::cap::KVMCLOCK_CTRL:
    case hv::cap::IMMEDIATE_EXIT:
      return 1;
    default:
      return 0;
  }
}

Result<std::vector<hv::CpuidEntry>> FakeHypervisor::supported_cpuid() const {
  // Just what rrvm requires: KVM's paravirtual leaves with kvmclock (KVMKVMKVM as three words).
  hv::CpuidEntry signature{.function = hv::CPUID_KVM_SIGNATURE,
                           .eax = hv::CPUID_KVM_FEATURES,
                           .ebx = 0x4b4d564b,
                           .ecx = 0x564b4d56,
                           .edx = 0x4d};
  hv::CpuidEntry features{.function = hv::CPUID_KVM_FEATURES,
                          .eax = 1u << hv::KVM_FEATURE_CLOCKSOURCE2};
  hv::CpuidEntry basic{.function = 0x1};
  return std::vector<hv::CpuidEntry>{basic, signature, features};
}

Result<std::vector<uint32_t>> FakeHypervisor::msr_index_list() const {
  return typical_msr_index_list();
}

// --- MSRs
// ------------------------------------------------------------------------------------------

std::vector<uint32_t> typical_msr_index_list() {
  namespace m = hv::msr;
  return {m::IA32_TSC,
          m::IA32_FEATURE_CONTROL,
          m::IA32_TSC_ADJUST,
          m::IA32_SPEC_CTRL,
          m::IA32_SYSENTER_CS,
          m::IA32_SYSENTER_ESP,
          m::IA32_SYSENTER_EIP,
          m::IA32_MISC_ENABLE,
          m::IA32_PAT,
          m::IA32_TSC_DEADLINE,
          m::EFER,
          m::STAR,
          m::LSTAR,
          m::CSTAR,
          m::FMASK,
          m::KERNEL_GS_BASE,
          m::TSC_AUX,
          m::KVM_WALL_CLOCK_NEW,
          m::KVM_SYSTEM_TIME_NEW,
          m::KVM_ASYNC_PF_EN,
          m::KVM_STEAL_TIME,
          m::KVM_PV_EOI_EN,
          m::KVM_POLL_CONTROL,
          m::KVM_ASYNC_PF_INT,
          m::IA32_MTRR_DEF_TYPE,
          m::IA32_MCG_STATUS};
}

void give_typical_msrs(FakeVcpu& vcpu) {
  for (uint32_t index : typical_msr_index_list()) vcpu.msrs[index] = 0;
  vcpu.msrs[hv::msr::IA32_PAT] = 0x0007040600070406ull;
  vcpu.msrs[hv::msr::IA32_MISC_ENABLE] = 1;
}

}  // namespace rrvm::core::testing
