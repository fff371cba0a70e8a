// Encodes RAM runs on a worker thread while the migration thread writes the ones before: zero-page
// scan, copy, zstd and checksum of run N+1 overlap with the write of run N (on a snapshot file,
// the kernel's copy into the page cache costs about as much as the encoding).
//
//   pipeline.submit(job);                       // up to SLOTS - 1 runs ahead
//   if (pipeline.full()) write(pipeline.take());
//   ...
//   while (!pipeline.empty()) write(pipeline.take());
//
// Results come back in submission order. A taken run stays valid until the next take(): its slot
// is not reused before then.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "vmm/migration/ram_codec.h"

namespace rrvm::migration {

struct RunJob {
  uint64_t gpa = 0;
  const uint8_t* host = nullptr;
  uint32_t pages = 0;
  bool has_known_zero = false;
  uint64_t known_zero[ZERO_BITMAP_WORDS] = {};
  bool stable = false;  // the VM is stopped: RunEncoder::encode's source_stable
};

class RunPipeline {
 public:
  explicit RunPipeline(int zstd_level);
  ~RunPipeline();
  RunPipeline(const RunPipeline&) = delete;
  RunPipeline& operator=(const RunPipeline&) = delete;

  bool full() const { return submitted_ - taken_ >= SLOTS - 1; }
  bool empty() const { return submitted_ == taken_; }
  // Requires !full().
  void submit(const RunJob& job);
  // The oldest submitted run, encoded; requires !empty(). Blocks until the worker has it.
  Result<const EncodedRun*> take();

 private:
  static constexpr uint64_t SLOTS = 4;  // 3 runs in flight plus the one being written
  struct Slot {
    explicit Slot(int level) : encoder(level) {}
    RunJob job;
    RunEncoder encoder;
    std::optional<Result<const EncodedRun*>> result;
  };
  void work();

  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // worker: a job was submitted, or stop
  std::condition_variable done_cv_;  // writer: a job was encoded
  // Counters (slot = counter % SLOTS). submitted_ and taken_ change only on the writer thread
  // (under mu_, so the worker reads them safely; full() and empty() read them lock-free on that
  // thread); encoded_ changes only on the worker, under mu_.
  uint64_t submitted_ = 0;
  uint64_t encoded_ = 0;
  uint64_t taken_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace rrvm::migration
