// What query-migrate reports, and the parameters migrate-set-parameters changes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rrvm::migration {

// QAPI MigrationStatus names (status_name()).
enum class MigrationStatus : uint8_t {
  None,
  Setup,
  Active,
  Cancelling,
  Cancelled,
  Completed,
  Failed
};
std::string_view status_name(MigrationStatus status);
bool is_final(MigrationStatus status);

struct MigrationParameters {
  uint64_t downtime_limit_ms = 300;  // QEMU's default
  // Bytes per second on the channel, 0 for no limit. (QEMU defaults to 128 MiB/s; rrvm does not
  // limit unless asked, so snapshots to a local file go at disk speed.)
  uint64_t max_bandwidth = 0;
  int zstd_level = 1;
};

struct MigrationStats {
  MigrationStatus status = MigrationStatus::None;
  bool incoming = false;
  std::string uri;
  std::string error;  // why it failed, for Failed and Cancelled
  uint64_t setup_time_ms = 0;
  uint64_t total_time_ms = 0;         // so far while active; incoming: from the connection
  uint64_t downtime_ms = 0;           // source: VM stop to the End record written (QEMU's)
  uint64_t expected_downtime_ms = 0;  // remaining dirty pages at the measured rate
  uint32_t iterations = 0;            // dirty-log passes ("dirty-sync-count")
  uint64_t ram_total = 0;             // bytes of guest RAM
  uint64_t ram_transferred = 0;       // stream bytes written (or read, incoming)
  uint64_t ram_remaining = 0;         // bytes of pages known dirty and not yet sent
  uint64_t pages_sent = 0;            // pages sent with data (QEMU "normal")
  uint64_t zero_pages = 0;            // pages sent as zero or skipped as zero ("duplicate")
  uint64_t dirty_pages_rate = 0;      // pages dirtied per second in the last pass
  uint64_t bandwidth = 0;             // stream bytes per second so far
  uint64_t stream_bytes = 0;          // the whole stream including device sections
};

}  // namespace rrvm::migration
