// QMP's migration commands on the command table, as QEMU spells them:
//   migrate {"uri"}                 start an outgoing migration or a snapshot to file:PATH
//   migrate-incoming {"uri"}        listen for an incoming migration (a VM started --incoming)
//   migrate_cancel                  cancel the running migration (the source goes on running)
//   query-migrate                   status, times, RAM counters (QEMU's MigrationInfo)
//   migrate-set-parameters          {"downtime-limit": ms, "max-bandwidth": bytes/s}
//   query-migrate-parameters
// MIGRATION events are sent by the machine from the manager's status callback.
#pragma once

#include "vmm/migration/manager.h"
#include "vmm/monitor/command_table.h"

namespace rrvm::machine {

Status register_migration_commands(monitor::CommandTable& table,
                                   migration::MigrationManager& manager);

// QEMU's MigrationInfo for query-migrate.
monitor::Json migration_info(const migration::MigrationStats& stats);

}  // namespace rrvm::machine
