#include "vmm/core/run_state.h"

#include <array>
#include <string>
#include <utility>

#include "trace/names.h"
#include "trace/recorder.h"
#include "vmm/base/log.h"

namespace rrvm::core {
namespace {

using S = RunState;

// QEMU's runstate_transitions_def (system/runstate.c), grouped by `from` state in QEMU's order so
// that the two can be compared line by line. Anything missing here is refused.
constexpr std::pair<S, S> TRANSITIONS[] = {
    {S::Prelaunch, S::InMigrate},
    {S::Prelaunch, S::Suspended},
    {S::Prelaunch, S::Running},
    {S::Prelaunch, S::FinishMigrate},

    {S::Debug, S::Running},
    {S::Debug, S::FinishMigrate},
    {S::Debug, S::Prelaunch},
    {S::Debug, S::Suspended},

    {S::InMigrate, S::InternalError},
    {S::InMigrate, S::IoError},
    {S::InMigrate, S::Paused},
    {S::InMigrate, S::Running},
    {S::InMigrate, S::Shutdown},
    {S::InMigrate, S::Suspended},
    {S::InMigrate, S::Watchdog},
    {S::InMigrate, S::GuestPanicked},
    {S::InMigrate, S::FinishMigrate},
    {S::InMigrate, S::Prelaunch},
    {S::InMigrate, S::PostMigrate},
    {S::InMigrate, S::Colo},

    {S::InternalError, S::Paused},
    {S::InternalError, S::FinishMigrate},
    {S::InternalError, S::Prelaunch},

    {S::IoError, S::Running},
    {S::IoError, S::FinishMigrate},
    {S::IoError, S::Prelaunch},

    {S::Paused, S::Running},
    {S::Paused, S::FinishMigrate},
    {S::Paused, S::PostMigrate},
    {S::Paused, S::Prelaunch},
    {S::Paused, S::Colo},
    {S::Paused, S::Suspended},

    {S::PostMigrate, S::Running},
    {S::PostMigrate, S::FinishMigrate},
    {S::PostMigrate, S::Prelaunch},

    {S::FinishMigrate, S::Running},
    {S::FinishMigrate, S::Paused},
    {S::FinishMigrate, S::PostMigrate},
    {S::FinishMigrate, S::Prelaunch},
    {S::FinishMigrate, S::Colo},
    {S::FinishMigrate, S::InternalError},
    {S::FinishMigrate, S::IoError},
    {S::FinishMigrate, S::Shutdown},
    {S::FinishMigrate, S::Suspended},
    {S::FinishMigrate, S::Watchdog},
    {S::FinishMigrate, S::GuestPanicked},

    {S::RestoreVm, S::Running},
    {S::RestoreVm, S::Prelaunch},
    {S::RestoreVm, S::Suspended},

    {S::Colo, S::Running},
    {S::Colo, S::Prelaunch},
    {S::Colo, S::Shutdown},

    {S::Running, S::Debug},
    {S::Running, S::InternalError},
    {S::Running, S::IoError},
    {S::Running, S::Paused},
    {S::Running, S::FinishMigrate},
    {S::Running, S::RestoreVm},
    {S::Running, S::SaveVm},
    {S::Running, S::Shutdown},
    {S::Running, S::Watchdog},
    {S::Running, S::GuestPanicked},
    {S::Running, S::Colo},
    {S::Running, S::Suspended},

    {S::SaveVm, S::Running},
    {S::SaveVm, S::Suspended},

    {S::Shutdown, S::Paused},
    {S::Shutdown, S::FinishMigrate},
    {S::Shutdown, S::Prelaunch},
    {S::Shutdown, S::Colo},

    {S::Suspended, S::Running},
    {S::Suspended, S::FinishMigrate},
    {S::Suspended, S::Prelaunch},
    {S::Suspended, S::Colo},
    {S::Suspended, S::Paused},
    {S::Suspended, S::SaveVm},
    {S::Suspended, S::RestoreVm},
    {S::Suspended, S::Shutdown},

    {S::Watchdog, S::Running},
    {S::Watchdog, S::FinishMigrate},
    {S::Watchdog, S::Prelaunch},
    {S::Watchdog, S::Colo},

    {S::GuestPanicked, S::Running},
    {S::GuestPanicked, S::FinishMigrate},
    {S::GuestPanicked, S::Prelaunch},
};

using Table = std::array<std::array<bool, trace::RUN_STATE_COUNT>, trace::RUN_STATE_COUNT>;

constexpr Table build_table() {
  Table t{};
  for (const auto& [from, to] : TRANSITIONS) {
    t[static_cast<size_t>(from)][static_cast<size_t>(to)] = true;
  }
  return t;
}

constexpr Table TABLE = build_table();

bool in_range(RunState s) { return static_cast<int>(s) < trace::RUN_STATE_COUNT; }

}  // namespace

bool run_state_transition_allowed(RunState from, RunState to) {
  if (!in_range(from) || !in_range(to)) return false;
  return TABLE[static_cast<size_t>(from)][static_cast<size_t>(to)];
}

bool RunStateMachine::is_live() const {
  RunState s = get();
  return s == RunState::Running || s == RunState::Suspended;
}

bool RunStateMachine::needs_reset() const {
  RunState s = get();
  return s == RunState::InternalError || s == RunState::Shutdown;
}

Status RunStateMachine::set(RunState to, std::string_view reason) {
  std::lock_guard lock(set_mu_);
  RunState from = state_.load(std::memory_order_relaxed);
  if (from == to) return ok_status();  // QEMU: "if (current_run_state == new_state) return;"
  bool allowed = run_state_transition_allowed(from, to);
  // Recorded before the state is published, so a later event that observed the new state can
  // never precede this one in the trace.
  trace::emit(trace::RunStateChange{from, to, reason, allowed});
  if (!allowed) {
    std::string msg = "run state: invalid transition " + std::string(trace::run_state_name(from)) +
                      " -> " + std::string(trace::run_state_name(to)) + " (" + std::string(reason) +
                      ")";
    spdlog::error("{}", msg);
    return make_error(msg);
  }
  state_.store(to, std::memory_order_release);
  return ok_status();
}

}  // namespace rrvm::core
