// The main loop: the one thread that changes the VM's run state (QEMU's main loop under the BQL).
//
// Other threads never stop, start or reset the VM themselves: a vCPU thread posts a request (guest
// shutdown, reset, internal error) and the monitor thread calls a job here (`stop`, `cont`), so run
// state changes and notifier passes are serialized on this thread. Jobs keep the caller's span as
// their parent, so a `qmp:stop` span opened on the monitor thread is the parent of `vm_stop`.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "trace/span.h"

namespace rrvm::core {

class MainLoop {
 public:
  MainLoop() = default;
  MainLoop(const MainLoop&) = delete;
  MainLoop& operator=(const MainLoop&) = delete;

  // Queues `fn` to run on the loop thread inside a span `span_name` whose parent is the caller's
  // current span. False (and `fn` dropped) once the loop has finished.
  bool post(std::string span_name, std::function<void()> fn);
  // Like post() but waits until `fn` has run. On the loop thread itself it runs `fn` at once.
  // False when the loop finished before `fn` could run (the VM is shutting down).
  bool call(std::string span_name, std::function<void()> fn);
  // Wakes the loop so that it calls `poll` again (a request flag was set).
  void notify();

  // Runs jobs on the calling thread, calling `poll` after every wake-up and job, until `poll`
  // returns true. Then the loop is finished: queued and later jobs are refused.
  void run(const std::function<bool()>& poll);
  bool in_loop_thread() const;
  bool finished() const;
  size_t pending() const;  // jobs queued and not yet run

 private:
  struct Job {
    std::string span_name;
    trace::SpanId parent;
    std::function<void()> fn;
    // For call(): set under mu_ when the job ran (true) or was refused (false).
    std::shared_ptr<int> outcome;  // -1 pending, 0 refused, 1 ran
  };
  void finish_locked();

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the loop
  std::condition_variable done_cv_;  // wakes callers waiting in call()
  std::deque<Job> jobs_;
  bool wake_ = false;
  bool finished_ = false;
  std::thread::id loop_thread_;
};

}  // namespace rrvm::core
