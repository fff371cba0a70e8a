// MigrationManager: what the monitor (QMP) and the CLI call. One migration at a time, outgoing or
// incoming, each on its own thread.
//
//   QMP migrate {"uri": U}              -> start(U)
//   QMP migrate-incoming {"uri": U}     -> start_incoming(U)   (`rrvm run --incoming U`)
//   QMP migrate_cancel                  -> cancel()
//   QMP query-migrate                   -> query()
//   QMP migrate-set-parameters          -> set_parameters(p)   (applies to a running migration)
//   MIGRATION events                    -> the StatusCallback given to the constructor
//   `rrvm snapshot` / `rrvm restore`    -> start("file:F") / start_incoming("file:F"), then wait()
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/migration/migratable.h"
#include "vmm/migration/progress.h"
#include "vmm/migration/source.h"
#include "vmm/migration/target.h"

namespace rrvm::migration {

class MigrationManager {
 public:
  // on_status runs on the migration thread (and on the caller's for `cancelling`); it may call
  // query() but not wait() or start*().
  explicit MigrationManager(Migratable& vm, StatusCallback on_status = {});
  // Cancels a migration that is still running and waits for its thread.
  ~MigrationManager();
  MigrationManager(const MigrationManager&) = delete;
  MigrationManager& operator=(const MigrationManager&) = delete;

  // Starts an outgoing migration or snapshot on the "migration" thread. Errors only for a bad URI
  // or a migration already running; everything later (connect, send) ends as status Failed with
  // the reason in query().error.
  Status start(const std::string& uri);
  // Listens (unix/tcp: bound when this returns, so a source may connect at once) and runs the
  // incoming side on the "migration-incoming" thread.
  Status start_incoming(const std::string& uri);
  // The URI a source should use for the running incoming migration (tcp port 0 resolved).
  std::string incoming_uri() const;

  void cancel();
  MigrationStats query() const { return progress_.stats(); }
  // Validated: downtime_limit_ms in 1..2000000 (QEMU's range), zstd_level within zstd's range.
  Status set_parameters(const MigrationParameters& params);
  MigrationParameters parameters() const { return progress_.parameters(); }

  // Blocks until the current migration has ended; returns its final stats.
  MigrationStats wait();
  bool active() const;

 private:
  Status check_idle() const;

  Migratable& vm_;
  Progress progress_;
  mutable std::mutex mu_;
  std::unique_ptr<MigrationSource> source_;
  std::unique_ptr<MigrationTarget> target_;
  std::string incoming_uri_;
  std::thread thread_;
};

}  // namespace rrvm::migration
