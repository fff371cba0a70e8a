// The incoming side: QEMU's process_incoming_migration + qemu_loadvm_state +
// process_incoming_migration_bh.
//
//   accept     one connection (unix/tcp), or open the file
//   receive    header (checked against this VM before any RAM moves), RAM runs written into
//              memory(), sections checksummed and buffered, End with the stream checksum
//   load       only now, with the whole stream verified: load_section() for each section in
//              order, then cpu_synchronize_all_post_init() (FULL put); Ack to a live source
//   start      vm_start() if the source was running and the VM's autostart() holds (read now);
//              otherwise the source's run state (Paused with autostart off)
//
// On failure the VM stays in InMigrate and is never started (QEMU exits; the caller decides).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vmm/migration/channel.h"
#include "vmm/migration/migratable.h"
#include "vmm/migration/progress.h"
#include "vmm/migration/stream_header.h"

namespace rrvm::migration {

class StreamReader;
struct Record;

class MigrationTarget {
 public:
  MigrationTarget(Migratable& vm, std::unique_ptr<Listener> listener, Progress& progress);
  ~MigrationTarget();

  // Runs the incoming migration on the calling thread to its end (progress holds the outcome).
  void run();
  // Any thread: wakes a blocked accept or read; the migration fails as cancelled.
  void cancel();

 private:
  struct ReceivedSection {
    std::string name;
    uint32_t version = 0;
    uint64_t checksum = 0;
    std::vector<uint8_t> data;
  };

  Status run_stages();
  Status enter_inmigrate();
  Status receive();
  Status receive_records(StreamReader& reader, const HeaderInfo& header);
  Status receive_section(StreamReader& reader, const Record& record, const HeaderInfo& header);
  Status receive_end(StreamReader& reader, const Record& record, uint64_t records_before,
                     const HeaderInfo& header);
  Status load_sections();
  Status start_vm();
  void fail(const Status& result);

  Migratable& vm_;
  std::unique_ptr<Listener> listener_;
  Progress& progress_;
  std::string uri_;
  std::mutex channel_mu_;  // cancel() vs accept() storing the channel
  std::unique_ptr<Channel> channel_;
  std::vector<ReceivedSection> sections_;
  uint64_t section_bytes_ = 0;
  uint32_t iterations_ = 0;
  trace::RunState source_state_ = trace::RunState::Running;
};

}  // namespace rrvm::migration
