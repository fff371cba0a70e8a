// State shared between the migration thread and the monitor: stats (query-migrate), parameters
// (migrate-set-parameters, read live by the running migration), the cancel request
// (migrate_cancel) and the status callback (QMP MIGRATION events).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "vmm/migration/stats.h"

namespace rrvm::migration {

// Called on every status change with the stats at that moment, from the migration thread and
// outside every migration lock (it may call query()).
using StatusCallback = std::function<void(const MigrationStats&)>;

class Progress {
 public:
  explicit Progress(StatusCallback on_status = {}) : on_status_(std::move(on_status)) {}

  // Resets stats for a new migration (status None, counters zero, cancel cleared).
  void begin(const std::string& uri, bool incoming);
  // Incoming: the source has connected (or the file is open). Times count from here, so that a
  // target's total time and bandwidth describe the transfer, not the wait for a source.
  void restart_clock();
  // Changes the status (and the error text for Failed/Cancelled) and fires the callback.
  void set_status(MigrationStatus status, const std::string& error = {});

  template <typename Fn>
  void update(Fn&& fn) {
    std::lock_guard lock(mu_);
    fn(stats_);
  }
  MigrationStats stats() const;

  MigrationParameters parameters() const;
  void set_parameters(const MigrationParameters& p);

  // Setup/Active -> Cancelling (QEMU's migrate_cancel); no change once the migration has ended.
  void mark_cancelling();
  void request_cancel() { cancel_.store(true, std::memory_order_release); }
  bool cancel_requested() const { return cancel_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  MigrationStats stats_;
  MigrationParameters params_;
  std::chrono::steady_clock::time_point start_{};
  std::atomic<bool> cancel_{false};
  StatusCallback on_status_;
};

}  // namespace rrvm::migration
