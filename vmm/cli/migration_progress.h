// Progress of a migration for the CLI: query-migrate's answer read back into MigrationStats, a
// progress line, and a printer that shows it on stderr for transfers that last long enough to
// be worth watching.
//
// The printer takes MigrationStats, not QMP JSON, so the same output serves a migration polled
// over QMP (`rrvm snapshot`) and the migrations of the VM in this process (`rrvm run`,
// `rrvm restore`: ProgressFollower over Machine::migration_stats()).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/migration/stats.h"
#include "vmm/monitor/command_table.h"

namespace rrvm::cli {

// The inverse of machine::migration_info() (QEMU's MigrationInfo): unknown or missing members
// stay at their defaults. An unknown status string is an error naming it.
Result<migration::MigrationStats> stats_from_migration_info(const monitor::Json& info);

// "1.5 KiB", "12.3 MiB", "512 B".
std::string human_bytes(uint64_t bytes);

// "active, pass 2, 12.3 MiB sent, 4.0 MiB left, 250.1 MiB/s, 1.2 s"
std::string progress_line(const migration::MigrationStats& stats);

class ProgressPrinter {
 public:
  // Nothing is shown for the first second: short transfers print only their summary.
  static constexpr uint64_t SHOW_AFTER_MS = 1000;
  // Without a terminal, one plain line per this interval (logs stay readable).
  static constexpr uint64_t LINE_INTERVAL_MS = 1000;

  // tty: one line rewritten in place on every update; otherwise a new line every interval.
  ProgressPrinter(std::FILE* out, std::string label, bool tty)
      : out_(out), label_(std::move(label)), tty_(tty) {}
  // Shows `stats` when due (by stats.total_time_ms, so the caller's poll rate does not matter).
  void update(const migration::MigrationStats& stats);
  // Ends a line rewritten in place, so that what is printed next starts on a fresh line.
  void finish();
  // finish(), but a transfer that showed progress first gets its final line (how it ended, e.g.
  // "completed, pass 3, ..."); one that showed nothing stays silent.
  void end(const migration::MigrationStats& final_stats);

 private:
  std::FILE* out_;
  std::string label_;
  bool tty_;
  bool line_open_ = false;  // a tty line was written and not ended yet
  bool shown_any_ = false;
  uint64_t last_ms_ = 0;  // total_time_ms of the last line shown
};

// Follows the migrations of a VM that something else starts and ends (QMP `migrate`,
// `--incoming`), from its stats polled every so often: each transfer that lasts over a second
// gets progress lines and a final line, short ones print nothing. Plain lines only (no line
// rewritten in place): the terminal is shared with the guest console and the log.
class ProgressFollower {
 public:
  ProgressFollower(std::FILE* out, std::string label) : out_(out), label_(std::move(label)) {}
  void poll(const migration::MigrationStats& stats);

 private:
  std::FILE* out_;
  std::string label_;
  std::optional<ProgressPrinter> printer_;  // for the migration in progress
  uint64_t last_total_ms_ = 0;
};

}  // namespace rrvm::cli
