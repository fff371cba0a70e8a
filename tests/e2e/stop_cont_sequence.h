// The trace of a QMP stop and cont, in QEMU's order (qemu-semantics.md, "kvmclock"): shared by
// the e2e stop/cont test (real KVM) and the machine tests on the in-memory hypervisor.
#pragma once

#include <vector>

#include "tests/e2e/trace_events.h"

namespace rrvm::e2e {

// Checks one stop at or after `from` ("running -> paused"): the kvmclock notifier, a TSC read on
// every vCPU thread, then KVM_GET_CLOCK, under the stop's spans. Returns the position after the
// stop's events, or -1 (with the test failed) when one is missing.
long expect_stop_sequence(const std::vector<TracedEvent>& ev, long from);

// Checks one cont at or after `from`: KVM_SET_CLOCK, then one KVMCLOCK_CTRL per vCPU (2), and no
// vCPU exit between the run-state change and the last KVMCLOCK_CTRL (no vCPU ran before its clock
// was marked stopped). Returns the position after the last KVMCLOCK_CTRL, or -1.
long expect_cont_sequence(const std::vector<TracedEvent>& ev, long from);

}  // namespace rrvm::e2e
