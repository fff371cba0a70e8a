// `rrvm snapshot SOCK FILE`: saves a running rrvm to a snapshot file through its QMP monitor.
//
// The same path as QMP `migrate file:FILE` (docs/migration.md): the CLI only drives it. It polls
// query-migrate, shows progress on stderr for saves lasting over a second, and ends with the
// outcome. SIGINT/SIGTERM cancel the save (migrate_cancel), which leaves the VM running and no
// file under FILE. Afterwards the VM is in postmigrate unless --quit or --resume say otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <optional>

#include "vmm/cli/command.h"
#include "vmm/cli/migration_progress.h"
#include "vmm/machine/machine_config.h"
#include "vmm/monitor/qmp_client.h"

namespace rrvm::cli {
namespace {

using migration::MigrationStats;
using migration::MigrationStatus;
using monitor::Json;
using monitor::QmpClient;

constexpr std::chrono::seconds QMP_TIMEOUT{10};
constexpr long POLL_INTERVAL_NS = 50'000'000;

// The snapshot file is rrvm's format, and only rrvm's `migrate` takes file: URIs the way
// `rrvm restore` reads them, so another VMM's monitor is refused on its greeting, before
// anything is sent to it.
Result<QmpClient> connect_to_rrvm(const std::string& path) {
  RRVM_ASSIGN_OR_RETURN(QmpClient qmp, QmpClient::open(path, QMP_TIMEOUT));
  if (qmp.package().rfind("rrvm", 0) != 0) {
    return make_error(path + " is a QMP monitor but not rrvm's (" +
                      (qmp.package().empty() ? std::string("its greeting names no package")
                                             : "package '" + qmp.package() + "'") +
                      ")");
  }
  RRVM_TRY(qmp.negotiate());
  return qmp;
}

class SnapshotCommand final : public Command {
 public:
  const char* name() const override { return "snapshot"; }
  const char* summary() const override {
    return "save a running rrvm to a snapshot file through its QMP socket";
  }

  void add_options(CLI::App& app) override {
    app.add_option("SOCK", socket_, "the VM's QMP socket (rrvm run --qmp SOCK)")->required();
    app.add_option("FILE", file_, "snapshot file to write (replaced atomically when complete)")
        ->required();
    auto* quit = app.add_flag("--quit", quit_, "end the VM after a successful save (virsh save)");
    app.add_flag("--resume", resume_, "let the VM run on after a successful save (a checkpoint)")
        ->excludes(quit);
    app.add_option("--max-bandwidth", bandwidth_,
                   "limit the save to this many bytes per second, e.g. 100M (default: none)");
  }

  int run() override;

 private:
  // Sets max-bandwidth for this save; remembers the VM's value to put it back afterwards.
  Status limit_bandwidth(QmpClient& qmp);
  void restore_bandwidth(QmpClient& qmp);
  // Polls query-migrate until a final status, showing progress; a signal cancels the save.
  Result<MigrationStats> wait_for_end(QmpClient& qmp, const sigset_t& signals);
  int report(QmpClient& qmp, const MigrationStats& stats);

