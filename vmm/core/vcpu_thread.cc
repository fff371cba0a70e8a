#include "vmm/core/vcpu_thread.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>

#include "trace/recorder.h"
#include "vmm/base/check.h"
#include "vmm/base/log.h"

namespace rrvm::core {

VcpuThread::VcpuThread(hv::Vcpu& vcpu, CpuSync& sync, ExitContext exits)
    : vcpu_(vcpu), sync_(sync), exits_(exits) {}

VcpuThread::~VcpuThread() { exit_thread(); }

void VcpuThread::start() {
  RRVM_CHECK_MSG(!thread_.joinable(), "vcpu thread started twice");
  thread_ = std::thread([this] { thread_main(); });
}

void VcpuThread::kick() {
  exit_request_.store(true, std::memory_order_release);
  vcpu_.kick();
}

void VcpuThread::request_stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stop_ = true;
    cv_.notify_all();
  }
  kick();
}

void VcpuThread::wait_stopped() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || exit_; });
}

bool VcpuThread::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

void VcpuThread::resume() {
  std::lock_guard lock(mu_);
  stop_ = false;
  stopped_ = false;
  halted_ = false;
  cv_.notify_all();
}

void VcpuThread::queue(Work work) {
  {
    std::lock_guard lock(mu_);
    RRVM_CHECK_MSG(thread_.joinable() && !exit_,
                   "work queued to vcpu " + std::to_string(index()) + " without a thread");
    work_.push_back(std::move(work));
    cv_.notify_all();
  }
  kick();
}

void VcpuThread::run_on_cpu(std::string name, std::function<void()> fn) {
  if (is_self()) {
    trace::Span span(name);
    fn();
    return;
  }
  auto done = std::make_shared<bool>(false);
  queue(Work{std::move(name), trace::current_span(), std::move(fn), done});
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return *done; });
}

void VcpuThread::async_run_on_cpu(std::string name, std::function<void()> fn) {
  queue(Work{std::move(name), trace::current_span(), std::move(fn), nullptr});
}

void VcpuThread::exit_thread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    exit_ = true;
    cv_.notify_all();
  }
  kick();
  thread_.join();
}

bool VcpuThread::can_run_locked() const {
  return !stop_ && !stopped_ && !halted_ && !exit_ && work_.empty();
}

void VcpuThread::process_work(std::unique_lock<std::mutex>& lock) {
  while (!work_.empty()) {
    Work w = std::move(work_.front());
    work_.pop_front();
    lock.unlock();
    {
      trace::Span span(w.name, w.parent);
      w.fn();
    }
    lock.lock();
    if (w.done) {
      *w.done = true;
      cv_.notify_all();
    }
  }
}

// QEMU's qemu_wait_io_event: sleep while there is nothing to do, acknowledge a stop request,
// run queued work.
void VcpuThread::wait_io_event(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [&] { return exit_ || stop_ || !work_.empty() || can_run_locked(); });
  if (stop_) {
    stop_ = false;
    stopped_ = true;
    cv_.notify_all();
  }
  process_work(lock);
}

// QEMU's kvm_cpu_exec: run until an exit that needs the loop (a kick, a stop, a halt).
ExitAction VcpuThread::run_guest() {
  for (;;) {
    // Registers fetched by device emulation (synchronize_state) go back first (RUNTIME level).
    if (sync_.dirty()) {
      trace::Span span("kvm_cpu_exec");
      if (auto st = sync_.put_if_dirty(); !st.ok()) {
        std::string text = st.error().describe();
        spdlog::error("vcpu {}: {}", index(), text);
        exits_.requests.request_vmstop(trace::RunState::InternalError, text);
        return ExitAction::Stop;
      }
    }
    auto exit = vcpu_.run();
    if (!exit.ok()) {
      std::string text = exit.error().describe();
      spdlog::error("vcpu {}: {}", index(), text);
      trace::emit(trace::Warning{"vcpu", text});
      exits_.requests.request_vmstop(trace::RunState::InternalError, text);
      return ExitAction::Stop;
    }
    ExitAction action = handle_exit(exit.value(), exits_);
    if (action != ExitAction::Continue) return action;
    if (exit_request_.load(std::memory_order_acquire)) return ExitAction::Continue;
  }
}

void VcpuThread::thread_main() {
  trace::set_thread_vcpu(index());
  // Process signals (SIGINT, SIGTERM, ...) belong to the main thread; only the hv backend's kick
  // signal may interrupt KVM_RUN here.
  sigset_t block;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

  std::unique_lock lock(mu_);
  while (!exit_) {
    // Clear the kick before deciding to run: a kick after this point shows in the flags or makes
    // the next KVM_RUN return at once.
    exit_request_.store(false, std::memory_order_relaxed);
    vcpu_.clear_kick();
    if (can_run_locked()) {
      lock.unlock();
      ExitAction action = run_guest();
      lock.lock();
      // QEMU's cpu_stop_current: after a request the vCPU stops itself at once.
      if (action == ExitAction::Stop) {
        stopped_ = true;
        cv_.notify_all();
      } else if (action == ExitAction::Halt) {
        halted_ = true;
      }
    }
    wait_io_event(lock);
  }
  // Work queued before the exit still runs, so no run_on_cpu caller waits forever.
  process_work(lock);
  stopped_ = true;
  cv_.notify_all();
}

}  // namespace rrvm::core
