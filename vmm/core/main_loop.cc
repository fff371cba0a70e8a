#include "vmm/core/main_loop.h"

#include <utility>

namespace rrvm::core {

bool MainLoop::post(std::string span_name, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (finished_) return false;
  jobs_.push_back(Job{std::move(span_name), trace::current_span(), std::move(fn), nullptr});
  cv_.notify_one();
  return true;
}

bool MainLoop::call(std::string span_name, std::function<void()> fn) {
  if (in_loop_thread()) {
    trace::Span span(span_name);
    fn();
    return true;
  }
  auto outcome = std::make_shared<int>(-1);
  std::unique_lock lock(mu_);
  if (finished_) return false;
  jobs_.push_back(Job{std::move(span_name), trace::current_span(), std::move(fn), outcome});
  cv_.notify_one();
  done_cv_.wait(lock, [&] { return *outcome != -1; });
  return *outcome == 1;
}

void MainLoop::notify() {
  std::lock_guard lock(mu_);
  wake_ = true;
  cv_.notify_one();
}

bool MainLoop::in_loop_thread() const {
  std::lock_guard lock(mu_);
  return loop_thread_ == std::this_thread::get_id();
}

bool MainLoop::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

size_t MainLoop::pending() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void MainLoop::run(const std::function<bool()>& poll) {
  {
    std::lock_guard lock(mu_);
    loop_thread_ = std::this_thread::get_id();
  }
  std::unique_lock lock(mu_);
  for (;;) {
    // poll() runs without the lock: it may post, call (directly) or notify.
    lock.unlock();
    bool exit = poll();
    lock.lock();
    if (exit) break;
    cv_.wait(lock, [&] { return wake_ || !jobs_.empty(); });
    wake_ = false;
    if (jobs_.empty()) continue;
    // One job per round: a job may have made a request (e.g. `quit`) that poll() must see before
    // the next job runs.
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    {
      trace::Span span(job.span_name, job.parent);
      job.fn();
    }
    lock.lock();
    if (job.outcome) {
      *job.outcome = 1;
      done_cv_.notify_all();
    }
  }
  finish_locked();
  loop_thread_ = std::thread::id();
}

void MainLoop::finish_locked() {
  finished_ = true;
  for (auto& job : jobs_) {
    if (job.outcome) *job.outcome = 0;
  }
  jobs_.clear();
  done_cv_.notify_all();
}

}  // namespace rrvm::core