  std::string socket_;
  std::string file_;
  bool quit_ = false;
  bool resume_ = false;
  std::string bandwidth_;
  std::optional<uint64_t> old_bandwidth_;
};
RRVM_REGISTER_COMMAND(SnapshotCommand);

int SnapshotCommand::run() {
  // The VM resolves a relative path against its own working directory, not ours.
  std::error_code ec;
  std::string path = std::filesystem::absolute(file_, ec).lexically_normal().string();
  if (ec || file_.empty()) {
    std::fprintf(stderr, "rrvm snapshot: FILE '%s' is not a usable path\n", file_.c_str());
    return EXIT_BAD_INPUT;
  }
  file_ = path;
  auto qmp = connect_to_rrvm(socket_);
  if (!qmp.ok()) {
    std::fprintf(stderr, "rrvm snapshot: %s\n", qmp.error().describe().c_str());
    return EXIT_BAD_INPUT;
  }
  if (Status st = limit_bandwidth(*qmp); !st.ok()) {
    std::fprintf(stderr, "rrvm snapshot: --max-bandwidth: %s\n", st.error().describe().c_str());
    return EXIT_BAD_INPUT;
  }
  // Blocked before the save starts, so a Ctrl-C from now on cancels it instead of leaving it
  // running unwatched; sigtimedwait() in the poll loop takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (auto started = qmp->execute("migrate", {{"uri", "file:" + file_}}); !started.ok()) {
    std::fprintf(stderr, "rrvm snapshot: migrate to file:%s: %s\n", file_.c_str(),
                 started.error().describe().c_str());
    restore_bandwidth(*qmp);
    return EXIT_FAILED;
  }
  auto stats = wait_for_end(*qmp, signals);
  if (!stats.ok()) {
    std::fprintf(stderr, "rrvm snapshot: lost track of the save to %s: %s\n", file_.c_str(),
                 stats.error().describe().c_str());
    return EXIT_FAILED;
  }
  restore_bandwidth(*qmp);
  return report(*qmp, *stats);
}

Status SnapshotCommand::limit_bandwidth(QmpClient& qmp) {
  if (bandwidth_.empty()) return ok_status();
  auto bytes = machine::parse_size(bandwidth_);
  if (!bytes || *bytes == 0) {
    return make_error("'" + bandwidth_ + "' is not a positive size per second (e.g. 100M)");
  }
  RRVM_ASSIGN_OR_RETURN(Json params, qmp.execute("query-migrate-parameters"));
  if (params.contains("max-bandwidth") && params["max-bandwidth"].is_number_unsigned()) {
    old_bandwidth_ = params["max-bandwidth"].get<uint64_t>();
  }
  RRVM_TRY(qmp.execute("migrate-set-parameters", {{"max-bandwidth", *bytes}}));
  return ok_status();
}

void SnapshotCommand::restore_bandwidth(QmpClient& qmp) {
  if (!old_bandwidth_) return;
  auto r = qmp.execute("migrate-set-parameters", {{"max-bandwidth", *old_bandwidth_}});
  if (!r.ok()) {
    std::fprintf(stderr, "rrvm snapshot: warning: could not put max-bandwidth back to %llu: %s\n",
                 static_cast<unsigned long long>(*old_bandwidth_), r.error().describe().c_str());
  }
}

Result<MigrationStats> SnapshotCommand::wait_for_end(QmpClient& qmp, const sigset_t& signals) {
  ProgressPrinter progress(stderr, "rrvm snapshot", ::isatty(STDERR_FILENO) == 1);
  bool cancelled = false;
  for (;;) {
    RRVM_ASSIGN_OR_RETURN(Json info, qmp.execute("query-migrate"));
    RRVM_ASSIGN_OR_RETURN(MigrationStats stats, stats_from_migration_info(info));
    if (migration::is_final(stats.status) || stats.status == MigrationStatus::None) {
      progress.finish();
      return stats;
    }
    progress.update(stats);
    const timespec poll{0, POLL_INTERVAL_NS};
    int signo = sigtimedwait(&signals, nullptr, &poll);
    if (signo > 0 && !cancelled) {
      progress.finish();
      std::fprintf(stderr, "rrvm snapshot: signal %d: cancelling the save\n", signo);
      RRVM_TRY(qmp.execute("migrate_cancel"));
      cancelled = true;
    }
  }
}

int SnapshotCommand::report(QmpClient& qmp, const MigrationStats& stats) {
  if (stats.status != MigrationStatus::Completed) {
    std::fprintf(stderr, "rrvm snapshot: saving to %s %s: %s\n", file_.c_str(),
                 std::string(migration::status_name(stats.status)).c_str(),
                 stats.error.empty() ? "no reason given" : stats.error.c_str());
    return EXIT_FAILED;
  }
  // The file's size when we can see it (the VM may run in another mount namespace), else the
  // stream bytes the VM wrote, which are the same on one host.
  struct stat st {};
  uint64_t size =
      ::stat(file_.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : stats.ram_transferred;
  std::fprintf(stderr, "rrvm snapshot: saved %s: %s in %llu ms (downtime %llu ms, %u passes)\n",
               file_.c_str(), human_bytes(size).c_str(),
               static_cast<unsigned long long>(stats.total_time_ms),
               static_cast<unsigned long long>(stats.downtime_ms), stats.iterations);
  if (quit_ || resume_) {
    const char* command = quit_ ? "quit" : "cont";
    if (auto r = qmp.execute(command); !r.ok()) {
      std::fprintf(stderr, "rrvm snapshot: the snapshot is saved, but '%s' failed: %s\n", command,
                   r.error().describe().c_str());
      return EXIT_FAILED;
    }
  } else {
    std::fprintf(stderr,
                 "rrvm snapshot: the VM is stopped (postmigrate): QMP 'cont' resumes it, "
                 "'quit' ends it\n");
  }
  return EXIT_OK;
}

}  // namespace
}  // namespace rrvm::cli
