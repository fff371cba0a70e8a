// The I/O thread: one epoll loop serving eventfds (a virtio queue's KVM ioeventfd) with callbacks.
//
// Handlers run on the I/O thread, one at a time, with the thread's dispatch lock held. That gives
// remove() its guarantee: once it returns, the handler is not running and never runs again, so
// its owner may be destroyed. The price: a handler must not call add() or remove().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm::virtio {

class IoThread {
 public:
  using Handler = std::function<void()>;

  // Creates the epoll set and starts the thread (named `name` in the trace and in `top`).
  static Result<std::unique_ptr<IoThread>> start(std::string name = "io");
  ~IoThread();  // stops the thread; handlers still registered are dropped without being called
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  // Calls `handler` on the I/O thread whenever `fd` is readable (level-triggered: the handler
  // must consume what made it readable, e.g. read the eventfd counter). fd must be non-blocking:
  // a handler can be called once more after a wake-up it already consumed.
  Status add(int fd, Handler handler);
  // Stops watching fd. After it returns the handler is not running and will not run again.
  Status remove(int fd);

 private:
  IoThread(std::string name, Fd epoll, Fd wake);
  void loop();

  std::string name_;
  Fd epoll_;
  Fd wake_;  // eventfd that interrupts epoll_wait for shutdown
  struct Watch {
    int fd;
    Handler handler;
  };
  std::mutex mu_;  // guards watches_ and next_id_, and is held while a handler runs
  // Keyed by a registration id (the epoll data), not by fd: a removed fd number that is reused
  // by a later add() must not receive events that were meant for the old registration.
  std::map<uint64_t, Watch> watches_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rrvm::virtio
