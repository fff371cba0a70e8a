// One event as the trace holds it: the common fields every event carries plus its body, which is
// one of the structs of trace/events.h (or a span or drop record). The reader produces these; the
// recorder's writer thread consumes the same shapes from its per-thread buffers.
//
// Views (string_view, span) inside a body point into storage owned by whoever produced the record
// (the reader's current chunk); they stay valid until that producer moves on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "trace/events.h"
#include "trace/span.h"

namespace rrvm::trace {

// The kind of an event. The numbering follows the Event union of trace/schema/trace.capnp.
enum class EventType : uint16_t {
  RunStateChange = 0,
  NotifierCall,
  MsrAccess,
  ClockAccess,
  KvmclockCtrl,
  TscRead,
  TscKhz,
  DeviceStatusWrite,
  DeviceReset,
  DeviceBackend,
  VcpuExit,
  MonitorCommand,
  MonitorReply,
  MigrationEvent,
  SnapshotSection,
  UserMark,
  Warning,
  HvCall,
  SpanBegin,
  SpanEnd,
  Dropped,
  Unknown,  // a union member this rrvm does not know (a newer minor format)
};
inline constexpr int EVENT_TYPE_COUNT = static_cast<int>(EventType::Unknown) + 1;

// "run-state", "msr", "exit", ...: the names `rrvm dump --type` accepts and prints.
std::string_view event_type_name(EventType type);
// Inverse of event_type_name(); Unknown for a name that is not one.
EventType parse_event_type(std::string_view name);

// Span bodies: the span's own id is the event's `span` field.
struct SpanBegin {
  SpanId parent;
  std::string_view name;
};
struct SpanEnd {};

// Events the emitting thread could not record (its buffer was full) since its previous event.
struct Dropped {
  uint64_t count;
};

using EventBody =
    std::variant<RunStateChange, NotifierCall, MsrAccess, ClockAccess, KvmclockCtrl, TscRead,
                 TscKhz, DeviceStatusWrite, DeviceReset, DeviceBackend, VcpuExit, MonitorCommand,
                 MonitorReply, MigrationEvent, SnapshotSection, UserMark, Warning, HvCall,
                 SpanBegin, SpanEnd, Dropped, std::monostate>;

// The variant's alternatives are in EventType order, so type() is just the index.
struct EventRecord {
  uint64_t seq = 0;
  uint64_t time_ns = 0;  // CLOCK_MONOTONIC
  uint16_t thread = 0;   // ThreadInfo::id
  SpanId span = 0;
  EventBody body = std::monostate{};

  EventType type() const { return static_cast<EventType>(body.index()); }
};

// A thread as the trace declares it.
struct ThreadInfo {
  uint16_t id = 0;
  std::string name;
  int32_t vcpu = -1;
  int32_t tid = 0;
};

// The vCPU an event concerns: its own vcpu field where it has one, else the emitting thread's
// vCPU (thread_vcpu, -1 for a non-vCPU thread).
int32_t event_vcpu(const EventRecord& event, int32_t thread_vcpu);

}  // namespace rrvm::trace
