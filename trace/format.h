// Text forms of events, as `rrvm dump` prints them and as error and divergence reports quote them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trace/event_record.h"

namespace rrvm::trace {

// The event's fields with decoded names, e.g. for a run-state change
// `running -> paused reason="qmp:stop"`, for an MSR get
// `get vcpu=0 level=full processed=2/2 IA32_TSC(0x10)=0x4d2 IA32_TSC_DEADLINE(0x6e0)=0x0`.
std::string format_fields(const EventRecord& event);

// Seconds since the trace started, with ns precision: "1.234567890" ("-0.000000100" before it).
std::string format_time(uint64_t time_ns, uint64_t start_ns);

// One event as `rrvm dump` prints it (without the newline): seq, time since `start_ns`, thread
// name, type name and fields, e.g.
// `       2 0.006347641 main       run-state      running -> paused reason="qmp:stop"`.
std::string format_event_line(const EventRecord& event, std::string_view thread, uint64_t start_ns);

// A string in double quotes with C escapes for quotes, backslashes and non-printable bytes.
std::string quoted(std::string_view s);

// "EINVAL" for 22, "0" for 0, "errno 4095" for unknown values.
std::string errno_name(int32_t err);

// A position in a trace as a user writes it: a sequence number ("120") or a time since the start
// with a unit ("1.5s", "250ms", "10us", "800ns").
struct TracePoint {
  bool is_time = false;
  uint64_t value = 0;  // seq, or ns since the start
};
std::optional<TracePoint> parse_trace_point(std::string_view text);

}  // namespace rrvm::trace
