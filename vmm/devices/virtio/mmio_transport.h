// virtio-mmio transport, version 2 (virtio 1.x §4.2.2), with device-status tracing.
//
// One window of MMIO_WINDOW_SIZE bytes per device: registers below 0x100, the device's config
// space from 0x100. Accesses arrive on vCPU threads (BusDevice::read/write); queue notifications
// also arrive on the I/O thread when ioeventfds are attached. One mutex serializes everything, so
// a request is never served concurrently with a reset or a register write.
//
// Recorded (trace/events.h): every status write (DeviceStatusWrite: old, new, source, accepted or
// why refused) inside the spans "virtio_mmio_write" -> "virtio_set_status", resets
// (DeviceReset), backend start/stop (DeviceBackend), and a Warning for each bad access or broken
// queue. Bad accesses (unaligned, wrong size, read-only or unknown registers) are ignored: reads
// return 0, writes change nothing.
//
// Backend lifecycle (like QEMU's virtio_vmstate_change): the backend serves queues only while the
// VM runs and the driver has set DRIVER_OK on a healthy device. Notifications that arrive while
// it is stopped are remembered and served when it starts.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace/events.h"
#include "vmm/core/guest_memory.h"
#include "vmm/core/io_bus.h"
#include "vmm/devices/virtio/io_thread.h"
#include "vmm/devices/virtio/mmio_transport_state.h"
#include "vmm/devices/virtio/queue_notifiers.h"
#include "vmm/devices/virtio/virtio_device.h"
#include "vmm/devices/virtio/warning_log.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::virtio {

struct MmioTransportArgs {
  uint64_t base = 0;                         // guest-physical start of the window
  const GuestMemory* memory = nullptr;       // must outlive the transport
  std::shared_ptr<InterruptLine> interrupt;  // the window's IRQ (KVM irqfd in the machine)
};

class VirtioMmioTransport final : public BusDevice {
 public:
  VirtioMmioTransport(const MmioTransportArgs& args, std::unique_ptr<VirtioDevice> device);
  // Detaches ioeventfds first: the Vm and IoThread given to attach_ioeventfds() must still live.
  ~VirtioMmioTransport() override;

  // --- BusDevice (vCPU threads) ---
  std::string name() const override { return device_->name(); }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // A notification for `queue`: what a QueueNotify write does; the ioeventfd path calls it on the
  // I/O thread.
  void notify(uint32_t queue);

  // Registers one KVM ioeventfd per queue on base + QueueNotify, served by `io`.
  Status attach_ioeventfds(hv::Vm& vm, IoThread& io);
  void detach_ioeventfds();

  // VM state notifier (QEMU: virtio_vmstate_change). Starts or stops the backend, and re-applies
  // the current status as QEMU does, recorded with StatusSource::Vmm.
  void vm_state_changed(bool running, trace::RunState state);
  // A reset rrvm performs itself (system reset, poweroff): like a status write of 0 from the
  // guest, but recorded with StatusSource::Vmm and `reason`.
  void reset_by_vmm(std::string_view reason);

  // --- Persist pattern ---
  MmioTransportState save() const;
  // Validates `state` against `device` and guest RAM, then rebuilds the transport. A transport
  // whose status has DRIVER_OK is re-activated (recorded with StatusSource::Restore). The backend
  // starts at the next vm_state_changed(true).
  static Result<std::unique_ptr<VirtioMmioTransport>> restore(const MmioTransportArgs& args,
                                                              std::unique_ptr<VirtioDevice> device,
                                                              const MmioTransportState& state);

  // --- inspection (machine, tests) ---
  uint64_t base() const { return base_; }
  const std::string& transport_name() const { return transport_name_; }  // "virtio-mmio@0x..."
  uint32_t status() const;
  bool backend_running() const;
  uint64_t warnings() const { return warnings_.count(); }
  uint64_t requests_served() const;

 private:
  // Registers (mmio_transport.cc).
  uint32_t read_register(uint32_t offset);
  void write_register(uint32_t offset, uint32_t value);
  void write_queue_register(uint32_t offset, uint32_t value);
  void write_queue_ready(Virtqueue& q, uint32_t value);
  void read_config(uint64_t offset, std::span<uint8_t> data);
  Virtqueue* selected_queue();

  // Status, activation, reset, backend (mmio_status.cc).
  void set_status_by_guest(uint32_t written);
  std::string check_features() const;
  Status activate_locked();
  void reset_locked(trace::StatusSource source, std::string_view reason);
  void mark_needs_reset(std::string_view what);
  void update_backend(std::string_view reason);
  void emit_status(uint32_t old_status, uint32_t new_status, trace::StatusSource source,
                   bool accepted, std::string_view reason) const;

  // Queues (mmio_queues.cc).
  void notify_locked(uint32_t queue);
  void process_queue(uint16_t queue);
  void raise_interrupt(uint32_t bits);

  const uint64_t base_;
  const std::string transport_name_;
  const GuestMemory& mem_;
  const std::shared_ptr<InterruptLine> interrupt_;
  const std::unique_ptr<VirtioDevice> device_;
  WarningLog warnings_;

  mutable std::mutex mu_;
  std::vector<Virtqueue> queues_;
  uint32_t status_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t interrupt_status_ = 0;
  uint32_t config_generation_ = 0;
  bool activated_ = false;        // device_->activate() succeeded since the last reset
  bool vm_running_ = false;       // last vm_state_changed()
  bool backend_running_ = false;  // serving queues: vm_running_ && activated_ && healthy
  std::vector<bool> pending_;     // notified while the backend was stopped
  DescriptorChain chain_;         // reused by process_queue()
  uint64_t requests_served_ = 0;

  std::unique_ptr<QueueNotifiers> notifiers_;  // outside mu_: see detach_ioeventfds()
};

}  // namespace rrvm::virtio
