// One thread per vCPU (QEMU's kvm_vcpu_thread_fn): runs the guest, stops and resumes on request,
// and runs work queued to it (run_on_cpu) on its own thread.
//
// States, guarded by mu_ (QEMU's cpu->stop / cpu->stopped / cpu->halted):
//   running   the thread loops in KVM_RUN;
//   stop      requested by request_stop(); the thread acknowledges by becoming stopped;
//   stopped   the thread waits, still processing queued work; resume() makes it run again;
//   halted    HLT without an in-kernel LAPIC; cleared by resume().
// A thread starts stopped: the machine puts the initial state (FULL) through run_on_cpu, then
// vm_start() resumes every vCPU.
//
// Kicks: request_stop(), resume() and queued work set their flag under mu_ and then kick the
// vCPU (hv::Vcpu::kick: immediate_exit + signal). The thread clears the kick under mu_ before it
// looks at the flags and enters KVM_RUN, so a kick is either seen as a flag or makes the next
// KVM_RUN return at once; it is never lost.
//
// Queued work keeps the span of the code that queued it as its parent: the work runs inside a span
// named after it (e.g. "do_kvmclock_ctrl") whose parent is the caller's current span, like QEMU's
// process_queued_cpu_work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "trace/span.h"
#include "vmm/core/cpu_sync.h"
#include "vmm/core/exit_handler.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::core {

class VcpuThread {
 public:
  VcpuThread(hv::Vcpu& vcpu, CpuSync& sync, ExitContext exits);
  ~VcpuThread();  // ends and joins the thread
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  int index() const { return vcpu_.index(); }
  void start();

  // From other threads. request_stop() returns at once; wait_stopped() waits for the
  // acknowledgement (QEMU's pause_all_vcpus does both, for all vCPUs in parallel).
  void request_stop();
  void wait_stopped();
  bool stopped() const;
  void resume();
  void kick();

  // Runs `fn` on this vCPU's thread and waits for it (QEMU's run_on_cpu); runs it directly when
  // called on this thread. Also while the vCPU is stopped: its thread still processes work.
  void run_on_cpu(std::string name, std::function<void()> fn);
  // Queues `fn` and returns (QEMU's async_run_on_cpu).
  void async_run_on_cpu(std::string name, std::function<void()> fn);
  bool is_self() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Ends the thread (pending work is still run first) and joins it. Idempotent.
  void exit_thread();

 private:
  struct Work {
    std::string name;
    trace::SpanId parent;
    std::function<void()> fn;
    std::shared_ptr<bool> done;  // run_on_cpu waits for it (guarded by mu_)
  };
  void thread_main();
  ExitAction run_guest();
  void wait_io_event(std::unique_lock<std::mutex>& lock);
  void process_work(std::unique_lock<std::mutex>& lock);
  bool can_run_locked() const;
  void queue(Work work);

  hv::Vcpu& vcpu_;
  CpuSync& sync_;
  ExitContext exits_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes the thread and the threads waiting for it
  bool stop_ = false;
  bool stopped_ = true;
  bool halted_ = false;
  bool exit_ = false;
  std::deque<Work> work_;
  std::atomic<bool> exit_request_{false};  // set with every kick: leave the KVM_RUN loop
  std::thread thread_;
};

}  // namespace rrvm::core
