#include "vmm/hv/kvm/kvm_vm.h"

#include "vmm/hv/kvm/linux_kvm.h"
#include <sys/ioctl.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "vmm/hv/kvm/kvm_vcpu.h"

namespace rrvm::hv::kvm {
namespace {

constexpr uint64_t PAGE = 4096;

// The part of struct kvm_irqchip that describes a chip: PIC (chips 0, 1) or IOAPIC (chip 2).
// The Blob holds this union only; the chip number is the call's argument.
constexpr size_t IRQCHIP_BYTES = sizeof(kvm_irqchip::chip);

Status size_error(const char* ioctl, size_t got, size_t want) {
  return make_error(std::string(ioctl) + ": state is " + std::to_string(got) +
                    " bytes, KVM's structure has " + std::to_string(want));
}

static_assert(CLOCK_FLAG_TSC_STABLE == KVM_CLOCK_TSC_STABLE);
static_assert(CLOCK_FLAG_REALTIME == KVM_CLOCK_REALTIME);
static_assert(CLOCK_FLAG_HOST_TSC == KVM_CLOCK_HOST_TSC);

Status check_chip(const char* ioctl, uint32_t chip) {
  if (chip <= KVM_IRQCHIP_IOAPIC) return ok_status();
  return make_error(std::string(ioctl) + ": no irqchip " + std::to_string(chip) +
                    " (0 PIC master, 1 PIC slave, 2 IOAPIC)");
}

}  // namespace

KvmVm::KvmVm(Fd fd, size_t run_area_size, size_t xsave2_size)
    : fd_(std::move(fd)), run_area_size_(run_area_size), xsave2_size_(xsave2_size) {}

Result<std::unique_ptr<Vcpu>> KvmVm::create_vcpu(int index) {
  const std::string op = "KVM_CREATE_VCPU (vcpu " + std::to_string(index) + ")";
  if (index < 0) return make_error(op + ": negative vCPU index");
  Fd fd(::ioctl(fd_.get(), KVM_CREATE_VCPU, index));
  if (!fd.valid()) return errno_error(op);
  auto run_area = Mapping::shared(fd.get(), run_area_size_);
  if (!run_area.ok()) return run_area.error().context(op + ": kvm_run area");
  return std::unique_ptr<Vcpu>(
      new KvmVcpu(index, std::move(fd), std::move(run_area).value(), xsave2_size_));
}

Status KvmVm::set_memory_region(const MemoryRegion& region) {
  kvm_userspace_memory_region r{};
  r.slot = region.slot;
  r.flags = region.log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  r.guest_phys_addr = region.guest_phys_addr;
  r.memory_size = region.size;  // 0 deletes the slot
  r.userspace_addr = reinterpret_cast<uint64_t>(region.host_addr);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    return errno_error("KVM_SET_USER_MEMORY_REGION (slot " + std::to_string(region.slot) + ")");
  }
  return ok_status();
}

Result<std::vector<uint64_t>> KvmVm::get_dirty_log(uint32_t slot, uint64_t size) {
  const uint64_t pages = (size + PAGE - 1) / PAGE;
  std::vector<uint64_t> bitmap((pages + 63) / 64, 0);
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) {
    return errno_error("KVM_GET_DIRTY_LOG (slot " + std::to_string(slot) + ")");
  }
  return bitmap;
}

Status KvmVm::create_irqchip() {
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return errno_error("KVM_CREATE_IRQCHIP");
  return ok_status();
}

Status KvmVm::create_pit() {
  // A dummy speaker port (0x61) so the PIT's channel 2 gate works as on a PC, like QEMU's
  // kvm-pit.
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0) return errno_error("KVM_CREATE_PIT2");
  return ok_status();
}

Status KvmVm::set_tss_addr(uint64_t addr) {
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) {
    return errno_error("KVM_SET_TSS_ADDR");
  }
  return ok_status();
}

Status KvmVm::set_identity_map_addr(uint64_t addr) {
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
    return errno_error("KVM_SET_IDENTITY_MAP_ADDR");
  }
  return ok_status();
}

Status KvmVm::set_irq_line(uint32_t gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &irq) < 0) {
    return errno_error("KVM_IRQ_LINE (gsi " + std::to_string(gsi) + ")");
  }
  return ok_status();
}

