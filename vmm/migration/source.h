// The outgoing side of a migration or snapshot: QEMU's migration_thread, in QEMU's order.
//
//   setup       header record, start_dirty_log()
//   iterate     first pass over all RAM, then dirty-log passes while the pages left would take
//               longer than the downtime limit at the rate the last pass achieved
//   completion  vm_stop_force_state(FinishMigrate) -> cpu_synchronize_all_states -> last dirty
//               pages -> globalstate + device sections (kvmclock's pre_save in there) -> End ->
//               commit (file) or the target's Ack (live). Downtime: the stop to End, as QEMU's.
//   finish      success: PostMigrate. Failure or cancel after the stop: vm_start() if the VM was
//               running, else its earlier state; the error is kept in the stats.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "vmm/migration/channel.h"
#include "vmm/migration/migratable.h"
#include "vmm/migration/progress.h"

namespace rrvm::migration {

class RamSender;
class StreamWriter;
struct PassResult;

class MigrationSource {
 public:
  MigrationSource(Migratable& vm, std::string uri, Progress& progress);
  ~MigrationSource();

  // Runs the whole migration on the calling thread; returns when it has completed, failed or
  // been cancelled (then progress holds the final stats). The VM is never left stopped by a
  // failure of a VM that was running.
  void run();
  // Any thread: stops the migration at the next step, waking a blocked channel.
  void cancel();

 private:
  Status run_stages();
  Status explain_failure(const Status& result);
  Status setup();
  Status iterate();
  Status complete();
  Status complete_precopy();
  Status save_sections();
  Status write_section(const SectionInfo& info, std::span<const uint8_t> data);
  void finish(const Status& result);
  Status resume_after_failure(bool cancelled);
  Status write_iteration(const PassResult& pass);
  Status check_cancel() const;

  Migratable& vm_;
  std::string uri_;
  Progress& progress_;
  std::mutex channel_mu_;  // cancel() vs opening and dropping the channel
  std::unique_ptr<Channel> channel_;
  std::unique_ptr<StreamWriter> writer_;
  std::unique_ptr<RamSender> ram_;
  uint32_t iterations_ = 0;
  bool dirty_log_started_ = false;
  bool stopped_vm_ = false;              // completion stopped the VM (or forced its state)
  bool disks_inactive_ = false;          // completion released the disk images' locks
  trace::RunState state_before_stop_{};  // QEMU's vm_old_state, also the globalstate section
  uint64_t downtime_start_ns_ = 0;
  uint64_t downtime_ns_ = 0;  // the stop to the stream's End record written
  uint64_t settle_ns_ = 0;    // the End record to the Ack (live) or the file committed
  bool live_ = false;
};

}  // namespace rrvm::migration
