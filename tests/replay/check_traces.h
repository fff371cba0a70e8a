// Synthetic traces for the checker's tests: a recording of the events a correct rrvm run emits in
// QEMU's order, variations of it that break one rule each, and a raw writer for traces the
// Recorder cannot produce (times running backwards, broken spans).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trace/event_record.h"
#include "trace/recorder.h"
#include "vmm/base/result.h"

namespace rrvm::replay::testing {

// A header like an rrvm run's on a host with KVM_CAP_KVMCLOCK_CTRL and a TSC-stable clock
// (cap names as vmm/hv/kvm/kvm_info.cc writes them), 2 vCPUs.
trace::Header kvm_header(int64_t kvmclock_ctrl_cap = 1);

// Records `body` on a thread named "main" (it may start vCPU threads) and closes the trace.
Status record_trace(const std::string& path, const std::function<void()>& body,
                    const trace::Header& header = kvm_header(), size_t chunk_bytes = 256 * 1024);

// What a correct run emits, with its spans: boot (prelaunch -> running), exits on both vCPUs,
// stop/cont over QMP (kvmclock's TSC reads, KVM_GET_CLOCK, KVM_SET_CLOCK of the same value,
// KVMCLOCK_CTRL per vCPU on its own thread, the first with EINVAL), a refused transition, a
// migration to a file (finish-migrate, pre_save's second KVM_GET_CLOCK, postmigrate), cont on the
// source, and quit (running -> shutdown).
void legit_run();

// Pieces of legit_run() for tests to assemble their own sequences (all emitted on the calling
// thread; `vcpu_exit` on vCPU `vcpu` with port `port`, so each can be found again).
void change(trace::RunState from, trace::RunState to, bool accepted = true);
void clock_get(uint64_t ns, bool tsc_stable = true);
void clock_set(uint64_t ns);
void ctrl(int32_t vcpu, int32_t err = 0);
void vcpu_exit(int32_t vcpu, uint64_t port);

// The seq of the first event whose type is `type` (as dump names it) and whose fields contain
// `fields`; fails the calling test and returns UINT64_MAX when there is none.
uint64_t seq_of(const std::string& path, std::string_view type, std::string_view fields);

// Writes a complete trace holding exactly `events` (any seq, time, thread and span), each in its
// own batch, with threads 0 "main" and 1 "vcpu0". With `footer` false the file ends after the
// chunk, as when the recorder died (a footer's index requires consecutive seqs from 0).
Status write_raw_trace(const std::string& path, const std::vector<trace::EventRecord>& events,
                       bool footer = true);

}  // namespace rrvm::replay::testing
