#include "vmm/devices/virtio/io_thread.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>

#include "trace/recorder.h"

namespace rrvm::virtio {
namespace {
constexpr uint64_t WAKE_ID = 0;  // epoll data of the shutdown eventfd; registrations start at 1
}

Result<std::unique_ptr<IoThread>> IoThread::start(std::string name) {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return errno_error("epoll_create1 for I/O thread " + name);
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return errno_error("eventfd for I/O thread " + name);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = WAKE_ID;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return errno_error("epoll_ctl(ADD) of the I/O thread's wake eventfd");
  }
  std::unique_ptr<IoThread> t(new IoThread(std::move(name), std::move(epoll), std::move(wake)));
  t->thread_ = std::thread([raw = t.get()] { raw->loop(); });
  return t;
}

IoThread::IoThread(std::string name, Fd epoll, Fd wake)
    : name_(std::move(name)), epoll_(std::move(epoll)), wake_(std::move(wake)) {}

IoThread::~IoThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  // A failed write leaves the thread blocked and the join below hanging: that would be a bug.
  RRVM_CHECK(::write(wake_.get(), &one, sizeof one) == sizeof one);
  thread_.join();
}

Status IoThread::add(int fd, Handler handler) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return errno_error("epoll_ctl(ADD) of fd " + std::to_string(fd) + " to I/O thread " + name_);
  }
  watches_.emplace(id, Watch{fd, std::move(handler)});
  return ok_status();
}

Status IoThread::remove(int fd) {
  // Taking mu_ waits for a running handler; after the erase no event can reach it.
  std::lock_guard lock(mu_);
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->second.fd != fd) continue;
    watches_.erase(it);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0) {
      return errno_error("epoll_ctl(DEL) of fd " + std::to_string(fd) + " from I/O thread " +
                         name_);
    }
    return ok_status();
  }
  return make_error("I/O thread " + name_ + ": fd " + std::to_string(fd) + " is not watched");
}

void IoThread::loop() {
  ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
  trace::set_thread_name(name_);
  std::array<epoll_event, 16> events;
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      // epoll_wait on a valid epoll fd only fails for bugs (EBADF, EFAULT, EINVAL).
      RRVM_FATAL("epoll_wait in I/O thread " + name_ + ": " + std::strerror(errno));
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      auto it = watches_.find(events[i].data.u64);
      if (it != watches_.end()) it->second.handler();  // removed since epoll_wait: skipped
    }
  }
}

}  // namespace rrvm::virtio
