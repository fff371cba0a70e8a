// Helpers for the snapshot and live-migration e2e tests: start a ticking source, migrate it and
// wait for the outcome, and check the source's completion sequence in its trace.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/e2e_test_support.h"

namespace rrvm::e2e {

// Polls query-migrate until the migration leaves setup/active/device/cancelling; returns the last
// query-migrate "return" object (null on a QMP failure).
nlohmann::json wait_migration_end(QmpClient& qmp, std::chrono::milliseconds timeout);
// Runs `migrate` with `uri`, then wait_migration_end.
nlohmann::json migrate_and_wait(QmpClient& qmp, const std::string& uri,
                                std::chrono::milliseconds timeout);

// Migrates to `uri` so that precopy iterates: bandwidth-limited at first (a RAM pass then lasts
// longer than the guest needs to dirty pages again) with a 1 ms downtime limit the pending working
// set cannot meet; once query-migrate counts 3 dirty syncs the limits are lifted and the migration
// converges. Returns wait_migration_end's result.
nlohmann::json migrate_iterating(QmpClient& qmp, const std::string& uri);

// Pages sent by each RAM pass of a source's trace (MigrationEvent "iteration"), in order: the
// first full pass, the passes of dirty pages while the guest ran, the pass in the downtime.
std::vector<uint64_t> iteration_pages(const std::vector<TracedEvent>& ev);

// The source's completion, in QEMU's order (backtraces/migration-completion-kvmclock-msrs.txt):
// finish-migrate, kvmclock notifier, a TSC read per vCPU, KVM_GET_CLOCK, FULL MSR get per vCPU,
// device sections, the second KVM_GET_CLOCK (kvmclock pre_save), postmigrate.
void expect_source_completion_sequence(const std::vector<TracedEvent>& ev);
// The target: inmigrate, section loads, FULL MSR put per vCPU, running (at once, or paused
// until a `cont` without autostart), KVM_SET_CLOCK, one KVMCLOCK_CTRL per vCPU before any vCPU
// exit.
void expect_target_load_sequence(const std::vector<TracedEvent>& ev);

// The disk image handover (QEMU's bdrv_inactivate_all / bdrv_activate_all): the source released
// virtio-blk0's lock after its device sections and before postmigrate, under bdrv_inactivate_all;
// the target took it after its last section load and before the VM ran. Pass null `target` for a
// snapshot to a file whose restore is checked elsewhere.
void expect_disk_handover(const std::vector<TracedEvent>& source,
                          const std::vector<TracedEvent>* target);

// The first tick the target should print after the source's console `source_console`: the one
// after the last complete tick line, or the one after that when the source stopped in the middle
// of printing a tick line (the counter was already incremented in the saved RAM).
bool is_continuation(const std::string& source_console, uint64_t first_target_tick);

// The busy guest of issue 5: while it ticks (every 50 ms) it dirties DIRTY_MIB of RAM and, with a
// disk, writes, flushes and reads back a tick record per tick (docs/guest.md, "Work done every
// tick"); virtio-rng runs once before the ticks. rrvm gives it 2 vCPUs.
inline constexpr uint64_t DIRTY_MIB = 8;
inline constexpr uint64_t DIRTY_PAGES = DIRTY_MIB * 256;
inline constexpr uint64_t TICK_DISK_SECTORS = 4096;  // ring size: never wraps in these tests
// A zeroed image of TICK_DISK_SECTORS sectors at DIR/disk.img; returns its path.
std::string make_tick_disk(const TempDir& dir);
// rrvm run arguments for the busy guest: `--rng --append ...`, plus `--disk DISK` unless empty.
std::vector<std::string> busy_guest_args(const std::string& disk);

// Ticks whose work completed (`tick-work <n> ...` lines, complete ones only), in console order.
std::vector<uint64_t> parse_tick_work(const std::string& console);

// The first tick line after the console's `pvclock guest-stopped` line: the first tick whose
// stop check ran on the side that resumed the guest (0 when there is none).
uint64_t first_tick_after_stop(const std::string& console);

// The console of the side that resumed the guest holds exactly one `dirty-ram verified` line,
// for the tick whose words the source wrote last (the source's last tick-work, or the one after
// when it stopped between the RAM and the console line): every page survived the transfer.
void expect_dirty_ram_verified(const std::string& target_console, uint64_t source_last_work);

// The image holds tick n's record in sector n for n = 1..last_tick, each with the right magic,
// fill and checksum, kvmclock rising from sector to sector (across the migration too). Records
// up to the source's last completed tick say no stop was seen (count 0); from the target's
// first_tick_after_stop on they say one was (count 1): both sides wrote, in order.
void expect_tick_records(const std::string& image, uint64_t last_tick, uint64_t source_last_work,
                         uint64_t target_checked_tick);

}  // namespace rrvm::e2e
