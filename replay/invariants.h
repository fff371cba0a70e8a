// The invariants `rrvm check` holds a recorded trace to: what rrvm's own logic (QEMU's, see
// ../shared/reference/qemu-semantics.md) must have produced, checked event by event in sequence
// order. Each rule names the event that breaks it and says what was expected and what was seen.
//
// run-state (run_state_rule.h)
//   The replayed machine starts in prelaunch. Every RunStateChange must start from the replayed
//   state (set() reads it as `from`) and must not be a change to the same state (set() records
//   none). An accepted change must be allowed by core::run_state_transition_allowed (QEMU's
//   table) and moves the replayed state to `to`; a refused one (accepted=false) must be one the
//   table forbids, and leaves the state alone.
//
// clock-monotonic (clock_rule.h)
//   Over the successful ClockAccess events (err == 0; a failed ioctl's value means nothing):
//   - a get (KVM_GET_CLOCK) reads at least the clock_ns of the previous get or set, whichever
//     came last: KVM's clock only runs forward from the last value it was seen to have;
//   - a set (KVM_SET_CLOCK) writes at least the clock_ns of the last get before it when that get
//     was reliable: its flags have KVM_CLOCK_TSC_STABLE and the header's ADJUST_CLOCK cap offers
//     that flag (or the header does not list the cap). kvmclock's start then writes back exactly
//     what its stop or pre_save read (more with clock_advance). After an unreliable read it
//     recomputes the clock from the guest's pvclock page, which may legitimately be lower.
//
// kvmclock-ctrl-before-run (kvmclock_ctrl_rule.h)
//   Checked when the header says the host had KVM_CAP_KVMCLOCK_CTRL (rrvm issues none without).
//   The clock is "saved" by a successful get (kvmclock's stop, pre_save) or a successful load of
//   the "kvmclock" snapshot section (incoming migration, restore) and unsaved by the next
//   accepted change to running. After an accepted change to running made while saved, each vCPU
//   needs a KvmclockCtrl event for it (any err: EINVAL is a guest that never enabled kvmclock)
//   before its first run: a VcpuExit of that vCPU, or an HvCall "KVM_RUN" of it (a run that
//   failed). An accepted change away from running ends the obligation (vCPUs that did not run
//   owe nothing). One violation per vCPU and start. A first start from prelaunch has no saved
//   clock and is not checked: the guest has not run, so it has nothing to be told.
//
// order (order_rule.h)
//   seq strictly increases (trace::Reader already refuses a file where it does not, as a corrupt
//   chunk) and time never decreases. Spans, with ids (thread + 1) << 40 | n counting n = 1, 2...
//   per thread: a span is begun once, by its own thread, with ids in order; ended once, by its own
//   thread, after its begin; an event's span (its thread's innermost open span) is open and its
//   own thread's; a span-begin's parent (possibly another thread's, possibly ended) was begun
//   before it. Spans still open at the end are fine (the recorder closed around them).
//
// Dropped events: the recorder counts events it could not buffer and records `dropped` events. The
// checker cannot tell a dropped event from a missing one; findings after a drop say so.
#pragma once

#include <memory>
#include <vector>

#include "replay/rule.h"
#include "trace/capnp_codec.h"

namespace rrvm::replay {

// Every rule above, in the order they are listed, set up for a trace with this header.
std::vector<std::unique_ptr<Rule>> make_rules(const trace::TraceHeader& header);

}  // namespace rrvm::replay
