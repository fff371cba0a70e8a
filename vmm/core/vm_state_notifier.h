// VM state change notifiers: QEMU's vm_state_notify() (system/runstate.c).
//
// Components that must act when the VM starts or stops (kvmclock, device backends, per-vCPU TSC
// caches) register a handler with a priority (default 0) and an optional `prepare` callback.
// Ordering invariants, as in QEMU:
//   - handlers are kept sorted by ascending priority; equal priorities keep registration order;
//   - start (running=true): every prepare callback, then every main callback, ascending;
//   - stop (running=false): both passes in descending priority (exactly the reverse list).
// Each call is recorded as a NotifierCall event inside a span named after the handler, itself
// inside a "vm_state_notify" span, so the trace reads like QEMU's backtraces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "trace/events.h"

namespace rrvm::core {

using trace::RunState;

class VmStateNotifiers {
 public:
  using Callback = std::function<void(bool running, RunState state)>;
  using Id = uint64_t;

  // `name` appears in the trace (NotifierCall.handler and the span), e.g. "kvmclock".
  // `prepare` may be empty. Returns an id for remove().
  Id add(std::string name, Callback main, int priority = 0, Callback prepare = {});
  // Removing an unknown id is a bug (RRVM_CHECK).
  void remove(Id id);
  size_t size() const;

  // Calls every handler in the order above, on the calling thread. Handlers may add or remove
  // handlers (the pass works on a snapshot taken when it starts) and may block, e.g. on
  // run_on_cpu: no lock is held while a callback runs.
  void notify(bool running, RunState state);

 private:
  struct Handler {
    Id id;
    std::string name;
    std::string prepare_span;  // "<name> prepare"
    int priority;
    Callback prepare;
    Callback main;
  };
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const Handler>> handlers_;  // ascending priority, stable
  Id next_id_ = 1;
};

}  // namespace rrvm::core
