#include "tests/boot/guest_vm.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "vmm/hv/cpuid.h"
#include "vmm/hv/kvm/kvm.h"

namespace rrvm::boot::testing {
namespace {

constexpr uint64_t UART = 0x3f8;
constexpr uint8_t LSR_THRE_TEMT = 0x60;
constexpr uint8_t IIR_FIFO_NO_IRQ = 0xc1;

// State shared by the vCPU threads; every field under mu.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  GuestRun result;
  std::string stop_when;
  bool stop = false;
};

// Port I/O from the guest; returns true when the VM should stop.
bool handle_io(const hv::Exit& exit, GuestRun& r) {
  const uint64_t port = exit.address;
  const uint8_t value = exit.data.empty() ? 0 : exit.data[0];
  if (!exit.is_write) {
    uint8_t in = 0xff;  // nothing there
    if (port == UART + 5) in = LSR_THRE_TEMT;
    if (port == UART + 2) in = IIR_FIFO_NO_IRQ;
    if (port >= UART && port < UART + 8 && port != UART + 5 && port != UART + 2) in = 0;
    for (auto& b : exit.data) b = in;
    return false;
  }
  if (port == UART) {
    for (uint32_t i = 0; i < exit.count; ++i) r.console.push_back(static_cast<char>(exit.data[i * exit.size]));
    return false;  // run's caller checks stop_when
  }
  if (port == 0x501) {
    r.exit_status = value;
    return true;
  }
  if ((port == 0xcf9 && (value & 0x04)) || (port == 0x64 && value == 0xfe)) {
    r.reset_requested = true;
    return true;
  }
  return false;  // UART setup, PIC masks, the first 0xcf9 write: ignored
}

// Handles one exit under sh.mu; true when the VM should stop.
bool handle_exit(const hv::Exit& exit, int index, GuestRun& r) {
  switch (exit.kind) {
    case hv::Exit::Kind::Io: return handle_io(exit, r);
    case hv::Exit::Kind::Mmio:
      if (!exit.is_write) std::fill(exit.data.begin(), exit.data.end(), uint8_t{0xff});
      return false;
    case hv::Exit::Kind::Interrupted: return false;
    case hv::Exit::Kind::Shutdown:
    case hv::Exit::Kind::InternalError:
    case hv::Exit::Kind::FailEntry:
      r.fatal = exit.kind;
      r.fatal_vcpu = index;
      return true;
    default: {
      char buf[96];
      std::snprintf(buf, sizeof buf, "vCPU %d: unexpected exit kind %d at 0x%llx", index, static_cast<int>(exit.kind),
                    static_cast<unsigned long long>(exit.address));
      r.harness_error = buf;
      return true;
    }
  }
}

void vcpu_loop(hv::Vcpu& vcpu, Shared& sh) {
  for (;;) {
    // Clear the kick before looking at stop: a kick sent after stop was set is then never lost.
    vcpu.clear_kick();
    {
      std::lock_guard lock(sh.mu);
      if (sh.stop) return;
    }
    auto exit = vcpu.run();
    // An AP waiting for SIPI (PVH boots) makes KVM_RUN block and then fail with EAGAIN once an
    // INIT arrives; QEMU retries, and so do we.
    if (!exit.ok() && exit.error().err == EAGAIN) continue;
    std::lock_guard lock(sh.mu);
    bool stop = exit.ok() ? handle_exit(*exit, vcpu.index(), sh.result) : true;
    if (!exit.ok()) sh.result.harness_error = exit.error().describe();
    if (!sh.stop_when.empty() && sh.result.console.find(sh.stop_when) != std::string::npos) {
      sh.result.matched = true;
      stop = true;
    }
    if (stop) {
      sh.stop = true;
      sh.cv.notify_all();
      return;
    }
  }
}

}  // namespace

bool GuestVm::open() {
  auto kvm = hv::open_kvm();
  if (!kvm.ok()) {
    skip_reason = kvm.error().describe();
    return false;
  }
  hv_ = std::move(kvm).value();
  return true;
}

Status GuestVm::boot(const KernelSpec& spec, uint64_t mem_bytes) {
  RRVM_ASSIGN_OR_RETURN(vm_, hv_->create_vm());
  RRVM_TRY(vm_->set_tss_addr(0xfffbd000));
  RRVM_TRY(vm_->set_identity_map_addr(0xfeffc000));
  RRVM_TRY(vm_->create_irqchip());
  RRVM_ASSIGN_OR_RETURN(mem_, GuestMemory::allocate(mem_bytes));
  for (const RamRegion& r : mem_.regions()) {
    RRVM_TRY(vm_->set_memory_region(hv::MemoryRegion{r.slot, r.gpa, r.size, r.host, false}));
  }
  RRVM_ASSIGN_OR_RETURN(plan_, load_kernel(mem_, spec));
  RRVM_ASSIGN_OR_RETURN(auto supported, hv_->supported_cpuid());
  for (uint32_t i = 0; i < spec.vcpus; ++i) {
    RRVM_ASSIGN_OR_RETURN(auto vcpu, vm_->create_vcpu(static_cast<int>(i)));
    RRVM_ASSIGN_OR_RETURN(auto cpuid, hv::vcpu_cpuid(supported, i, spec.vcpus));
    RRVM_TRY(vcpu->set_cpuid(cpuid));
    RRVM_TRY(apply_boot_state(*vcpu, plan_));
    vcpus_.push_back(std::move(vcpu));
  }
  return ok_status();
}

GuestRun GuestVm::run(std::chrono::milliseconds timeout, const std::string& stop_when) {
  Shared sh;
  sh.stop_when = stop_when;
  std::vector<std::thread> threads;
  for (auto& v : vcpus_) threads.emplace_back(vcpu_loop, std::ref(*v), std::ref(sh));
  {
    std::unique_lock lock(sh.mu);
    if (!sh.cv.wait_for(lock, timeout, [&] { return sh.stop; })) sh.result.timed_out = true;
    sh.stop = true;
  }
  for (auto& v : vcpus_) v->kick();
  for (auto& t : threads) t.join();
  return sh.result;
}

}  // namespace rrvm::boot::testing

namespace rrvm::boot::testing {

std::string GuestVm::describe_vcpus() {
  std::string out;
  for (auto& v : vcpus_) {
    auto regs = v->get_regs();
    auto sregs = v->get_sregs();
    char buf[160];
    std::snprintf(buf, sizeof buf, "vcpu%d rip=0x%llx rsp=0x%llx cr0=0x%llx efer=0x%llx\n", v->index(),
                  regs.ok() ? static_cast<unsigned long long>(regs->rip) : 0ull,
                  regs.ok() ? static_cast<unsigned long long>(regs->rsp) : 0ull,
                  sregs.ok() ? static_cast<unsigned long long>(sregs->cr0) : 0ull,
                  sregs.ok() ? static_cast<unsigned long long>(sregs->efer) : 0ull);
    out += buf;
  }
  return out;
}

}  // namespace rrvm::boot::testing
