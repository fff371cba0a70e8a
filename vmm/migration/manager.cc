#include "vmm/migration/manager.h"

#include <zstd.h>

namespace rrvm::migration {

MigrationManager::MigrationManager(Migratable& vm, StatusCallback on_status)
    : vm_(vm), progress_(std::move(on_status)) {}

MigrationManager::~MigrationManager() {
  cancel();
  wait();
}

bool MigrationManager::active() const {
  MigrationStatus s = progress_.stats().status;
  return s != MigrationStatus::None && !is_final(s);
}

Status MigrationManager::check_idle() const {
  if (active())
    return make_error("a migration is already in progress (" + progress_.stats().uri + ")");
  return ok_status();
}

Status MigrationManager::start(const std::string& uri) {
  RRVM_TRY(parse_channel_uri(uri));
  std::lock_guard lock(mu_);
  RRVM_TRY(check_idle());
  if (thread_.joinable()) thread_.join();  // a migration that has ended: returns at once
  target_.reset();
  progress_.begin(uri, false);
  source_ = std::make_unique<MigrationSource>(vm_, uri, progress_);
  thread_ = std::thread([source = source_.get()] { source->run(); });
  return ok_status();
}

Status MigrationManager::start_incoming(const std::string& uri) {
  std::lock_guard lock(mu_);
  RRVM_TRY(check_idle());
  if (thread_.joinable()) thread_.join();
  RRVM_ASSIGN_OR_RETURN(std::unique_ptr<Listener> listener, listen_incoming_channel(uri));
  incoming_uri_ = listener->uri();
  source_.reset();
  progress_.begin(incoming_uri_, true);
  target_ = std::make_unique<MigrationTarget>(vm_, std::move(listener), progress_);
  thread_ = std::thread([target = target_.get()] { target->run(); });
  return ok_status();
}

std::string MigrationManager::incoming_uri() const {
  std::lock_guard lock(mu_);
  return incoming_uri_;
}

void MigrationManager::cancel() {
  std::lock_guard lock(mu_);
  if (!active()) return;
  progress_.mark_cancelling();
  if (source_) source_->cancel();
  if (target_) target_->cancel();
}

Status MigrationManager::set_parameters(const MigrationParameters& params) {
  if (params.downtime_limit_ms < 1 || params.downtime_limit_ms > 2'000'000) {
    return make_error("downtime-limit " + std::to_string(params.downtime_limit_ms) +
                      " ms is outside 1..2000000");
  }
  if (params.zstd_level < ZSTD_minCLevel() || params.zstd_level > ZSTD_maxCLevel()) {
    return make_error("zstd level " + std::to_string(params.zstd_level) + " is outside " +
                      std::to_string(ZSTD_minCLevel()) + ".." + std::to_string(ZSTD_maxCLevel()));
  }
  progress_.set_parameters(params);
  return ok_status();
}

MigrationStats MigrationManager::wait() {
  std::thread finished;
  {
    std::lock_guard lock(mu_);
    finished = std::move(thread_);
  }
  if (finished.joinable()) finished.join();
  return progress_.stats();
}

}  // namespace rrvm::migration
