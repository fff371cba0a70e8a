// The trace event vocabulary, as the C++ structs that emitting code fills in.
//
// These mirror the Cap'n Proto schema (trace/schema/trace.capnp), which is the on-disk format and
// the authority on field meanings. Emitting code never touches Cap'n Proto: it fills one of these
// structs and calls trace::emit(); the recorder copies a compact record into a per-thread buffer
// and a background thread encodes and compresses it.
//
// Strings and arrays are views: they only need to live until emit() returns.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace rrvm::trace {

// QEMU's run states (QAPI names in run_state_name()). Numbering is part of the trace format.
enum class RunState : uint8_t {
  Debug = 0,
  InMigrate,
  InternalError,
  IoError,
  Paused,
  PostMigrate,
  Prelaunch,
  FinishMigrate,
  RestoreVm,
  Running,
  SaveVm,
  Shutdown,
  Suspended,
  Watchdog,
  GuestPanicked,
  Colo,
};
inline constexpr int RUN_STATE_COUNT = 16;

// QEMU's KVM_PUT_*_STATE levels; None for accesses outside a cpu_sync (e.g. a TSC read).
enum class SyncLevel : uint8_t { None = 0, Runtime = 1, Reset = 2, Full = 3 };

enum class MsrOp : uint8_t { Get, Put };
enum class ClockOp : uint8_t { Get, Set };
enum class NotifierPhase : uint8_t { Prepare, Main };
// Who wrote a device status: the guest (through its transport), or rrvm itself (reset on
// poweroff, re-applying status around stop/resume as QEMU does, restore from a snapshot).
enum class StatusSource : uint8_t { Guest, Vmm, Restore };
enum class BackendOp : uint8_t { Start, Stop };
enum class MigrationPhase : uint8_t {
  Setup,
  Iteration,
  Completion,
  Completed,
  Failed,
  Cancelled,
  LoadStart,
  LoadDone
};
enum class SectionOp : uint8_t { Save, Load };

enum class ExitKind : uint8_t {
  Io,
  Mmio,
  Hlt,
  Shutdown,
  InternalError,
  FailEntry,
  SystemEvent,
  Interrupted,
  DebugExit,
  Other
};

struct MsrEntry {
  uint32_t index;
  uint64_t value;
};

// --- events ---------------------------------------------------------------------------------

struct RunStateChange {
  RunState from;
  RunState to;
  std::string_view reason;  // e.g. "qmp:stop", "migration completion", "guest debug-exit"
  bool accepted;            // false: an illegal transition that was refused
};

struct NotifierCall {
  std::string_view handler;  // e.g. "kvmclock", "virtio-blk0"
  int32_t priority;
  NotifierPhase phase;
  bool running;
  RunState state;
};

struct MsrAccess {
  int32_t vcpu;
  MsrOp op;
  SyncLevel level;
  std::span<const MsrEntry> entries;  // values after a get; values written for a put
  uint32_t requested;
  uint32_t processed;  // KVM's return: fewer than requested means entries[processed] failed
  int32_t err;         // errno of the ioctl, 0 on success
};

struct ClockAccess {
  ClockOp op;
  uint64_t clock_ns;
  uint32_t flags;        // KVM_CLOCK_* flags as KVM reported or was given them
  uint64_t host_tsc;     // valid when flags has KVM_CLOCK_HOST_TSC
  uint64_t realtime_ns;  // valid when flags has KVM_CLOCK_REALTIME
  int32_t err;
};

struct KvmclockCtrl {
  int32_t vcpu;
  int32_t err;  // EINVAL means the guest has not enabled kvmclock (ignored, as QEMU does)
};

struct TscRead {
  int32_t vcpu;
  uint64_t tsc;
};

struct TscKhz {
  int32_t vcpu;
  bool set;  // false: a get
  uint32_t khz;
  int32_t err;
};

struct DeviceStatusWrite {
  std::string_view device;     // "virtio-blk0"
  std::string_view transport;  // "virtio-mmio@0xd0000000"
  uint32_t old_status;
  uint32_t new_status;
  StatusSource source;
  bool accepted;
  std::string_view reason;  // why it was refused, or what it caused ("activated")
};

struct DeviceReset {
  std::string_view device;
  std::string_view reason;
};

struct DeviceBackend {
  std::string_view device;
  BackendOp op;
  std::string_view reason;
};

struct VcpuExit {
  int32_t vcpu;
  ExitKind kind;
  uint64_t address;  // port for Io, guest physical address for Mmio
  uint32_t size;     // access size in bytes
  bool is_write;
  std::span<const uint8_t> data;  // bytes written by the guest, or returned to it for a read
  uint32_t detail;                // internal-error suberror, system-event type, raw exit reason
};

struct MonitorCommand {
  std::string_view json;
};

struct MonitorReply {
  std::string_view json;
};

struct MigrationEvent {
  MigrationPhase phase;
  uint32_t iteration;
  uint64_t dirty_pages;
  uint64_t bytes;
  uint64_t downtime_ns;
  std::string_view detail;  // error text for Failed, uri for Setup
};

struct SnapshotSection {
  SectionOp op;
  std::string_view device;
  uint64_t bytes;
  uint64_t checksum;
  bool ok;
  std::string_view error;
};

struct UserMark {
  std::string_view text;
};

struct Warning {
  std::string_view component;
  std::string_view text;
};

// A hypervisor call not covered by a more specific event (set regs, set lapic, create vcpu...).
// Records what was asked, what KVM answered and, for gets, the bytes it returned, so replay can
// serve the same answer.
struct HvCall {
  int32_t vcpu;           // -1 for VM-wide calls
  std::string_view name;  // ioctl name, e.g. "KVM_SET_REGS"
  int64_t result;
  int32_t err;
  std::span<const uint8_t> payload;
};

}  // namespace rrvm::trace
