#include "vmm/migration/run_pipeline.h"

#include "trace/recorder.h"

namespace rrvm::migration {

RunPipeline::RunPipeline(int zstd_level) {
  for (uint64_t i = 0; i < SLOTS; ++i) slots_.push_back(std::make_unique<Slot>(zstd_level));
  worker_ = std::thread([this] { work(); });
}

RunPipeline::~RunPipeline() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  worker_.join();
}

void RunPipeline::submit(const RunJob& job) {
  RRVM_CHECK(!full());
  {
    std::lock_guard lock(mu_);
    Slot& slot = *slots_[submitted_ % SLOTS];
    slot.job = job;
    slot.result.reset();
    ++submitted_;
  }
  work_cv_.notify_one();
}

Result<const EncodedRun*> RunPipeline::take() {
  RRVM_CHECK(!empty());
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return encoded_ > taken_; });
  Slot& slot = *slots_[taken_ % SLOTS];
  ++taken_;
  return *slot.result;
}

void RunPipeline::work() {
  trace::set_thread_name("migration-encode");
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || submitted_ > encoded_; });
    if (stop_) return;
    Slot& slot = *slots_[encoded_ % SLOTS];
    lock.unlock();
    // Only this thread touches the slot between submit() and take().
    const RunJob& job = slot.job;
    Result<const EncodedRun*> result = slot.encoder.encode(
        job.gpa, job.host, job.pages, job.has_known_zero ? job.known_zero : nullptr, job.stable);
    lock.lock();
    slot.result.emplace(std::move(result));
    ++encoded_;
    done_cv_.notify_one();
  }
}

}  // namespace rrvm::migration
