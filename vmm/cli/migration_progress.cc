#include "vmm/cli/migration_progress.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace rrvm::cli {
namespace {

using migration::MigrationStats;
using migration::MigrationStatus;
using monitor::Json;

uint64_t uint_member(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer())
    return static_cast<uint64_t>(std::max<int64_t>(it->get<int64_t>(), 0));
  if (it->is_number_float()) return static_cast<uint64_t>(std::max(it->get<double>(), 0.0));
  return 0;
}

Result<MigrationStatus> parse_status(const std::string& name) {
  for (auto s : {MigrationStatus::None, MigrationStatus::Setup, MigrationStatus::Active,
                 MigrationStatus::Cancelling, MigrationStatus::Cancelled,
                 MigrationStatus::Completed, MigrationStatus::Failed}) {
    if (migration::status_name(s) == name) return s;
  }
  return make_error("query-migrate reported an unknown status '" + name + "'");
}

}  // namespace

Result<MigrationStats> stats_from_migration_info(const Json& info) {
  if (!info.is_object() || !info.contains("status") || !info["status"].is_string()) {
    return make_error("query-migrate's answer has no status: " + info.dump());
  }
  MigrationStats s;
  RRVM_ASSIGN_OR_RETURN(s.status, parse_status(info["status"].get<std::string>()));
  s.total_time_ms = uint_member(info, "total-time");
  s.setup_time_ms = uint_member(info, "setup-time");
  s.downtime_ms = uint_member(info, "downtime");
  s.expected_downtime_ms = uint_member(info, "expected-downtime");
  if (auto err = info.find("error-desc"); err != info.end() && err->is_string()) {
    s.error = err->get<std::string>();
  }
  if (auto ram = info.find("ram"); ram != info.end() && ram->is_object()) {
    s.ram_transferred = s.stream_bytes = uint_member(*ram, "transferred");
    s.ram_remaining = uint_member(*ram, "remaining");
    s.ram_total = uint_member(*ram, "total");
    s.zero_pages = uint_member(*ram, "duplicate");
    s.pages_sent = uint_member(*ram, "normal");
    s.dirty_pages_rate = uint_member(*ram, "dirty-pages-rate");
    s.iterations = static_cast<uint32_t>(uint_member(*ram, "dirty-sync-count"));
    if (auto mbps = ram->find("mbps"); mbps != ram->end() && mbps->is_number()) {
      s.bandwidth = static_cast<uint64_t>(std::max(mbps->get<double>(), 0.0) * 1e6 / 8);
    }
  }
  return s;
}

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* UNITS[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(UNITS)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, UNITS[unit]);
}

std::string progress_line(const MigrationStats& s) {
  // While a pass runs, dirty-sync-count holds the passes finished: the one running is the next.
  std::string line = fmt::format("{}, pass {}, {} {}", migration::status_name(s.status),
                                 s.iterations + (migration::is_final(s.status) ? 0 : 1),
                                 human_bytes(s.ram_transferred), s.incoming ? "received" : "sent");
  if (s.ram_remaining > 0) line += fmt::format(", {} dirty left", human_bytes(s.ram_remaining));
  line += fmt::format(", {}/s, {:.1f} s", human_bytes(s.bandwidth),
                      static_cast<double>(s.total_time_ms) / 1000.0);
  return line;
}

void ProgressPrinter::update(const MigrationStats& stats) {
  if (stats.total_time_ms < SHOW_AFTER_MS) return;
  if (!tty_ && shown_any_ && stats.total_time_ms < last_ms_ + LINE_INTERVAL_MS) return;
  std::string line = label_ + ": " + progress_line(stats);
  if (tty_) {
    // Carriage return, the line, then erase what a longer earlier line left to its right.
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
  shown_any_ = true;
  last_ms_ = stats.total_time_ms;
}

void ProgressPrinter::finish() {
  if (!line_open_) return;
  std::fputc('\n', out_);
  std::fflush(out_);
  line_open_ = false;
}

void ProgressPrinter::end(const MigrationStats& final_stats) {
  if (!shown_any_) return;
  std::string line = label_ + ": " + progress_line(final_stats);
  std::fprintf(out_, tty_ ? "\r%s\033[K\n" : "%s\n", line.c_str());
  std::fflush(out_);
  line_open_ = false;
}

void ProgressFollower::poll(const MigrationStats& stats) {
  // Setup is connecting, or for a target the wait for a source, which may last any time: only a
  // transfer is worth showing.
  if (stats.status == MigrationStatus::None || stats.status == MigrationStatus::Setup) return;
  // Times restart with each migration: a smaller total time than last seen is a new one, begun
  // (and maybe ended) between two polls.
  const bool new_migration = printer_ && stats.total_time_ms < last_total_ms_;
  last_total_ms_ = stats.total_time_ms;
  if (migration::is_final(stats.status)) {
    if (printer_ && !new_migration) printer_->end(stats);
    if (printer_ && new_migration) printer_->finish();
    printer_.reset();
    return;
  }
  if (new_migration) printer_.reset();
  if (!printer_) printer_.emplace(out_, label_, /*tty=*/false);
  printer_->update(stats);
}

}  // namespace rrvm::cli
