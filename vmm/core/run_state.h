// The VM's run state: QEMU's 16 states (system/runstate.c) and its transition table.
//
// Every change goes through RunStateMachine::set(), which checks the table: setting the current
// state again is a no-op, an allowed change is recorded as a RunStateChange event, and anything
// else is refused (QEMU aborts; rrvm logs an error, records the attempt with accepted=false and
// returns an Error so the caller can report it without the VM going down).
#pragma once

#include <atomic>
#include <mutex>
#include <string_view>

#include "trace/events.h"
#include "vmm/base/result.h"

namespace rrvm::core {

using trace::RunState;

// True when `from -> to` is in QEMU's runstate_transitions_def table. A state to itself is not in
// the table (set() treats it as a no-op before asking).
bool run_state_transition_allowed(RunState from, RunState to);

class RunStateMachine {
 public:
  // QEMU starts in prelaunch; an incoming migration moves to inmigrate before anything runs.
  explicit RunStateMachine(RunState initial = RunState::Prelaunch) : state_(initial) {}
  RunStateMachine(const RunStateMachine&) = delete;
  RunStateMachine& operator=(const RunStateMachine&) = delete;

  // Thread-safe reads (vCPU threads, the monitor) without taking the setter's lock.
  RunState get() const { return state_.load(std::memory_order_acquire); }
  bool check(RunState s) const { return get() == s; }
  bool is_running() const { return check(RunState::Running); }
  // QEMU's runstate_is_live(): the guest's clock and vCPUs are live (running or suspended).
  bool is_live() const;
  // QEMU's runstate_needs_reset(): `cont` is refused until a system_reset.
  bool needs_reset() const;

  // QEMU's runstate_set(). `reason` says who asked ("qmp:stop", "guest debug-exit", ...).
  Status set(RunState to, std::string_view reason);

 private:
  std::mutex set_mu_;  // makes check-and-set atomic between concurrent setters
  std::atomic<RunState> state_;
};

}  // namespace rrvm::core
