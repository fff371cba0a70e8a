// Helpers for the snapshot and live-migration e2e tests: start a ticking source, migrate it and
// wait for the outcome, and check the source's completion sequence in its trace.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/e2e_test_support.h"

namespace rrvm::e2e {

// Runs `migrate` with `uri` and polls query-migrate until it leaves setup/active; returns the
// final query-migrate "return" object (null on a QMP failure).
nlohmann::json migrate_and_wait(QmpClient& qmp, const std::string& uri,
                                std::chrono::milliseconds timeout);

// The source's completion, in QEMU's order (backtraces/migration-completion-kvmclock-msrs.txt):
// finish-migrate, kvmclock notifier, a TSC read per vCPU, KVM_GET_CLOCK, FULL MSR get per vCPU,
// device sections, the second KVM_GET_CLOCK (kvmclock pre_save), postmigrate.
void expect_source_completion_sequence(const std::vector<TracedEvent>& ev);
// The target: inmigrate, section loads, FULL MSR put per vCPU, running, KVM_SET_CLOCK, one
// KVMCLOCK_CTRL per vCPU before any vCPU exit.
void expect_target_load_sequence(const std::vector<TracedEvent>& ev);

// The first tick the target should print after the source's console `source_console`: the one
// after the last complete tick line, or the one after that when the source stopped in the middle
// of printing a tick line (the counter was already incremented in the saved RAM).
bool is_continuation(const std::string& source_console, uint64_t first_target_tick);

}  // namespace rrvm::e2e
