#include "vmm/devices/virtio/queue_notifiers.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace rrvm::virtio {

Result<std::unique_ptr<QueueNotifiers>> QueueNotifiers::attach(hv::Vm& vm, IoThread& io,
                                                               uint64_t notify_gpa,
                                                               uint16_t num_queues,
                                                               OnNotify on_notify) {
  std::unique_ptr<QueueNotifiers> n(new QueueNotifiers(vm, io));
  for (uint16_t q = 0; q < num_queues; ++q) {
    // On error the destructor of `n` unregisters the queues that were registered.
    RRVM_TRY(n->add_queue(notify_gpa, q, on_notify));
  }
  return n;
}

Status QueueNotifiers::add_queue(uint64_t notify_gpa, uint16_t queue, const OnNotify& on_notify) {
  auto e = std::make_unique<Entry>();
  e->fd = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e->fd.valid()) return errno_error("eventfd for virtio queue " + std::to_string(queue));
  // The notify register is 32 bits and Linux writes it with writel(): match exactly 4 bytes.
  e->event = hv::IoEventFd{e->fd.get(), notify_gpa, 4, false, true, queue};
  Entry* raw = e.get();
  entries_.push_back(std::move(e));
  RRVM_TRY(vm_.ioeventfd(raw->event, true));
  raw->kvm_assigned = true;
  int fd = raw->fd.get();
  RRVM_TRY(io_.add(fd, [fd, queue, on_notify] {
    uint64_t count = 0;
    // EAGAIN: a wake-up that an earlier call already consumed (see IoThread::add).
    if (::read(fd, &count, sizeof count) == sizeof count) on_notify(queue);
  }));
  raw->watched = true;
  return ok_status();
}

QueueNotifiers::~QueueNotifiers() {
  for (auto& e : entries_) {
    if (e->watched) {
      if (Status s = io_.remove(e->fd.get()); !s.ok()) {
        spdlog::error("virtio ioeventfd teardown: {}", s.error().describe());
      }
    }
    if (e->kvm_assigned) {
      if (Status s = vm_.ioeventfd(e->event, false); !s.ok()) {
        spdlog::error("virtio ioeventfd teardown: {}", s.error().describe());
      }
    }
  }
}

}  // namespace rrvm::virtio