Status KvmVm::irqfd(int fd, uint32_t gsi, bool assign) {
  kvm_irqfd req{};
  req.fd = static_cast<uint32_t>(fd);
  req.gsi = gsi;
  req.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
  if (::ioctl(fd_.get(), KVM_IRQFD, &req) < 0) {
    return errno_error("KVM_IRQFD (gsi " + std::to_string(gsi) + (assign ? ")" : ", deassign)"));
  }
  return ok_status();
}

Status KvmVm::ioeventfd(const IoEventFd& ev, bool assign) {
  kvm_ioeventfd req{};
  req.datamatch = ev.has_datamatch ? ev.datamatch : 0;
  req.addr = ev.address;
  req.len = ev.length;
  req.fd = ev.fd;
  req.flags = (ev.pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
              (ev.has_datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
              (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN);
  if (::ioctl(fd_.get(), KVM_IOEVENTFD, &req) < 0) {
    char addr[32];
    std::snprintf(addr, sizeof addr, "%s 0x%llx", ev.pio ? "port" : "mmio",
                  static_cast<unsigned long long>(ev.address));
    return errno_error(std::string("KVM_IOEVENTFD (") + addr + (assign ? ")" : ", deassign)"));
  }
  return ok_status();
}

Result<Blob> KvmVm::get_irqchip(uint32_t chip) {
  RRVM_TRY(check_chip("KVM_GET_IRQCHIP", chip));
  kvm_irqchip state{};
  state.chip_id = chip;
  if (::ioctl(fd_.get(), KVM_GET_IRQCHIP, &state) < 0) {
    return errno_error("KVM_GET_IRQCHIP (chip " + std::to_string(chip) + ")");
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(&state.chip);
  return Blob(bytes, bytes + IRQCHIP_BYTES);
}

Status KvmVm::set_irqchip(uint32_t chip, const Blob& blob) {
  RRVM_TRY(check_chip("KVM_SET_IRQCHIP", chip));
  if (blob.size() != IRQCHIP_BYTES) return size_error("KVM_SET_IRQCHIP", blob.size(), IRQCHIP_BYTES);
  kvm_irqchip state{};
  state.chip_id = chip;
  std::memcpy(&state.chip, blob.data(), IRQCHIP_BYTES);
  if (::ioctl(fd_.get(), KVM_SET_IRQCHIP, &state) < 0) {
    return errno_error("KVM_SET_IRQCHIP (chip " + std::to_string(chip) + ")");
  }
  return ok_status();
}

Result<Blob> KvmVm::get_pit() {
  kvm_pit_state2 state{};
  if (::ioctl(fd_.get(), KVM_GET_PIT2, &state) < 0) return errno_error("KVM_GET_PIT2");
  const auto* bytes = reinterpret_cast<const uint8_t*>(&state);
  return Blob(bytes, bytes + sizeof state);
}

Status KvmVm::set_pit(const Blob& blob) {
  kvm_pit_state2 state{};
  if (blob.size() != sizeof state) return size_error("KVM_SET_PIT2", blob.size(), sizeof state);
  std::memcpy(&state, blob.data(), sizeof state);
  if (::ioctl(fd_.get(), KVM_SET_PIT2, &state) < 0) return errno_error("KVM_SET_PIT2");
  return ok_status();
}

Result<ClockData> KvmVm::get_clock() {
  kvm_clock_data data{};
  if (::ioctl(fd_.get(), KVM_GET_CLOCK, &data) < 0) return errno_error("KVM_GET_CLOCK");
  return ClockData{.clock_ns = data.clock,
                   .flags = data.flags,
                   .host_tsc = data.host_tsc,
                   .realtime_ns = data.realtime};
}

Status KvmVm::set_clock(const ClockData& clock) {
  // KVM acts on KVM_CLOCK_REALTIME only: with it, the clock is advanced by the host realtime
  // elapsed since `realtime_ns` (Firecracker-style restore); TSC_STABLE and HOST_TSC are ignored.
  kvm_clock_data data{};
  data.clock = clock.clock_ns;
  data.flags = clock.flags;
  data.realtime = clock.realtime_ns;
  data.host_tsc = clock.host_tsc;
  if (::ioctl(fd_.get(), KVM_SET_CLOCK, &data) < 0) return errno_error("KVM_SET_CLOCK");
  return ok_status();
}

}  // namespace rrvm::hv::kvm
