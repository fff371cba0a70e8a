#include "tests/machine/fake_machine.h"

#include <cstring>
#include <functional>
#include <memory>
#include <string_view>

#include "vmm/base/tsan.h"
#include "vmm/devices/serial.h"

namespace rrvm::machine::testing {

namespace {

// The guest work of vCPU `index`: the next DIRTY_PAGES_PER_EXIT pages of its window get the next
// counter value, and the fake KVM's dirty log sees the writes (as KVM sees a guest's).
std::function<void()> dirty_ram_work(const GuestMemory& memory, core::testing::FakeVm& vm,
                                     size_t index) {
  auto counter = std::make_shared<uint64_t>(0);
  return [&memory, &vm, index, counter] {
    const uint64_t pages = DIRTY_WINDOW_BYTES / GuestMemory::PAGE_SIZE;
    for (uint64_t i = 0; i < DIRTY_PAGES_PER_EXIT; ++i) {
      uint64_t n = ++*counter;
      uint64_t gpa =
          DIRTY_WINDOW_BASE + index * DIRTY_WINDOW_BYTES + (n % pages) * GuestMemory::PAGE_SIZE;
      // Straight into RAM, as a guest writes: not through GuestMemory::write, which marks the
      // VMM's own writes in rrvm's dirty log.
      auto host = memory.slice(gpa, sizeof n);
      if (!host.ok()) continue;
      {
        GuestWriteScope as_guest;  // unseen by TSan, as a real guest's store
        std::memcpy(host->data(), &n, sizeof n);
      }
      vm.guest_wrote(gpa, sizeof n);
    }
  };
}

}  // namespace

MachineConfig fake_machine_config(const std::string& dir, const std::string& name) {
  MachineConfig c;
  c.memory_bytes = 64ull << 20;
  c.vcpus = 2;
  c.kernel = RRVM_GUEST_ELF;
  c.trace_path = dir + "/" + name + ".rrtrace";
  c.qmp_path = dir + "/" + name + ".sock";
  c.serial = dir + "/" + name + ".console";
  return c;
}

FakeMachine::FakeMachine(const MachineConfig& config, bool dirty_ram) {
  auto hv = std::make_unique<core::testing::FakeHypervisor>(log);
  hv_ = hv.get();
  auto m = Machine::create(config, std::move(hv));
  if (!m.ok()) {
    error_ = m.error().describe();
    hv_ = nullptr;
    return;
  }
  machine_ = std::move(m).value();
  // A guest that keeps exiting to its VMM: COM1's scratch register, which only stores the byte.
  hv::Exit exit{.kind = hv::Exit::Kind::Io,
                .address = devices::COM1_PORT + 7,
                .size = 1,
                .count = 1,
                .is_write = true};
  const auto& vcpus = hv_->vm->created_vcpus;
  for (size_t i = 0; i < vcpus.size(); ++i) {
    vcpus[i]->exit_every(FAKE_EXIT_PERIOD, exit, {0x5a},
                         dirty_ram ? dirty_ram_work(machine_->memory(), *hv_->vm, i) : nullptr);
  }
}

FakeMachine::~FakeMachine() { destroy(); }

void FakeMachine::start() {
  thread_ = std::thread([this] {
    status_ = machine_->run();
    finished_ = true;
  });
}

int FakeMachine::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!finished_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!finished_) return -1;
  if (thread_.joinable()) thread_.join();
  return status_;
}

void FakeMachine::destroy() {
  if (thread_.joinable()) {
    if (!finished_) machine_->request_shutdown(core::ShutdownCause::HostSignal, 0);
    thread_.join();
  }
  machine_.reset();
  hv_ = nullptr;
}

uint64_t ram_digest(const GuestMemory& memory) {
  uint64_t digest = 0;
  for (const auto& r : memory.regions()) {
    std::string_view bytes(reinterpret_cast<const char*>(r.host), r.size);
    digest = digest * 1000003u ^ std::hash<std::string_view>{}(bytes);
  }
  return digest;
}

uint64_t vcpus_digest(FakeMachine& machine) {
  std::string bytes;
  auto add = [&bytes](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); };
  for (size_t i = 0; i < machine.vcpu_count(); ++i) {
    auto& v = machine.vcpu(i);
    add(&v.regs, sizeof v.regs);
    add(&v.sregs, sizeof v.sregs);
    for (const auto& [index, value] : v.msrs) {
      add(&index, sizeof index);
      add(&value, sizeof value);
    }
    for (const hv::Blob* blob : {&v.lapic, &v.events, &v.xsave}) add(blob->data(), blob->size());
    add(&v.mp_state, sizeof v.mp_state);
  }
  return std::hash<std::string>{}(bytes);
}

}  // namespace rrvm::machine::testing
