// Human-readable names for the numbers that appear in traces and error messages: run states (QAPI
// names, as QEMU prints them), MSR indices, virtio device status bits and the small enums of
// trace/events.h.
//
// One place for these names: the VMM's error messages ("failed at MSR 0x6e0 (IA32_TSC_DEADLINE)"),
// `rrvm dump` and the replay reports all use these functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trace/events.h"

namespace rrvm::trace {

// QAPI name of a run state: "running", "finish-migrate", ... ("unknown" for a value outside the
// enum, which only a corrupt trace can hold).
std::string_view run_state_name(RunState state);
// Inverse of run_state_name(); nullopt for anything that is not exactly a QAPI name.
std::optional<RunState> parse_run_state(std::string_view name);

// Name of an MSR as Linux's msr-index.h / QEMU spell it: "IA32_TSC_DEADLINE",
// "MSR_KVM_SYSTEM_TIME_NEW", "IA32_MTRR_PHYSBASE3", "IA32_MC2_STATUS". Empty for an index rrvm
// does not know.
std::string msr_name(uint32_t index);
// "0x6e0 (IA32_TSC_DEADLINE)", or just "0x6e1" when the name is unknown: the form error messages
// use.
std::string msr_describe(uint32_t index);

// Virtio device status (virtio 1.x, 2.1) as bit names in bit order: 11 ->
// "ACKNOWLEDGE|DRIVER|FEATURES_OK"; 0 -> "0" (reset); bits without a name are appended in hex
// ("DRIVER|0x20").
std::string virtio_status_bits(uint32_t status);

// Names of the small enums (lower case, as `rrvm dump` prints them; "unknown" outside the enum).
std::string_view exit_kind_name(ExitKind kind);
std::string_view sync_level_name(SyncLevel level);            // "none", "runtime", "reset", "full"
std::string_view msr_op_name(MsrOp op);                       // "get", "put"
std::string_view clock_op_name(ClockOp op);                   // "get", "set"
std::string_view notifier_phase_name(NotifierPhase phase);    // "prepare", "main"
std::string_view status_source_name(StatusSource source);     // "guest", "vmm", "restore"
std::string_view backend_op_name(BackendOp op);               // "start", "stop"
std::string_view migration_phase_name(MigrationPhase phase);  // "setup", ..., "load-done"
std::string_view section_op_name(SectionOp op);               // "save", "load"

// KVM_CLOCK_* flags as names: "TSC_STABLE|REALTIME|HOST_TSC" ("0" for none).
std::string clock_flags_name(uint32_t flags);

}  // namespace rrvm::trace
