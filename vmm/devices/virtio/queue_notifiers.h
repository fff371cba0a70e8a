// KVM ioeventfds for a virtio-mmio transport's QueueNotify register, served by an I/O thread.
//
// One eventfd per queue, registered with KVM for a 4-byte write of the queue index to
// base + 0x50 (datamatch). KVM then completes the guest's notify write in the kernel without an
// exit to rrvm, and the I/O thread wakes up and calls on_notify(queue). Notify writes that match
// no eventfd (a bad queue index) still exit to rrvm and reach the transport's MMIO handler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"
#include "vmm/devices/virtio/io_thread.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::virtio {

class QueueNotifiers {
 public:
  using OnNotify = std::function<void(uint16_t queue)>;

  // Registers num_queues eventfds with KVM and the I/O thread. On error nothing stays registered.
  static Result<std::unique_ptr<QueueNotifiers>> attach(hv::Vm& vm, IoThread& io,
                                                        uint64_t notify_gpa, uint16_t num_queues,
                                                        OnNotify on_notify);
  // Removes the eventfds from the I/O thread (waiting for a running handler), then from KVM.
  // vm and io must still be alive.
  ~QueueNotifiers();
  QueueNotifiers(const QueueNotifiers&) = delete;
  QueueNotifiers& operator=(const QueueNotifiers&) = delete;

 private:
  struct Entry {
    Fd fd;
    hv::IoEventFd event{};
    bool kvm_assigned = false;
    bool watched = false;
  };
  QueueNotifiers(hv::Vm& vm, IoThread& io) : vm_(vm), io_(io) {}
  Status add_queue(uint64_t notify_gpa, uint16_t queue, const OnNotify& on_notify);

  hv::Vm& vm_;
  IoThread& io_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace rrvm::virtio
