#include "trace/event_record.h"

#include <array>

namespace rrvm::trace {
namespace {

constexpr std::array<std::string_view, EVENT_TYPE_COUNT> EVENT_TYPE_NAMES = {
    "run-state", "notifier",    "msr",          "clock",        "kvmclock-ctrl",
    "tsc-read",  "tsc-khz",     "status-write", "device-reset", "device-backend",
    "exit",      "qmp-command", "qmp-reply",    "migration",    "snapshot-section",
    "mark",      "warning",     "hv-call",      "span-begin",   "span-end",
    "dropped",   "unknown",
};
static_assert(std::variant_size_v<EventBody> == EVENT_TYPE_COUNT);

}  // namespace

std::string_view event_type_name(EventType type) {
  auto i = static_cast<size_t>(type);
  return i < EVENT_TYPE_NAMES.size() ? EVENT_TYPE_NAMES[i] : "unknown";
}

EventType parse_event_type(std::string_view name) {
  for (size_t i = 0; i < EVENT_TYPE_NAMES.size(); ++i) {
    if (EVENT_TYPE_NAMES[i] == name) return static_cast<EventType>(i);
  }
  return EventType::Unknown;
}

int32_t event_vcpu(const EventRecord& event, int32_t thread_vcpu) {
  int32_t own = std::visit(
      [](const auto& e) -> int32_t {
        if constexpr (requires { e.vcpu; }) {
          return e.vcpu;
        } else {
          return -1;
        }
      },
      event.body);
  return own >= 0 ? own : thread_vcpu;
}

}  // namespace rrvm::trace
