#include "vmm/migration/progress.h"

#include <algorithm>

namespace rrvm::migration {

namespace {
uint64_t ms_since(std::chrono::steady_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
          .count());
}
}  // namespace

void Progress::begin(const std::string& uri, bool incoming) {
  std::lock_guard lock(mu_);
  stats_ = MigrationStats{};
  stats_.uri = uri;
  stats_.incoming = incoming;
  // Setup from the start (its event fires when the migration thread begins), so that a second
  // start() right after this one sees a migration in progress.
  stats_.status = MigrationStatus::Setup;
  start_ = std::chrono::steady_clock::now();
  cancel_.store(false, std::memory_order_release);
}

void Progress::restart_clock() {
  std::lock_guard lock(mu_);
  start_ = std::chrono::steady_clock::now();
}

void Progress::set_status(MigrationStatus status, const std::string& error) {
  MigrationStats copy;
  {
    std::lock_guard lock(mu_);
    // Like QEMU's migrate_set_state(): once cancelling, only a final status replaces it.
    if (stats_.status == MigrationStatus::Cancelling && !is_final(status)) return;
    stats_.status = status;
    if (!error.empty()) stats_.error = error;
    if (status == MigrationStatus::Active) stats_.setup_time_ms = ms_since(start_);
    stats_.total_time_ms = ms_since(start_);
    copy = stats_;
  }
  if (on_status_) on_status_(copy);
}

void Progress::mark_cancelling() {
  MigrationStats copy;
  {
    std::lock_guard lock(mu_);
    if (stats_.status != MigrationStatus::Setup && stats_.status != MigrationStatus::Active) return;
    stats_.status = MigrationStatus::Cancelling;
    copy = stats_;
  }
  if (on_status_) on_status_(copy);
}

MigrationStats Progress::stats() const {
  std::lock_guard lock(mu_);
  MigrationStats copy = stats_;
  // Total time keeps counting while the migration runs; it is frozen at its final status.
  if (!is_final(copy.status) && copy.status != MigrationStatus::None)
    copy.total_time_ms = ms_since(start_);
  copy.bandwidth = copy.stream_bytes * 1000 / std::max<uint64_t>(copy.total_time_ms, 1);
  return copy;
}

MigrationParameters Progress::parameters() const {
  std::lock_guard lock(mu_);
  return params_;
}

void Progress::set_parameters(const MigrationParameters& p) {
  std::lock_guard lock(mu_);
  params_ = p;
}

}  // namespace rrvm::migration
