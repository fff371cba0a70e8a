// Machine: the virtio-mmio devices (--disk, --rng): creation, and replacement on restore.
#include "trace/span.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/rng.h"
#include "vmm/machine/irqfd_line.h"
#include "vmm/machine/machine.h"
#include "vmm/machine/state_codec.h"

namespace rrvm::machine {

Status Machine::create_virtio_devices() {
  size_t count = config_.disks.size() + (config_.rng ? 1 : 0);
  if (count == 0) return ok_status();
  virtio::MmioLayoutOptions layout;
  layout.reserved_irqs = {devices::COM1_IRQ};
  RRVM_ASSIGN_OR_RETURN(auto slots, virtio::assign_mmio_slots(count, &memory_, layout));
  RRVM_ASSIGN_OR_RETURN(io_thread_, virtio::IoThread::start("io"));
  virtio_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    virtio_[i].slot = slots[i];
    RRVM_ASSIGN_OR_RETURN(auto device, make_virtio_device(i, nullptr));
    RRVM_TRY(install_virtio(i, std::move(device), nullptr));
  }
  return ok_status();
}

std::vector<virtio::MmioSlot> Machine::virtio_slots() const {
  std::vector<virtio::MmioSlot> slots;
  for (const auto& v : virtio_) slots.push_back(v.slot);
  return slots;
}

virtio::BlkConfig Machine::disk_config(const MachineConfig& config, size_t index,
                                       bool open_inactive) {
  return virtio::BlkConfig{.name = "virtio-blk" + std::to_string(index),
                           .path = config.disks[index].path,
                           .read_only = config.disks[index].read_only,
                           .open_inactive = open_inactive};
}

Result<std::unique_ptr<virtio::VirtioDevice>> Machine::make_virtio_device(
    size_t index, const virtio::BlkState* saved) {
  if (index >= config_.disks.size()) {
    virtio_[index].blk = nullptr;
    return std::unique_ptr<virtio::VirtioDevice>(
        std::make_unique<virtio::RngDevice>("virtio-rng0"));
  }
  virtio::BlkConfig blk = disk_config(config_, index, !disks_active_);
  auto device = saved ? virtio::BlkDevice::restore(blk, *saved) : virtio::BlkDevice::create(blk);
  if (!device.ok()) return device.error();
  virtio_[index].blk = device->get();
  return std::unique_ptr<virtio::VirtioDevice>(std::move(device).value());
}

Status Machine::install_virtio(size_t index, std::unique_ptr<virtio::VirtioDevice> device,
                               const virtio::MmioTransportState* state) {
  auto& v = virtio_[index];
  RRVM_ASSIGN_OR_RETURN(auto irq, IrqfdLine::create(*vm_, v.slot.irq));
  virtio::MmioTransportArgs args{.base = v.slot.base, .memory = &memory_, .interrupt = irq};
  if (state) {
    RRVM_ASSIGN_OR_RETURN(auto restored,
                          virtio::VirtioMmioTransport::restore(args, std::move(device), *state));
    v.transport = std::move(restored);
  } else {
    v.transport = std::make_shared<virtio::VirtioMmioTransport>(args, std::move(device));
  }
  RRVM_TRY(v.transport->attach_ioeventfds(*vm_, *io_thread_));
  if (state) {
    RRVM_TRY(mmio_.replace(v.slot.base, v.transport));
  } else {
    RRVM_TRY(mmio_.insert(v.slot.base, v.slot.size, v.transport));
  }
  // Like QEMU's virtio_vmstate_change: backends stop when the VM stops, start when it runs.
  v.notifier =
      notifiers_.add(v.transport->name(), [t = v.transport.get()](bool running, trace::RunState s) {
        t->vm_state_changed(running, s);
      });
  return ok_status();
}

void Machine::uninstall_virtio(size_t index) {
  auto& v = virtio_[index];
  v.transport->detach_ioeventfds();
  notifiers_.remove(v.notifier);
  // Vacate the window so the bus drops its reference: the device (and a disk image's lock) goes
  // away now, before its replacement opens the image.
  Status st = mmio_.replace(v.slot.base, nullptr);
  RRVM_CHECK_MSG(st.ok(), "vacating an installed virtio window");
  v.transport.reset();
  v.blk = nullptr;
}

Status Machine::restore_virtio(size_t index, std::span<const uint8_t> data) {
  const std::string name = virtio_[index].transport->name();
  RRVM_ASSIGN_OR_RETURN(auto state, decode_virtio_state(data));
  bool is_disk = index < config_.disks.size();
  if (is_disk != state.blk.has_value()) {
    return make_error(name + ": the section is for a " + (state.blk ? "disk" : "non-disk") +
                      " device");
  }
  uninstall_virtio(index);
  // From here on a failure leaves the window vacant; the VM is then refused and never runs.
  RRVM_ASSIGN_OR_RETURN(auto device, make_virtio_device(index, state.blk ? &*state.blk : nullptr));
  return install_virtio(index, std::move(device), &state.transport);
}

}  // namespace rrvm::machine
