// The source's RAM transfer: the first full pass, the dirty-log passes, the final pass with the VM
// stopped, rate limiting and the numbers the convergence decision needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "vmm/migration/migratable.h"
#include "vmm/migration/page_scan.h"
#include "vmm/migration/progress.h"
#include "vmm/migration/ram_codec.h"
#include "vmm/migration/run_pipeline.h"
#include "vmm/migration/stream_writer.h"

namespace rrvm::migration {

struct PassResult {
  uint64_t pages = 0;       // pages covered by the runs written (zero pages included)
  uint64_t data_pages = 0;  // pages sent with data
  uint64_t bytes = 0;       // stream bytes written
  uint64_t ns = 0;          // wall time of the pass
};

class RamSender {
 public:
  RamSender(Migratable& vm, StreamWriter& writer, Progress& progress, int zstd_level);

  // The first pass: every page of RAM; zero pages are not sent at all (the target's RAM starts
  // zero). Call after start_dirty_log(), so that writes during the pass are caught by the log.
  Result<PassResult> send_all();
  // Fetches the dirty log of every region into the pending set; returns pending pages.
  Result<uint64_t> sync_dirty_log();
  // Sends every pending page (zero pages as zero, since the target may hold older data there).
  // vm_stopped: the pages cannot change under the encoder, so it need not copy them first.
  Result<PassResult> send_pending(bool vm_stopped);

  uint64_t pending_pages() const { return pending_count_; }
  // Time to send `pages` at the per-page rate of the last pass (nullopt before any pass).
  std::optional<uint64_t> estimate_ns(uint64_t pages) const;

 private:
  // Queues a run for encoding, writing finished runs while the pipeline is full.
  Status queue_run(const RunJob& job, PassResult& pass);
  // Writes the oldest encoded run (skipped when all zero in the first pass).
  Status write_next(PassResult& pass);
  Status drain(PassResult& pass);
  Status send_region_all(size_t region, const std::optional<PageResidency>& residency,
                         PassResult& pass);
  Status throttle();
  void report(bool pass_done);

  Migratable& vm_;
  StreamWriter& writer_;
  Progress& progress_;
  RunPipeline pipeline_;
  // The pass in progress: the first pass skips all-zero runs; a stopped VM's runs need no copy
  // before compression and are not rate limited.
  bool skip_all_zero_ = false;
  bool vm_stopped_ = false;
  std::vector<std::vector<uint64_t>> pending_;  // per region, one bit per page
  uint64_t pending_count_ = 0;
  double ns_per_page_ = 0;
  bool have_rate_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  // Rate limiting in 100 ms slots, as QEMU does.
  std::chrono::steady_clock::time_point slot_start_{};
  uint64_t slot_bytes_ = 0;
};

}  // namespace rrvm::migration
