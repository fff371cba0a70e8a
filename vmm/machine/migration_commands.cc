#include "vmm/machine/migration_commands.h"

namespace rrvm::machine {

using monitor::ArgSpec;
using monitor::ArgType;
using monitor::CommandSpec;
using monitor::Json;

Json migration_info(const migration::MigrationStats& s) {
  Json info = {{"status", std::string(migration::status_name(s.status))}};
  if (s.status == migration::MigrationStatus::None) return info;
  info["total-time"] = s.total_time_ms;
  info["setup-time"] = s.setup_time_ms;
  if (s.status == migration::MigrationStatus::Completed) {
    info["downtime"] = s.downtime_ms;
  } else {
    info["expected-downtime"] = s.expected_downtime_ms;
  }
  info["ram"] = {{"transferred", s.ram_transferred},
                 {"remaining", s.ram_remaining},
                 {"total", s.ram_total},
                 {"duplicate", s.zero_pages},
                 {"normal", s.pages_sent},
                 {"normal-bytes", s.pages_sent * 4096},
                 {"dirty-pages-rate", s.dirty_pages_rate},
                 {"mbps", static_cast<double>(s.bandwidth) * 8 / 1e6},
                 {"dirty-sync-count", s.iterations}};
  if (!s.error.empty()) info["error-desc"] = s.error;
  return info;
}

Status register_migration_commands(monitor::CommandTable& table,
                                   migration::MigrationManager& manager) {
  // Migration commands do not run on the main loop: a migration thread calls into the main loop
  // itself, and query-migrate must answer while the main loop is busy stopping the VM.
  RRVM_TRY(table.add(CommandSpec{
      "migrate", {ArgSpec{"uri", ArgType::String}, ArgSpec{"detach", ArgType::Bool, false}},
      [&manager](const Json& args) -> Result<Json> {
        RRVM_TRY(manager.start(args["uri"].get<std::string>()));
        return Json::object();
      },
      false}));
  RRVM_TRY(table.add(CommandSpec{
      "migrate-incoming", {ArgSpec{"uri", ArgType::String}},
      [&manager](const Json& args) -> Result<Json> {
        RRVM_TRY(manager.start_incoming(args["uri"].get<std::string>()));
        return Json::object();
      },
      false}));
  RRVM_TRY(table.add(CommandSpec{"migrate_cancel", {},
                                 [&manager](const Json&) -> Result<Json> {
                                   manager.cancel();
                                   return Json::object();
                                 },
                                 false}));
  RRVM_TRY(table.add(CommandSpec{
      "query-migrate", {},
      [&manager](const Json&) -> Result<Json> { return migration_info(manager.query()); }, false}));
  RRVM_TRY(table.add(CommandSpec{
      "migrate-set-parameters",
      {ArgSpec{"downtime-limit", ArgType::Int, false}, ArgSpec{"max-bandwidth", ArgType::Int, false}},
      [&manager](const Json& args) -> Result<Json> {
        migration::MigrationParameters p = manager.parameters();
        if (args.contains("downtime-limit")) {
          int64_t v = args["downtime-limit"].get<int64_t>();
          if (v < 0) return make_error("Parameter 'downtime-limit' expects an integer in the range of 0 to 2000000 milliseconds");
          p.downtime_limit_ms = static_cast<uint64_t>(v);
        }
        if (args.contains("max-bandwidth")) {
          int64_t v = args["max-bandwidth"].get<int64_t>();
          if (v < 0) return make_error("Parameter 'max-bandwidth' expects a non-negative number of bytes per second");
          p.max_bandwidth = static_cast<uint64_t>(v);
        }
        RRVM_TRY(manager.set_parameters(p));
        return Json::object();
      },
      false}));
  RRVM_TRY(table.add(CommandSpec{"query-migrate-parameters", {},
                                 [&manager](const Json&) -> Result<Json> {
                                   auto p = manager.parameters();
                                   return Json{{"downtime-limit", p.downtime_limit_ms},
                                               {"max-bandwidth", p.max_bandwidth}};
                                 },
                                 false}));
  return ok_status();
}

}  // namespace rrvm::machine
